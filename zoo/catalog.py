"""The catalog of published models: ``NAME.json`` manifests on disk, no network, no TensorFlow.

User-level manifests (written by ``zoo publish`` when the package is read-only)
shadow the bundled ones of the same name.
"""

from __future__ import annotations

from pathlib import Path

from zoo.formats import manifest as mf
from zoo.constants import MANIFEST_FILENAME, SCHEMA_FILENAME, manifest_dirs
from zoo.errors import UnknownModelError
from zoo.registry import list_recipes, suggest


def _manifest_files() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for directory in reversed(manifest_dirs()):  # later (user) entries win
        if directory.is_dir():
            for path in sorted(directory.glob("*.json")):
                if path.name != SCHEMA_FILENAME:
                    found[path.stem] = path
    return found


def list_models() -> list[mf.Manifest]:
    """Every published model this installation knows about, sorted by name."""
    files = _manifest_files()
    return [mf.load(files[name]) for name in sorted(files)]


def find_manifest(name: str) -> mf.Manifest:
    """The manifest of a published model by bare name, or a run dir / ``zoo.json`` path."""
    path = Path(name)
    if path.is_dir() and (path / MANIFEST_FILENAME).is_file():
        return mf.load(path / MANIFEST_FILENAME)
    if path.suffix == ".json" and path.is_file():
        return mf.load(path)
    files = _manifest_files()
    if name in files:
        return mf.load(files[name])
    recipes = [r.name for r in list_recipes()]
    hint = suggest(name, sorted(set(files) | set(recipes)))
    if name in recipes:
        hint = f"{name} is a recipe with no published weights yet: train it with 'zoo train {name}', then 'zoo publish'."
    raise UnknownModelError(f"no published model named {name!r}", hint=hint)
