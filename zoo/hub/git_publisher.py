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


def publish_tree(staging: Path, hub_dir: Path, repo_id: str, *, tags: Iterable[str], message: str) -> str:
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
