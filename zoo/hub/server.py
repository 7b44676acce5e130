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
from zoo.hub.git_publisher import MODELS, list_repos, require_git_lfs

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _olah_command() -> list[str]:
    try:
        import olah.server  # noqa: F401
    except ImportError:
        raise DependencyError("olah is not installed; it serves the local hub", hint="Install it with: pip install 'zoo[hub]'.") from None
    return [sys.executable, "-c", "from olah.server import cli; cli()"]


_OLAH_TOML = """[basic]
host = "127.0.0.1"
port = {port}
repos-path = "{cache}"
mirrors-path = ["{mirrors}"]
mirror-scheme = "http"
mirror-netloc = "127.0.0.1:{port}"
mirror-lfs-netloc = "127.0.0.1:{port}"
metadata-cache-ttl = 0

[accessibility]
offline = true
"""


class HubServer:
    """A running olah process over a hub directory. Use as a context manager."""

    def __init__(self, hub_dir: Path, port: int | None = None):
        self.hub_dir = Path(hub_dir).resolve()
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None

    def start(self, timeout: float = 30.0) -> "HubServer":
        check_hub_dir(self.hub_dir)
        require_git_lfs()
        command = _olah_command()
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", self.port))
            except OSError:
                raise UsageError(f"port {self.port} is already in use", hint="Pick another `port`, or leave it out for a free one.") from None
        self._tmp = tempfile.TemporaryDirectory(prefix="zoo-olah-")
        tmp = Path(self._tmp.name)
        cache = tmp / "cache"
        for repo_id in list_repos(self.hub_dir):  # olah needs this for calls without a revision
            meta = cache / "api" / "models" / repo_id / "revision" / "main" / "meta_head.json"
            meta.parent.mkdir(parents=True, exist_ok=True)
            meta.write_text('{"sha": "main", "lastModified": "2000-01-01T00:00:00"}')
        config = tmp / "olah.toml"
        config.write_text(_OLAH_TOML.format(port=self.port, cache=cache, mirrors=self.hub_dir))
        # olah tries huggingface.co on a few routes even offline: send those nowhere.
        env = {**os.environ, "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "ALL_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}
        self._log = open(tmp / "olah.log", "wb")
        self._proc = subprocess.Popen([*command, "-c", str(config)], cwd=tmp, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        import urllib.request

        repos = list_repos(self.hub_dir)
        url = f"{self.endpoint}/api/models/{repos[0]}/revision/main" if repos else None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise HubError(f"olah exited with code {self._proc.returncode} before it was ready:\n{self.log_tail()}")
            try:
                if url is None:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                    return
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
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
