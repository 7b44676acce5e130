"""``zoo.fetch``: verified local paths for the epochs of a model, or a local model file checked
by loading it into its recipe's architecture."""

from __future__ import annotations

from typing import Iterable

from zoo.resolve import FetchedFile, FileSource, resolve
from zoo.workflows.loading import load_file


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
    file (loaded into ``recipe``'s architecture) and is returned as it is."""
    source = resolve(name, revision)
    if isinstance(source, FileSource):
        load_file(source.path, recipe, allow_unsafe=allow_unsafe)
        return [source.fetched()]
    roles = ("weights", "resume") if include_resume else ("weights",)
    entries = source.entries(epochs, all_epochs=all_epochs)
    return source.files(entries, roles=roles, dry_run=dry_run, asked={} if all_epochs else source.words(epochs))
