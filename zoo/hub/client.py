"""Everything that talks to huggingface_hub: resolve names, download, verify, publish.

Downloads go through ``hf_hub_download`` into the standard HF cache, honouring
HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_HUB_OFFLINE and HF_TOKEN (read at call
time). Every file is checked against its manifest's size and sha256 each time it
is handed out; a bad file is evicted from the cache so it is never handed out
again. Requests for uncached files fail in well under a second when the Hub
cannot be reached, instead of huggingface_hub's ~23 s of retries.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable
from urllib.parse import urlparse

from zoo.formats import manifest as mf
from zoo.constants import MANIFEST_FILENAME, hf_endpoint, hf_hub_cache, hf_offline, hf_token
from zoo.errors import (
    EntryNotFoundError,
    HubError,
    IntegrityError,
    OfflineError,
    RepoNotFoundError,
    RevisionNotFoundError,
    UntrustedResponseError,
    UsageError,
)
from zoo.fileio import sha256_file
from zoo.hub.session import check_commit, hub_session

_FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")


@dataclass(frozen=True)
class Ref:
    """What a user typed: a bundled ``name``, or a Hub ``repo_id`` with an optional revision."""

    name: str | None = None
    repo_id: str | None = None
    revision: str | None = None


def is_repo_id(text: str) -> bool:
    """``ORG/NAME`` as the Hub spells a repo id, with no scheme and no revision."""
    return bool(_REPO_ID.match(text))


def parse_ref(text: str) -> Ref:
    """``NAME``, ``ORG/NAME``, ``ORG/NAME@REV`` or ``hf://ORG/NAME[@REV]``."""
    body = text[len("hf://") :] if text.startswith("hf://") else text
    repo, _, revision = body.partition("@")
    if "/" not in repo and not text.startswith("hf://"):
        return Ref(name=text)
    if not is_repo_id(repo) or (revision == "" and "@" in body) or "/" in revision:
        raise UsageError(f"{text!r} is not a model reference", hint="Use NAME, ORG/NAME, or hf://ORG/NAME@REVISION.")
    return Ref(repo_id=repo, revision=revision or None)


@dataclass(frozen=True)
class FetchedFile:
    epoch: int
    role: str
    path_in_repo: str
    local_path: Path | None  # None in a dry run
    size: int
    sha256: str
    cached: bool


# -- errors and reachability ------------------------------------------------------------
def _check_reachable(endpoint: str, timeout: float = 0.5) -> None:
    """Fail at once when nothing listens at the endpoint (huggingface_hub would retry ~23 s)."""
    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=timeout).close()
    except OSError as exc:
        raise OfflineError(
            f"cannot reach the Hub at {endpoint} ({exc.strerror or exc}) and the file is not in the cache",
            hint="Start the hub ('zoo hub serve') or fix HF_ENDPOINT; files fetched earlier load offline with HF_HUB_OFFLINE=1.",
        ) from None


def _translate(exc: Exception, repo_id: str, revision: str, filename: str | None = None) -> HubError:
    """Map huggingface_hub's errors to ours. A local olah answers 'repo not found' for a
    missing file or revision too, so ask once more which of the three it is."""
    from huggingface_hub import errors as hf

    if isinstance(exc, hf.OfflineModeIsEnabled) or isinstance(exc, hf.LocalEntryNotFoundError):
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
            f"repository {repo_id} not found at {hf_endpoint()}",
            hint="Check the name, HF_ENDPOINT, and HF_TOKEN for private repos. 'zoo list' shows the bundled models.",
        )
    return HubError(f"{repo_id}@{revision}: {exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")


def _exists(repo_id: str, revision: str) -> bool:
    from huggingface_hub import HfApi

    try:
        with hub_session():
            HfApi(endpoint=hf_endpoint(), token=hf_token()).model_info(repo_id, revision=revision)
        return True
    except Exception:
        return False


# -- resolving names to pinned manifests -----------------------------------------------
def resolve_commit(repo_id: str, revision: str | None) -> str:
    """A branch, tag or short sha → the full commit sha (one request; none for a full sha)."""
    revision = revision or "main"
    if _FULL_SHA.match(revision):
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
    """Read a repo's own ``zoo.json`` (untrusted) and pin it to the resolved commit."""
    commit = resolve_commit(repo_id, revision)
    path = download(repo_id, commit, MANIFEST_FILENAME)
    manifest = mf.loads(path.read_bytes(), source=f"{repo_id}@{commit[:12]}/{MANIFEST_FILENAME}")
    return manifest.replace(hub=mf.HubRef(repo_id=repo_id, revision=commit))


def get_manifest(ref: str, revision: str | None = None) -> mf.Manifest:
    """Resolve any reference to a manifest pinned to a commit."""
    from zoo.catalog import find_manifest

    if not ref.startswith("hf://") and Path(ref).exists():  # a run directory or a zoo.json
        return find_manifest(ref)
    parsed = parse_ref(ref)
    if parsed.name is not None:

        manifest = find_manifest(parsed.name)
        if revision is None or manifest.hub is None:
            return manifest
        return remote_manifest(manifest.hub.repo_id, revision)
    return remote_manifest(parsed.repo_id, revision or parsed.revision)


