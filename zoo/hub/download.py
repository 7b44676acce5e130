"""Downloads into the standard HF cache, resumable, with every path named by zoo.

huggingface_hub's ``hf_hub_download`` names cache paths after what the server sends
(ETag, X-Repo-Commit) and starts a killed download from zero. zoo knows more than the
server: the manifest pins the commit and gives each file's sha256 and size. So files are
written here, in huggingface_hub's own layout (``try_to_load_from_cache``, ``hf cache ls``
and ``hf_hub_download`` all see them):

    HF_HUB_CACHE/models--ORG--NAME/blobs/<sha256>                    the bytes
    HF_HUB_CACHE/models--ORG--NAME/snapshots/<commit>/<path> → blob  a relative symlink
    HF_HUB_CACHE/models--ORG--NAME/blobs/<sha256>.zoo.incomplete     a download under way
    HF_HUB_CACHE/.locks/models--ORG--NAME/<sha256>.lock              one writer per file

A download killed half-way leaves its ``.incomplete`` file; the next one asks for the
rest with ``Range`` (a server that ignores it sends everything again) and hashes while it
writes. One lock per blob makes concurrent processes download a file once. Every
request goes through ``hub_session``: timeouts, the deadline, checked answers.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

from zoo.constants import hf_endpoint, hf_hub_cache, hf_token
from zoo.errors import DiskError, EntryNotFoundError, HubError, IntegrityError, RepoNotFoundError, RevisionNotFoundError, UntrustedResponseError
from zoo.fileio import atomic_write_bytes, no_room
from zoo.formats import manifest as mf
from zoo.hub.session import hub_session, redact, shown

CHUNK = 1 << 20
INCOMPLETE = ".zoo.incomplete"
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


def storage(repo_id: str) -> Path:
    return hf_hub_cache() / f"models--{repo_id.replace('/', '--')}"


def pointer(repo_id: str, commit: str, path: str) -> Path:
    return storage(repo_id) / "snapshots" / commit / mf.check_relpath(path)


def cached(repo_id: str, commit: str, path: str) -> Path | None:
    """The cached file of ``path`` at ``commit``, or ``None``."""
    link = pointer(repo_id, commit, path)
    return link if link.exists() else None


def fetch(repo_id: str, commit: str, entry: mf.FileEntry, *, progress: bool = True) -> tuple[Path, bool]:
    """``entry``'s file at ``commit`` in the cache (downloaded, or the rest of it, when
    missing), and whether this call just checked its bytes: a download's size and sha256
    are checked as it is written, before it is named a blob."""
    link = pointer(repo_id, commit, entry.path)
    if link.exists():
        return link, False
    blob = storage(repo_id) / "blobs" / entry.sha256
    lock = hf_hub_cache() / ".locks" / storage(repo_id).name / f"{entry.sha256}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    blob.parent.mkdir(parents=True, exist_ok=True)
    from filelock import FileLock

    with FileLock(str(lock)):
        checked = not blob.exists()  # another process may have finished it while we waited
        if checked:
            _download(repo_id, commit, entry, blob, progress)
        _link(link, blob)
    return link, checked


def _download(repo_id: str, commit: str, entry: mf.FileEntry, blob: Path, progress: bool) -> None:
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import build_hf_headers, get_session
    from tqdm.auto import tqdm

    partial = blob.with_name(blob.name + INCOMPLETE)
    have = partial.stat().st_size if partial.exists() else 0
    if have > entry.size:
        partial.unlink()
        have = 0
    free = shutil.disk_usage(blob.parent).free
    if free < entry.size - have:
        raise DiskError(f"the HF cache ({blob.parent.parent}) has {free:,} bytes free; {entry.path} needs {entry.size - have:,} more",
                        hint="Free some space, or point HF_HUB_CACHE at a disk with room, and fetch again.")
    url = hf_hub_url(repo_id, entry.path, revision=commit, endpoint=hf_endpoint())
    headers = build_hf_headers(token=hf_token(), library_name="zoo")
    if have:
        headers["Range"] = f"bytes={have}-"
    where = f"{repo_id}@{commit[:12]}/{entry.path}"
    with hub_session(), get_session().stream("GET", url, headers=headers, follow_redirects=True) as response:
        if response.status_code == 404:
            _not_found(response, repo_id, commit, entry.path)
        if response.status_code not in (200, 206):
            raise HubError(f"{where}: the Hub answered {response.status_code}")
        digest = hashlib.sha256()
        if response.status_code == 206 and have:
            _check_range(response, have, entry.size, where)
            with open(partial, "rb") as fh:  # hash what is already there, then go on
                for chunk in iter(lambda: fh.read(CHUNK), b""):
                    digest.update(chunk)
            mode = "ab"
        else:
            have, mode = 0, "wb"  # a server that ignores Range sends it all again
        bar = tqdm(total=entry.size, initial=have, unit="B", unit_scale=True, desc=Path(entry.path).name, disable=not progress, leave=False)
        try:
            with open(partial, mode) as out, bar:
                for chunk in response.iter_bytes(CHUNK):
                    have += len(chunk)
                    if have > entry.size:
                        raise IntegrityError(entry.path, expected=f"{entry.size} bytes", actual=f"more than {entry.size} bytes", what="size",
                                             hint="The Hub sends more than the manifest says; nothing was kept.")
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        except OSError as exc:
            if not no_room(exc):
                raise
            raise DiskError(f"cannot write {entry.path} into the HF cache ({blob.parent.parent}): {exc.strerror}",
                            hint="Free some space (or point HF_HUB_CACHE elsewhere) and fetch again: it continues from what was written.") from None
    if have != entry.size or digest.hexdigest() != entry.sha256:
        partial.unlink(missing_ok=True)
        actual, expected = (f"{have} bytes", f"{entry.size} bytes") if have != entry.size else (digest.hexdigest(), entry.sha256)
        raise IntegrityError(entry.path, expected=expected, actual=actual, what="size" if have != entry.size else "sha256",
                             hint="Nothing was kept. Fetch again; if it repeats, the Hub serves wrong bytes: report it to the publisher.")
    os.replace(partial, blob)


def _not_found(response: object, repo_id: str, commit: str, path: str) -> None:
    """A 404, in the words of what is missing: the repo, the pinned commit, or the file."""
    code, said = response.headers.get("x-error-code"), response.headers.get("x-error-message")
    said = f" (the Hub says: {redact(said)[:200]})" if said else ""
    if code == "RepoNotFound":
        raise RepoNotFoundError(f"repository {repo_id} not found{said}", hint="Check the name, HF_ENDPOINT, and HF_TOKEN for private repos.")
    if code == "RevisionNotFound":
        raise RevisionNotFoundError(f"{repo_id} has no commit {commit}{said}",
                                    hint="The pinned commit is gone from the Hub (its history was rewritten): ask the publisher, or fetch a current revision.")
    raise EntryNotFoundError(f"{repo_id}@{commit[:12]} has no file {path!r}{said}", hint="The manifest and the repo disagree; ask the publisher to republish it.")


def _check_range(response: object, start: int, size: int, where: str) -> None:
    value = response.headers.get("content-range", "")
    match = _CONTENT_RANGE.fullmatch(value)
    if not match or int(match.group(1)) != start or match.group(3) not in (str(size), "*"):
        raise UntrustedResponseError(f"{where}: asked for bytes {start}- of {size}, the Hub answered Content-Range {shown(value)}")


def _link(link: Path, blob: Path) -> None:
    """Point ``link`` at ``blob`` (a relative symlink, as huggingface_hub makes; a copy where
    symlinks are not allowed), atomically."""
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.symlink(os.path.relpath(blob, link.parent), tmp)
    except OSError:
        shutil.copyfile(blob, tmp)
    os.replace(tmp, link)


def evict(link: Path) -> None:
    """Remove a cached file (the snapshot link and its blob): it is never handed out again.
    Another process may have removed it first; a read-only cache says what to do."""
    blob = link.resolve()
    for path in (link, blob):
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise IntegrityError(str(link), expected="a file to remove", actual=f"no permission ({exc.strerror})", what="eviction",
                                 hint=f"The cache holds a bad copy and is not writable here: remove {blob} by hand, or use a cache you own (HF_HUB_CACHE).") from None


def read_small(repo_id: str, commit: str, path: str, *, limit: int) -> bytes:
    """A small file (``zoo.json``) whose hash nobody gave us: read at most ``limit`` bytes,
    cached by its sha256 like any other file."""
    link = pointer(repo_id, commit, path)
    if link.exists():
        return link.read_bytes()
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import build_hf_headers, get_session

    url = hf_hub_url(repo_id, path, revision=commit, endpoint=hf_endpoint())
    data = bytearray()
    with hub_session(), get_session().stream("GET", url, headers=build_hf_headers(token=hf_token(), library_name="zoo"), follow_redirects=True) as response:
        if response.status_code == 404:
            _not_found(response, repo_id, commit, path)
        if response.status_code != 200:
            raise HubError(f"{repo_id}@{commit[:12]}/{path}: the Hub answered {response.status_code}")
        for chunk in response.iter_bytes(CHUNK):
            data += chunk
            if len(data) > limit:
                raise UntrustedResponseError(f"{repo_id}@{commit[:12]}/{path} is larger than {limit:,} bytes", hint="A manifest is small; this one is refused unread.")
    blob = storage(repo_id) / "blobs" / hashlib.sha256(data).hexdigest()
    atomic_write_bytes(blob, bytes(data))
    _link(link, blob)
    return bytes(data)
