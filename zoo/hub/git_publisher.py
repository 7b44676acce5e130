"""Publishing to a local hub: a directory of git + git-lfs repositories (what olah serves).

Layout (what olah's ``mirrors-path`` expects)::

    HUB_DIR/models/ORG/NAME/      a non-bare git repo, weights in .git/lfs/objects

The commit is built from a staged tree with a temporary index, then ``main`` and the
``epoch-N`` tags move in ONE atomic ref transaction: readers see the old state or the
new one, never half of it. olah serves new commits without a restart.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterable

from zoo.constants import source_date_epoch
from zoo.errors import DependencyError, PublishError

MODELS = "models"
LFS_PATTERNS = ("*.h5", "*.keras")
GITATTRIBUTES = "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in LFS_PATTERNS)
_IDENTITY = {"GIT_AUTHOR_NAME": "zoo", "GIT_AUTHOR_EMAIL": "zoo@localhost", "GIT_COMMITTER_NAME": "zoo", "GIT_COMMITTER_EMAIL": "zoo@localhost"}


def repo_dir(hub_dir: Path, repo_id: str) -> Path:
    return Path(hub_dir) / MODELS / repo_id


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


class LocalRepo:
    """One repo of a local hub, written as a chain of commits on ``main``.

    ``commit`` builds each commit from a staged tree (weights go through the git-lfs clean
    filter into ``.git/lfs/objects``) without moving any ref; ``finish`` then moves
    ``main`` and every tag in ONE ``git update-ref --stdin`` transaction, so a reader, or
    a process killed at any moment, sees the old state or the new one and never half."""

    def __init__(self, hub_dir: Path, repo_id: str) -> None:
        require_git_lfs()
        self.repo = repo_dir(hub_dir, repo_id)
        self.start = None  # nothing is created before the first commit
        if (self.repo / ".git").is_dir():
            verified = subprocess.run(["git", "-C", str(self.repo), "rev-parse", "-q", "--verify", "refs/heads/main^{commit}"], capture_output=True, text=True)
            self.start = verified.stdout.strip() if verified.returncode == 0 else None
        self.head = self.start
        self._tags: dict[str, str] = {}
        self._replacing = False

    def read(self, path: str) -> bytes | None:
        """A file of the pending head (``None`` when there is no head or no such file)."""
        if self.head is None:
            return None
        proc = subprocess.run(["git", "-C", str(self.repo), "show", f"{self.head}:{path}"], capture_output=True)
        return proc.stdout if proc.returncode == 0 else None

    def restart(self) -> None:
        """Build the chain from nothing: ``finish`` replaces ``main``'s history and drops
        every ``epoch-*`` tag it does not set again."""
        self.head, self._replacing = None, True

    def commit(self, staging: Path, message: str, *, delete: tuple[str, ...] = ()) -> str:
        """A commit of exactly the staged tree on top of the pending head (what the head
        holds and the stage does not, ``delete`` included, is gone); returns its sha."""
        staging = Path(staging).resolve()
        if not (self.repo / ".git").is_dir():
            self.repo.mkdir(parents=True, exist_ok=True)
            _git(self.repo, "init", "-q", "-b", "main")
            _git(self.repo, "lfs", "install", "--local")
        (staging / ".gitattributes").write_text(GITATTRIBUTES)
        with tempfile.TemporaryDirectory(prefix="zoo-index-") as tmp:
            index = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            _git(self.repo, f"--work-tree={staging}", "add", "-A", ".", env=index)
            tree = _git(self.repo, "write-tree", env=index)
        dates = {}
        if source_date_epoch() is not None:
            stamp = f"{source_date_epoch()} +0000"
            dates = {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
        parents = ["-p", self.head] if self.head else []
        self.head = _git(self.repo, "commit-tree", tree, *parents, "-m", message, env=dates)
        return self.head

    def tag(self, name: str, commit: str) -> None:
        self._tags[name] = commit

    def finish(self) -> None:
        """Move ``main`` (if it checked out as expected) and the tags, all or nothing."""
        zero = "0" * 40
        lines = ["start"]
        if self.head != self.start:
            lines.append(f"update refs/heads/main {self.head} {self.start or zero}")
        lines += [f"update refs/tags/{tag} {commit}" for tag, commit in self._tags.items()]
        if self._replacing and self.head is not None:
            stale = _git(self.repo, "for-each-ref", "--format=%(refname)", "refs/tags/epoch-*").split()
            lines += [f"delete {ref}" for ref in stale if ref.removeprefix("refs/tags/") not in self._tags]
        if len(lines) > 1:
            _git(self.repo, "update-ref", "--stdin", input="\n".join([*lines, "prepare", "commit"]) + "\n")
        self.start = self.head


def publish_tree(staging: Path, hub_dir: Path, repo_id: str, *, tags: Iterable[str] = (), message: str = "publish") -> str:
    """One commit of ``staging`` on ``main`` of ``HUB_DIR/models/REPO_ID``, with ``tags`` on
    it (a repo built by hand: tests and benchmarks). Returns the commit sha."""
    repo = LocalRepo(hub_dir, repo_id)
    commit = repo.commit(staging, message)
    for tag in tags:
        repo.tag(tag, commit)
    repo.finish()
    return commit