# -- downloading -------------------------------------------------------------------------
def download(repo_id: str, revision: str, filename: str) -> Path:
    """One file at a pinned commit, from the cache when there, else from the Hub."""
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    mf.check_relpath(filename)
    cached = try_to_load_from_cache(repo_id, filename, revision=revision, cache_dir=hf_hub_cache())
    if isinstance(cached, str):
        return Path(cached)
    if hf_offline():
        raise _translate(_offline_error(), repo_id, revision, filename)
    _check_reachable(hf_endpoint())
    try:
        with hub_session():
            path = hf_hub_download(
                repo_id, filename, revision=revision, endpoint=hf_endpoint(), token=hf_token(), cache_dir=hf_hub_cache()
            )
    except UntrustedResponseError:
        raise
    except Exception as exc:  # noqa: BLE001 - translated into our hierarchy
        raise _translate(exc, repo_id, revision, filename) from None
    return Path(path)


def _offline_error() -> Exception:
    from huggingface_hub.errors import LocalEntryNotFoundError

    return LocalEntryNotFoundError("offline")


def verify(path: Path, entry: mf.FileEntry, *, evict: bool = True) -> Path:
    """Check size and sha256; on mismatch evict the cached copy so it is never handed out again."""
    size = path.stat().st_size
    actual = f"{size} bytes" if size != entry.size else sha256_file(path)
    expected = f"{entry.size} bytes" if size != entry.size else entry.sha256
    if actual != expected:
        if evict:
            _evict(path)
        raise IntegrityError(
            entry.path,
            expected=expected,
            actual=actual,
            what="size" if size != entry.size else "sha256",
            hint="The bad copy was removed from the cache. Fetch again; if it repeats, the Hub serves wrong bytes: report it to the publisher.",
        )
    return path


def _evict(path: Path) -> None:
    """Remove a cached file: the snapshot link and the blob it points to."""
    blob = path.resolve()
    for p in (path, blob):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def fetch_files(
    manifest: mf.Manifest,
    epochs: Iterable[mf.EpochEntry],
    *,
    roles: Iterable[str] = ("weights",),
    dry_run: bool = False,
) -> list[FetchedFile]:
    """Download (or find in the cache) and verify the files of ``epochs``."""
    from huggingface_hub import try_to_load_from_cache

    if manifest.hub is None or manifest.hub.revision is None:
        raise UsageError(f"{manifest.name} is not published at a pinned revision", hint="Publish it with 'zoo publish', or load the run directory directly.")
    repo_id, revision = manifest.hub.repo_id, manifest.hub.revision
    roles = tuple(roles)
    results = []
    for epoch in epochs:
        for entry in epoch.files:
            if entry.role not in roles:
                continue
            cached = isinstance(try_to_load_from_cache(repo_id, entry.path, revision=revision, cache_dir=hf_hub_cache()), str)
            local = None if dry_run else verify(download(repo_id, revision, entry.path), entry)
            results.append(FetchedFile(epoch.epoch, entry.role, entry.path, local, entry.size, entry.sha256, cached))
    return results


# -- publishing through HfApi ------------------------------------------------------------
def publish_to_hub(staging: Path, repo_id: str, *, tags: Iterable[str], message: str) -> str:
    """Upload a staged repo as ONE commit (create_repo, create_commit), then point the tags at it.

    Unchanged files are skipped by huggingface_hub, so republishing the same run
    makes no commit and returns the current head. A tag left on an older commit by
    an earlier publish is moved, so ``epoch-N`` always names the latest commit.
    """
    from huggingface_hub import CommitOperationAdd, HfApi

    from zoo.errors import PublishError

    api = HfApi(endpoint=hf_endpoint(), token=hf_token())
    files = sorted(p for p in staging.rglob("*") if p.is_file())
    operations = [CommitOperationAdd(path_in_repo=p.relative_to(staging).as_posix(), path_or_fileobj=str(p)) for p in files]
    try:
        with hub_session():
            api.create_repo(repo_id, exist_ok=True)
            commit = api.create_commit(repo_id, operations=operations, commit_message=message)
        check_commit(commit.oid, what=f"the commit to {repo_id}")
    except Exception as exc:  # noqa: BLE001 - translated into our hierarchy
        raise PublishError(
            f"publishing to {repo_id} at {hf_endpoint()} failed: {_reason(exc)}",
            hint="Nothing was committed; the repo is unchanged. Fix the cause and rerun the same command.",
        ) from None
    try:
        with hub_session():
            existing = {ref.name: ref.target_commit for ref in api.list_repo_refs(repo_id).tags}
            for tag in tags:
                if existing.get(tag) == commit.oid:
                    continue
                if tag in existing:
                    api.delete_tag(repo_id, tag=tag)
                api.create_tag(repo_id, tag=tag, revision=commit.oid)
    except Exception as exc:  # noqa: BLE001 - translated into our hierarchy
        raise PublishError(
            f"{repo_id}: commit {commit.oid} is published, but tagging it failed: {_reason(exc)}",
            hint="Rerun the same command: the commit is not repeated and the missing tags are added.",
        ) from None
    return commit.oid


def _reason(exc: BaseException) -> str:
    """Why a Hub call failed: the innermost cause (huggingface_hub wraps HTTP errors) plus
    what the server said, with the token and signed-URL query strings removed."""
    server_message = None
    while True:
        server_message = getattr(exc, "server_message", None) or server_message
        if exc.__cause__ is None:
            break
        exc = exc.__cause__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if server_message and server_message not in text:
        text = f"{text} ({server_message.strip()})"
    return _redact(f"{exc.__class__.__name__}: {text}")


def _redact(text: str) -> str:
    token = hf_token()
    text = text.replace(token, "***") if token else text
    return re.sub(r"(https?://[^\s'\"?]+)\?[^\s'\"]*", r"\1?…", text)  # pre-signed URLs carry secrets
