"""The catalog of published models: ``NAME.json`` manifests pinned to a commit, read from
disk with no network and no TensorFlow.

Two directories hold them: the user's catalog (``$ZOO_HOME/manifests``, where ``zoo
publish`` writes) and the reference zoo bundled with the package (``manifests/``). A
name in the user's catalog wins over a bundled one of the same name; ``entries()``
returns both, the hidden one marked, so ``zoo list`` can show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from zoo.constants import SCHEMA_FILENAME, bundled_manifests_dir, user_manifests_dir
from zoo.errors import ManifestError, UnknownModelError
from zoo.formats import manifest as mf
from zoo.registry import list_recipes, suggest

USER, BUNDLED = "user", "bundled"


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    path: Path
    origin: str  # USER or BUNDLED
    shadowed: bool  # a bundled entry hidden by the user's entry of the same name

    def load(self) -> mf.Manifest:
        manifest = mf.load(self.path)
        if manifest.hub is None or manifest.hub.revision is None or any(e.commit is None for e in manifest.epochs):
            raise ManifestError(f"{self.path}: a catalog entry must pin every epoch to its Hub commit", hint="Republish the model with 'zoo publish'.")
        return manifest


def _files(directory: Path) -> dict[str, Path]:
    if not directory.is_dir():
        return {}
    return {p.stem: p for p in sorted(directory.glob("*.json")) if p.name != SCHEMA_FILENAME}


def entries() -> list[CatalogEntry]:
    """Every catalog entry, sorted by name, the user's before a bundled one it hides."""
    user, bundled = _files(user_manifests_dir()), _files(bundled_manifests_dir())
    found = [CatalogEntry(n, p, USER, False) for n, p in user.items()]
    found += [CatalogEntry(n, p, BUNDLED, n in user) for n, p in bundled.items()]
    return sorted(found, key=lambda e: (e.name, e.shadowed))


def list_models() -> list[mf.Manifest]:
    """Every published model a bare name resolves to, sorted by name."""
    return [e.load() for e in entries() if not e.shadowed]


def find(name: str) -> mf.Manifest:
    """The pinned manifest a bare ``name`` resolves to (the user's entry, else the bundled one)."""
    for entry in entries():
        if entry.name == name and not entry.shadowed:
            return entry.load()
    known = sorted({e.name for e in entries()})
    recipes = [r.name for r in list_recipes()]
    hint = suggest(name, sorted(set(known) | set(recipes)))
    if name in recipes:
        hint = f"{name} is a recipe with no published weights yet: train it with 'zoo train {name}', then 'zoo publish'."
    raise UnknownModelError(f"no published model named {name!r}", hint=hint)
