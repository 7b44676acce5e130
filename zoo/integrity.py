"""One integrity check: a file against its manifest entry, size first, then sha256.

Every hand-out runs it (a Hub file from the cache, a run directory's file before resume
or publish), not only a download: bytes change on disk too. What to do about a bad
file is the caller's business (the hub client evicts its cached copy)."""

from __future__ import annotations

from pathlib import Path

from zoo.errors import IntegrityError
from zoo.fileio import sha256_file
from zoo.formats.manifest import FileEntry


def verify_file(path: Path, entry: FileEntry, *, hint: str | None = None, shown_as: str | None = None) -> Path:
    """Return ``path`` if its size and sha256 are ``entry``'s; raise ``IntegrityError`` naming
    the file (``shown_as``, else the entry's path), what was expected and what was found."""
    name = shown_as or entry.path
    try:
        size = Path(path).stat().st_size
    except FileNotFoundError:
        raise IntegrityError(name, expected=f"{entry.size} bytes", actual="no file", what="file", hint=hint) from None
    if size != entry.size:
        raise IntegrityError(name, expected=f"{entry.size} bytes", actual=f"{size} bytes", what="size", hint=hint)
    actual = sha256_file(path)
    if actual != entry.sha256:
        raise IntegrityError(name, expected=entry.sha256, actual=actual, hint=hint)
    return Path(path)
