"""One integrity check: a file against its manifest entry, size first, then sha256.

Every hand-out runs it (a Hub file from the cache, a run directory's file before resume
or publish), not only a download: bytes change on disk too. What to do about a bad
file is the caller's business (the hub client evicts its cached copy).

Within a process, a file verified once is not hashed again while its identity (device,
inode, size, and modification and change times in nanoseconds) stays the same: any write
to it changes its change time, which no user-space call can set back (git's index relies
on the same fact). Loading many epochs, or one model many times, then hashes each file once."""

from __future__ import annotations

import os
from pathlib import Path

from zoo.errors import IntegrityError
from zoo.fileio import sha256_file
from zoo.formats.manifest import FileEntry


def verify_file(path: Path, entry: FileEntry, *, hint: str | None = None, shown_as: str | None = None) -> Path:
    """Return ``path`` if its size and sha256 are ``entry``'s; raise ``IntegrityError`` naming
    the file (``shown_as``, else the entry's path), what was expected and what was found."""
    name = shown_as or entry.path
    try:
        identity = file_identity(path)
    except FileNotFoundError:
        raise IntegrityError(name, expected=f"{entry.size} bytes", actual="no file", what="file", hint=hint) from None
    size = identity[3]
    if size != entry.size:
        raise IntegrityError(name, expected=f"{entry.size} bytes", actual=f"{size} bytes", what="size", hint=hint)
    if VERIFIED.get(identity) == entry.sha256:
        return Path(path)
    actual = sha256_file(path)
    if actual != entry.sha256:
        raise IntegrityError(name, expected=entry.sha256, actual=actual, hint=hint)
    VERIFIED.remember(identity, actual)
    return Path(path)


class IdentityMemo:
    """What this process found out about files, kept while their identity (``file_identity``)
    holds: any write changes it. Bounded: past ``limit`` entries it starts over."""

    def __init__(self, limit: int = 4096) -> None:
        self._facts: dict[tuple, object] = {}
        self._limit = limit

    def get(self, identity: tuple) -> object | None:
        return self._facts.get(identity)

    def remember(self, identity: tuple, fact: object = True) -> None:
        if len(self._facts) >= self._limit:
            self._facts.clear()
        self._facts[identity] = fact


VERIFIED = IdentityMemo()  # file identity -> the sha256 it was verified to have


def file_identity(path: Path) -> tuple:
    """What changes whenever a file's bytes may have: (path, device, inode, size, mtime ns, ctime ns)."""
    st = os.stat(path)
    return (os.path.abspath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
