"""``zoo.fetch``: the one public function that composes several modules (the Hub, and
local files checked like Hub files). Every other public name lives in the module that
owns its job; ``zoo/__init__.py`` maps each name there, importing it on first use."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from zoo.hub.client import FetchedFile


def fetch(
    name: str,
    epochs: Iterable[int | str] | int | str | None = None,
    *,
    revision: str | None = None,
    all_epochs: bool = False,
    include_resume: bool = False,
    dry_run: bool = False,
    recipe: str | None = None,
    allow_unsafe: bool = False,
) -> list[FetchedFile]:
    """Download (or find in the HF cache) and verify epoch files; returns their local paths.

    ``name`` may be a local model or weights file: it then gets the same checks as a Hub
    file (loading it into ``recipe``'s architecture) and is returned as it is."""
    from zoo.hub.client import fetch_files, get_manifest

    if Path(name).is_file() and not name.endswith(".json"):
        from zoo.fileio import sha256_file
        from zoo.workflows.loading import load_file

        load_file(Path(name), recipe, allow_unsafe=allow_unsafe)
        path = Path(name).resolve()
        return [FetchedFile(0, "file", path.name, path, path.stat().st_size, sha256_file(path), True)]
    manifest = get_manifest(name, revision)
    if all_epochs:
        entries = list(manifest.epochs)
    else:
        specs = [epochs] if epochs is None or isinstance(epochs, (int, str)) else list(epochs)
        entries = list({e.epoch: e for e in (manifest.resolve_epoch(s) for s in specs)}.values())
    roles = ("weights", "resume") if include_resume else ("weights",)
    return fetch_files(manifest, entries, roles=roles, dry_run=dry_run)
