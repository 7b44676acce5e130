"""The local hub server: olah, a third-party Hub-compatible server, run offline over a hub
directory of git + git-lfs repositories (``zoo.hub.git_publisher`` writes them)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from zoo.errors import DependencyError, HubError, UsageError
from zoo.hub import olah_patch
from zoo.hub.git_publisher import MODELS, require_git_lfs


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _olah_command() -> list[str]:
    """olah, started through zoo's streaming patch; refuses an olah the patch does not fit."""
    try:
        import olah.server  # noqa: F401
    except ImportError:
        raise DependencyError("olah is not installed; it serves the local hub", hint="Install it with: pip install 'zoo[hub]'.") from None
    try:
        olah_patch.check()
    except olah_patch.OlahPatchError as exc:
        raise DependencyError(str(exc), hint=f"Install the olah zoo was tested with: pip install 'olah=={olah_patch.EXPECTED_OLAH_VERSION}'.") from None
    return [sys.executable, "-m", "zoo.hub.olah_patch"]


_OLAH_TOML = """[basic]
host = "{host}"
port = {port}
repos-path = "{cache}"
mirrors-path = ["{mirrors}"]
mirror-scheme = "http"
mirror-netloc = "{netloc}"
mirror-lfs-netloc = "{netloc}"
metadata-cache-ttl = 0

[accessibility]
offline = true
"""


def check_token_file(path: Path) -> Path:
    """A token file the server may use (``olah_patch.read_token_file``'s rules: private to its
    owner, one token, no whitespace), checked before the server starts. The token itself is
    never put into a message."""
    path = Path(path)
    try:
        olah_patch.read_token_file(str(path))
    except OSError as exc:
        raise UsageError(f"cannot read the token file {path} ({exc.strerror})") from None
    except olah_patch.OlahPatchError as exc:
        raise UsageError(str(exc), hint=f"Make it private (chmod 600 {path}) and put one token in it, on one line.") from None
    return path


class HubServer:
    """A running olah process over a hub directory. Use as a context manager.

    It binds to 127.0.0.1 unless ``host`` says otherwise; a host other than loopback
    needs ``token_file``: every request must then carry ``Authorization: Bearer <token>``
    (what huggingface_hub sends from HF_TOKEN). Writes stay filesystem-only."""

    def __init__(self, hub_dir: Path, port: int | None = None, *, host: str = "127.0.0.1", token_file: Path | None = None):
        if host not in LOOPBACK and token_file is None:
            raise UsageError(
                f"serving on {host} would let anyone who reaches it read every model",
                hint="Give a read token with `token_file` (a file holding one token, chmod 600), or serve on 127.0.0.1.",
            )
        self.hub_dir = Path(hub_dir).resolve()
        self.host = host
        self.port = port or free_port(host if host not in ("0.0.0.0", "::") else "127.0.0.1")
        self.token_file = check_token_file(token_file) if token_file is not None else None
        connect = "127.0.0.1" if host in ("0.0.0.0", "localhost") else host
        self.endpoint = f"http://{connect}:{self.port}"
        self._proc: subprocess.Popen | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None

    def start(self, timeout: float = 30.0) -> "HubServer":
        check_hub_dir(self.hub_dir)
        require_git_lfs()
        command = _olah_command()
        with socket.socket() as s:
            try:
                s.bind((self.host, self.port))
            except OSError:
                raise UsageError(f"port {self.port} is already in use on {self.host}", hint="Pick another `port`, or leave it out for a free one.") from None
        self._tmp = tempfile.TemporaryDirectory(prefix="zoo-olah-")
        tmp = Path(self._tmp.name)
        config = tmp / "olah.toml"
        netloc = self.endpoint.removeprefix("http://")
        config.write_text(_OLAH_TOML.format(host=self.host, port=self.port, cache=tmp / "cache", mirrors=self.hub_dir, netloc=netloc))
        # olah tries huggingface.co on a few routes even offline: send those nowhere.
        env = {**os.environ, "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "ALL_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}
        env.pop("ZOO_HUB_TOKEN_FILE", None)
        if self.token_file is not None:
            env["ZOO_HUB_TOKEN_FILE"] = str(self.token_file.resolve())  # a path: the token is in no argv or env
        self._log = open(tmp / "olah.log", "wb")
        self._proc = subprocess.Popen([*command, "-c", str(config)], cwd=tmp, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        """Ready once olah answers HTTP at all (any status: a token may be required)."""
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise HubError(f"olah exited with code {self._proc.returncode} before it was ready:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/api/models/zoo-ready/probe/revision/main", timeout=1):
                    return
            except urllib.error.HTTPError:
                return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise HubError(f"olah did not become ready within {timeout:.0f} s")

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def requests(self) -> list[tuple[str, str, int]]:
        """Every HTTP request olah has answered so far, as (method, path, status), from its access log."""
        if self._tmp is None:
            return []
        text = (Path(self._tmp.name) / "olah.log").read_text(errors="replace")
        return [(m, p, int(c)) for m, p, c in re.findall(r'"([A-Z]+) (\S+) HTTP/[\d.]+" (\d{3})', text)]

    def log_tail(self, n: int = 20) -> str:
        if self._tmp is None:
            return ""
        lines = (Path(self._tmp.name) / "olah.log").read_text(errors="replace").splitlines()
        return "\n".join(lines[-n:])

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        if self._tmp is not None:
            self._log.close()
            self._tmp.cleanup()
            self._tmp = None

    def serve_until_stopped(self, on_ready: Callable[["HubServer"], None] | None = None) -> None:
        """Start, call ``on_ready``, and serve until Ctrl-C or SIGTERM (then stop olah too);
        raise ``HubError`` if olah dies on its own."""

        def stop(*_: object) -> None:
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, stop)
        try:
            with self:
                if on_ready is not None:
                    on_ready(self)
                while self.alive:
                    time.sleep(0.5)
                raise HubError(f"olah stopped unexpectedly:\n{self.log_tail()}")
        finally:
            signal.signal(signal.SIGTERM, previous)

    def __enter__(self) -> "HubServer":
        return self.start() if self._proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def check_hub_dir(hub_dir: Path) -> None:
    """A hub directory to serve: one with ``models/``, or a missing or empty one, which gets
    the layout (it serves no models until a publish adds them, no restart needed)."""
    hub_dir = Path(hub_dir)
    if hub_dir.exists() and not hub_dir.is_dir():
        raise UsageError(f"{hub_dir} is a file, not a hub directory", hint="Pass a directory: a new or empty one becomes a hub.")
    try:
        empty = not hub_dir.exists() or not any(hub_dir.iterdir())
        if empty:
            (hub_dir / MODELS).mkdir(parents=True, exist_ok=True)
    except PermissionError as exc:
        raise UsageError(f"{hub_dir} cannot be read or written ({exc.strerror})", hint="Pick a directory you own.") from None
    if not (hub_dir / MODELS).is_dir():
        raise UsageError(
            f"{hub_dir} is not a hub directory: it holds other files and no {MODELS}/ folder",
            hint="Pass an empty or new directory, or one that a publish with `hub_dir` wrote.",
        )
