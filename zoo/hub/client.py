"""The download client: resolve a revision to a commit, read a repo's manifest, fetch and
verify files, into the standard HF cache (``download.py`` writes it).

HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_HUB_OFFLINE and HF_TOKEN are read at call time.
Every file is checked against its manifest entry each time it is handed out; a bad
copy is evicted from the cache so it is never handed out again. Every request runs in
``hub_session``: what the server answers is checked before huggingface_hub uses it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, TypeVar

from zoo.constants import MANIFEST_FILENAME, hf_endpoint, hf_offline, hf_token
from zoo.errors import (
    EntryNotFoundError,
    HubError,
    HubTimeoutError,
    IntegrityError,
    ManifestError,
    OfflineError,
    RepoNotFoundError,
    RevisionNotFoundError,
    UsageError,
    ZooError,
)
from zoo.formats import manifest as mf
from zoo.hub import download
from zoo.hub.session import check_commit, hub_session, redact
from zoo.integrity import verify_file

T = TypeVar("T")
_FULL_SHA = re.compile(r"[0-9a-f]{40}")
_REVISION = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,254}")


def check_revision(revision: str) -> str:
    """A branch, tag or commit as a user may give it: no path characters, no ``..``."""
    if not isinstance(revision, str) or not _REVISION.fullmatch(revision) or ".." in revision:
        raise UsageError(
            f"{revision!r} is not a revision",
            hint="A revision is a branch, a tag such as epoch-10, or a commit sha: letters, digits, '.', '_' and '-'.",
        )
    return revision


# -- errors ------------------------------------------------------------------------------
def _translate(exc: Exception, repo_id: str, revision: str, filename: str | None = None) -> HubError:
    """Map huggingface_hub's errors to ours. A local olah answers 'repo not found' for a
    missing file or revision too, so ask once more which of the three it is."""
    import httpx2
    from huggingface_hub import errors as hf

    if isinstance(exc, httpx2.TimeoutException):
        return HubTimeoutError(f"{repo_id}@{revision}: the Hub at {redact(hf_endpoint())} did not answer in time ({exc.__class__.__name__})",
                               hint="Check the server, or raise ZOO_HUB_CONNECT_TIMEOUT / ZOO_HUB_READ_TIMEOUT (seconds).")
    if isinstance(exc, httpx2.TransportError):
        if filename is None:  # a branch or tag to resolve: only that needed the Hub
            return OfflineError(
                f"cannot reach the Hub at {redact(hf_endpoint())} ({_cause(exc)}) to find which commit {repo_id}@{revision} is",
                hint="Start the hub, or name a commit (hf://ORG/NAME@SHA) or a catalog name: their cached epochs need no Hub.",
            )
        return OfflineError(
            f"cannot reach the Hub at {redact(hf_endpoint())} ({_cause(exc)}) and {filename} is not in the cache",
            hint="Start the hub ('zoo hub serve') or fix HF_ENDPOINT; files fetched earlier load offline with HF_HUB_OFFLINE=1.",
        )
    if isinstance(exc, (hf.OfflineModeIsEnabled, hf.LocalEntryNotFoundError)):
        return OfflineError(
            f"{repo_id}@{revision}: {filename or 'the file'} is not in the cache and HF_HUB_OFFLINE is set"
            if hf_offline()
            else f"{repo_id}@{revision}: cannot download {filename or 'the file'} ({exc.__class__.__name__})",
            hint="Fetch it once while the Hub is reachable (unset HF_HUB_OFFLINE), or pick an epoch you fetched before.",
        )
    if isinstance(exc, hf.RevisionNotFoundError):
        return RevisionNotFoundError(f"{repo_id} has no revision {revision!r}", hint="Check the branch, tag (epoch-N) or commit.")
    if isinstance(exc, (hf.EntryNotFoundError, hf.RemoteEntryNotFoundError)):
        return EntryNotFoundError(f"{repo_id}@{revision} has no file {filename!r}", hint="The manifest and the repo disagree; republish the model.")
    if isinstance(exc, (hf.RepositoryNotFoundError, hf.GatedRepoError)):
        if _exists(repo_id, "main"):
            if not _exists(repo_id, revision):
                return RevisionNotFoundError(f"{repo_id} has no revision {revision!r}", hint="Check the branch, tag (epoch-N) or commit.")
            return EntryNotFoundError(f"{repo_id}@{revision[:12]} has no file {filename!r}", hint="The manifest and the repo disagree; republish the model.")
        return RepoNotFoundError(
            f"repository {repo_id} not found at {redact(hf_endpoint())}",
            hint="Check the name, HF_ENDPOINT, and HF_TOKEN for private repos. 'zoo list' shows the bundled models.",
        )
    text = str(exc).splitlines()[0] if str(exc) else ""
    return HubError(redact(f"{repo_id}@{revision}: {exc.__class__.__name__}: {text}"))


def _cause(exc: BaseException) -> str:
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__
    return redact(str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__)


def _exists(repo_id: str, revision: str) -> bool:
    from huggingface_hub import HfApi

    try:
        with hub_session():
            HfApi(endpoint=hf_endpoint(), token=hf_token()).model_info(repo_id, revision=revision)
        return True
    except Exception:
        return False


# -- revisions and manifests -----------------------------------------------------------
def resolve_commit(repo_id: str, revision: str | None) -> str:
    """A branch, tag or short sha → the full commit sha (one request; none for a full sha)."""
    revision = check_revision(revision or "main")
    if _FULL_SHA.fullmatch(revision):
        return revision
    if hf_offline():
        raise OfflineError(
            f"{repo_id}@{revision}: a branch or tag needs the Hub, and HF_HUB_OFFLINE is set",
            hint="Pin a full commit sha (hf://ORG/NAME@SHA), or use a bundled model name.",
        )
    hf_endpoint()
    from huggingface_hub import HfApi

    try:
        with hub_session():
            sha = HfApi(endpoint=hf_endpoint(), token=hf_token()).model_info(repo_id, revision=revision).sha
    except HubError:
        raise
    except Exception as exc:  # noqa: BLE001 - translated into our hierarchy
        raise _translate(exc, repo_id, revision) from None
    return check_commit(sha, what=f"{repo_id}@{revision}")


def remote_manifest(repo_id: str, revision: str | None = None) -> mf.Manifest:
    """Read a repo's own ``zoo.json`` (untrusted) at the resolved commit, every epoch
    pinned to the commit that holds it (the one that does not say is this commit's)."""
    commit = resolve_commit(repo_id, revision)
    source = f"{repo_id}@{commit[:12]}/{MANIFEST_FILENAME}"
    text = read_small(repo_id, commit, MANIFEST_FILENAME)
    manifest = mf.loads(text, source=source).pinned(repo_id, commit)
    if manifest.epoch_at(commit) is None:
        raise ManifestError(f"{source}: no epoch is this commit's own (every epoch names another commit)", hint="The repo was not published by this zoo.")
    return manifest


# -- files ---------------------------------------------------------------------------------
def read_small(repo_id: str, commit: str, filename: str, *, limit: int = mf.MAX_BYTES) -> bytes:
    """A small file of the repo at ``commit`` (from the cache when there), at most ``limit`` bytes."""
    return _fetching(repo_id, commit, filename, lambda: download.read_small(repo_id, commit, filename, limit=limit))


def is_cached(repo_id: str, commit: str, filename: str) -> bool:
    return download.cached(repo_id, commit, filename) is not None


def _fetching(repo_id: str, commit: str, filename: str, get: Callable[[], T]) -> T:
    """``get()`` a file: at once from the cache, else from the Hub unless offline; every
    failure becomes an error of zoo's hierarchy."""
    if download.cached(repo_id, commit, filename) is None and hf_offline():
        raise OfflineError(
            f"{repo_id}@{commit[:12]}: {filename} is not in the cache and HF_HUB_OFFLINE is set",
            hint="Fetch it once while the Hub is reachable (unset HF_HUB_OFFLINE), or pick an epoch you fetched before.",
        )
    try:
        return get()
    except ZooError:
        raise
    except Exception as exc:  # noqa: BLE001 - translated into our hierarchy
        raise _translate(exc, repo_id, commit, filename) from None


def fetch_file(repo_id: str, commit: str, entry: mf.FileEntry, *, progress: bool = True) -> Path:
    """``entry``'s file at ``commit``, verified; a bad copy is evicted before the error."""
    path, checked = _fetching(repo_id, commit, entry.path, lambda: download.fetch(repo_id, commit, entry, progress=progress))
    if checked:  # hashed as it was written: this hand-out is checked
        return path
    try:
        return verify_file(path, entry)
    except IntegrityError as exc:
        download.evict(path)
        raise IntegrityError(
            exc.path, expected=exc.expected, actual=exc.actual, what=exc.what,
            hint="The bad copy was removed from the cache. Fetch again; if it repeats, the Hub serves wrong bytes: report it to the publisher.",
        ) from None
