"""The download client: resolve a revision to a commit, read a repo's manifest, fetch and
verify files, all through huggingface_hub into the standard HF cache.

HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_HUB_OFFLINE and HF_TOKEN are read at call time.
Every file is checked against its manifest entry each time it is handed out; a bad
copy is evicted from the cache so it is never handed out again. Every request runs in
``hub_session``: what the server answers is checked before huggingface_hub uses it.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path
from urllib.parse import urlparse

from zoo.constants import MANIFEST_FILENAME, hf_endpoint, hf_hub_cache, hf_offline, hf_token
from zoo.errors import (
    EntryNotFoundError,
    HubError,
    IntegrityError,
    ManifestError,
    OfflineError,
    RepoNotFoundError,
    RevisionNotFoundError,
    UntrustedResponseError,
    UsageError,
)
from zoo.formats import manifest as mf
from zoo.hub.session import check_commit, hub_session, redact
from zoo.integrity import verify_file

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


# -- errors and reachability ------------------------------------------------------------
def _check_reachable(endpoint: str, timeout: float = 0.5) -> None:
    """Fail at once when nothing listens at the endpoint (huggingface_hub would retry ~23 s)."""
    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=timeout).close()
    except OSError as exc:
        raise OfflineError(
            f"cannot reach the Hub at {redact(endpoint)} ({exc.strerror or exc}) and the file is not in the cache",
            hint="Start the hub ('zoo hub serve') or fix HF_ENDPOINT; files fetched earlier load offline with HF_HUB_OFFLINE=1.",
        ) from None


def _translate(exc: Exception, repo_id: str, revision: str, filename: str | None = None) -> HubError:
    """Map huggingface_hub's errors to ours. A local olah answers 'repo not found' for a
    missing file or revision too, so ask once more which of the three it is."""
    from huggingface_hub import errors as hf

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
    _check_reachable(hf_endpoint())
    from huggingface_hub import HfApi

    try:
        with hub_session():
            sha = HfApi(endpoint=hf_endpoint(), token=hf_token()).model_info(repo_id, revision=revision).sha
    except UntrustedResponseError:
        raise
    except Exception as exc:  # noqa: BLE001 - translated into our hierarchy
        raise _translate(exc, repo_id, revision) from None
    return check_commit(sha, what=f"{repo_id}@{revision}")


def remote_manifest(repo_id: str, revision: str | None = None) -> mf.Manifest:
    """Read a repo's own ``zoo.json`` (untrusted) at the resolved commit, every epoch
    pinned to the commit that holds it (the one that does not say is this commit's)."""
    commit = resolve_commit(repo_id, revision)
    source = f"{repo_id}@{commit[:12]}/{MANIFEST_FILENAME}"
    manifest = mf.loads(download(repo_id, commit, MANIFEST_FILENAME).read_bytes(), source=source).pinned(repo_id, commit)
    if manifest.epoch_at(commit) is None:
        raise ManifestError(f"{source}: no epoch is this commit's own (every epoch names another commit)", hint="The repo was not published by this zoo.")
    return manifest


# -- files ---------------------------------------------------------------------------------
def is_cached(repo_id: str, commit: str, filename: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo_id, filename, revision=commit, cache_dir=hf_hub_cache()), str)


def download(repo_id: str, commit: str, filename: str) -> Path:
    """One file at a pinned commit, from the cache when there, else from the Hub."""
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    mf.check_relpath(filename)
    cached = try_to_load_from_cache(repo_id, filename, revision=commit, cache_dir=hf_hub_cache())
    if isinstance(cached, str):
        return Path(cached)
    if hf_offline():
        from huggingface_hub.errors import LocalEntryNotFoundError

        raise _translate(LocalEntryNotFoundError("offline"), repo_id, commit, filename)
    _check_reachable(hf_endpoint())
    try:
        with hub_session():
            path = hf_hub_download(repo_id, filename, revision=commit, endpoint=hf_endpoint(), token=hf_token(), cache_dir=hf_hub_cache())
    except UntrustedResponseError:
        raise
    except Exception as exc:  # noqa: BLE001 - translated into our hierarchy
        raise _translate(exc, repo_id, commit, filename) from None
    return Path(path)


def fetch_file(repo_id: str, commit: str, entry: mf.FileEntry) -> Path:
    """``entry``'s file at ``commit``, verified; a bad copy is evicted before the error."""
    path = download(repo_id, commit, entry.path)
    try:
        return verify_file(path, entry)
    except IntegrityError as exc:
        _evict(path)
        raise IntegrityError(
            exc.path, expected=exc.expected, actual=exc.actual, what=exc.what,
            hint="The bad copy was removed from the cache. Fetch again; if it repeats, the Hub serves wrong bytes: report it to the publisher.",
        ) from None


def _evict(path: Path) -> None:
    """Remove a cached file: the snapshot link and the blob it points to."""
    blob = path.resolve()
    for p in (path, blob):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
