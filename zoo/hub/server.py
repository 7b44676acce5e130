"""The local hub: a directory of git + git-lfs repositories, served as a Hub by olah.

Layout (what olah's ``mirrors-path`` expects)::

    HUB_DIR/models/ORG/NAME/      a non-bare git repo, weights in .git/lfs/objects

Publishing builds the commit from a staged tree with a temporary index, then moves
``main`` and the ``epoch-N`` tags in ONE atomic ref transaction: readers see the old
state or the new one, never half of it. olah serves new commits without a restart.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterable, Iterator

from zoo.constants import source_date_epoch
from zoo.errors import DependencyError, HubError, PublishError, UsageError

MODELS = "models"
LFS_PATTERNS = ("*.h5", "*.keras")
GITATTRIBUTES = "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in LFS_PATTERNS)
_IDENTITY = {"GIT_AUTHOR_NAME": "zoo", "GIT_AUTHOR_EMAIL": "zoo@localhost", "GIT_COMMITTER_NAME": "zoo", "GIT_COMMITTER_EMAIL": "zoo@localhost"}


def repo_dir(hub_dir: Path, repo_id: str) -> Path:
    return Path(hub_dir) / MODELS / repo_id


def list_repos(hub_dir: Path) -> list[str]:
    root = Path(hub_dir) / MODELS
    return sorted(f"{org.name}/{repo.name}" for org in root.iterdir() if org.is_dir() for repo in org.iterdir() if (repo / ".git").is_dir()) if root.is_dir() else []


def require_git_lfs() -> None:
    if shutil.which("git") is None:
        raise DependencyError("git is not installed", hint="Install it, e.g. 'apt-get install git git-lfs'.")
    if subprocess.run(["git", "lfs", "version"], capture_output=True).returncode != 0:
        raise DependencyError("git-lfs is not installed; the local hub stores weights with it", hint="Install it, e.g. 'apt-get install git-lfs'.")


def _git(repo: Path, *args: str, env: dict | None = None, input: str | None = None) -> str:
    proc = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, input=input,
        env={**os.environ, **_IDENTITY, "GIT_TERMINAL_PROMPT": "0", **(env or {})},
    )
    if proc.returncode != 0:
        raise PublishError(f"git {' '.join(args[:2])} failed in {repo}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout.strip()


def _init_repo(repo: Path) -> None:
    repo.mkdir(parents=True, exist_ok=True)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "lfs", "install", "--local")


def publish_local(staging: Path, hub_dir: Path, repo_id: str, *, tags: Iterable[str], message: str) -> str:
    """Commit the staged tree to ``HUB_DIR/models/REPO_ID`` and tag it. Returns the commit sha.

    An identical tree is a no-op: the current head is returned and nothing moves.
    """
    require_git_lfs()
    repo = repo_dir(hub_dir, repo_id)
    if not (repo / ".git").is_dir():
        _init_repo(repo)
    (staging / ".gitattributes").write_text(GITATTRIBUTES)
    head = _git(repo, "rev-parse", "-q", "--verify", "refs/heads/main^{commit}") if _has_main(repo) else None

    with tempfile.TemporaryDirectory(prefix="zoo-index-") as tmp:
        index = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        # `git add` runs the git-lfs clean filter: weights go to .git/lfs/objects, pointers to the tree.
        _git(repo, f"--work-tree={staging}", "add", "-A", ".", env=index)
        tree = _git(repo, "write-tree", env=index)
    if head is not None and _git(repo, "rev-parse", f"{head}^{{tree}}") == tree:
        return head

    dates = {}
    if source_date_epoch() is not None:
        stamp = f"{source_date_epoch()} +0000"
        dates = {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
    parents = ["-p", head] if head else []
    commit = _git(repo, "commit-tree", tree, *parents, "-m", message, env=dates)
    zero = "0" * 40
    lines = ["start", f"update refs/heads/main {commit} {head or zero}"]
    lines += [f"update refs/tags/{tag} {commit}" for tag in tags]
    lines += ["prepare", "commit"]
    _git(repo, "update-ref", "--stdin", input="\n".join(lines) + "\n")
    _git(repo, "reset", "-q", "--hard")  # keep the checked-out tree in step for humans and olah
    return commit


def _has_main(repo: Path) -> bool:
    return subprocess.run(["git", "-C", str(repo), "rev-parse", "-q", "--verify", "refs/heads/main"], capture_output=True).returncode == 0


# -- serving with olah ----------------------------------------------------------------------
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
                raise UsageError(f"port {self.port} is already in use", hint="Pick another with --port, or leave it out for a free one.") from None
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

    def __enter__(self) -> "HubServer":
        return self.start() if self._proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def check_hub_dir(hub_dir: Path) -> None:
    if not (Path(hub_dir) / MODELS).is_dir():
        raise UsageError(
            f"{hub_dir} is not a hub directory (it has no {MODELS}/ folder)",
            hint="Publish into it first: 'zoo publish RUN_DIR --repo ORG/NAME --hub-dir DIR'.",
        )


@contextlib.contextmanager
def serving(hub_dir: Path, port: int | None = None) -> Iterator[HubServer]:
    """Serve ``hub_dir`` and point HF_ENDPOINT at it for the duration."""
    with HubServer(hub_dir, port) as server:
        previous = os.environ.get("HF_ENDPOINT")
        os.environ["HF_ENDPOINT"] = server.endpoint
        try:
            yield server
        finally:
            if previous is None:
                os.environ.pop("HF_ENDPOINT", None)
            else:
                os.environ["HF_ENDPOINT"] = previous
