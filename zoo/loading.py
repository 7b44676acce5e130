"""Build the architecture from the recipe code, check it, load a chosen epoch's weights.

The order matters: the architecture is built and fingerprinted first (no download
for a model that cannot fit), then the file is fetched and verified, then its
weight layout is compared with the model's before Keras assigns a single weight.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo import manifest as mf
from zoo.checkpoint import load_weights
from zoo.errors import ArchitectureMismatchError
from zoo.registry import Recipe, get_recipe


def recipe_for(manifest: mf.Manifest) -> Recipe:
    """The recipe code that builds this manifest's architecture, at the version it was trained with."""
    recipe = get_recipe(manifest.recipe.name)
    if recipe.version != manifest.recipe.version:
        raise ArchitectureMismatchError(
            f"{manifest.name} was trained with recipe {recipe.name} v{manifest.recipe.version}, but this zoo has v{recipe.version}",
            hint=f"Install the zoo release that ships {recipe.name} v{manifest.recipe.version}, or pick a revision published for v{recipe.version}.",
        )
    return recipe


def build_checked(manifest: mf.Manifest) -> Any:
    """A fresh model for ``manifest``, refused if its architecture fingerprint differs."""
    from zoo.fingerprint import architecture_sha256

    recipe = recipe_for(manifest)
    model = recipe.build(**manifest.recipe.builder_kwargs)
    actual = architecture_sha256(model)
    if actual != manifest.compat.architecture_sha256:
        raise ArchitectureMismatchError(
            f"{manifest.name}: recipe {recipe.name} v{recipe.version} builds an architecture (fingerprint {actual[:12]}) "
            f"other than the one these weights were trained on ({manifest.compat.architecture_sha256[:12]})",
            hint="The recipe code changed without a version bump, or the manifest is wrong. Pin the revision or recipe version the weights were published with.",
        )
    return model


def weights_path(manifest: mf.Manifest, entry: mf.EpochEntry, source: str) -> Path:
    """The verified local weights file: from the Hub cache, or from a run directory."""
    if manifest.hub is None:  # a local run directory (zoo info/load on runs/NAME)
        from zoo.training import verify_file

        root = Path(source) if Path(source).is_dir() else Path(source).parent
        path = root / entry.weights.path
        verify_file(path, entry.weights)
        return path
    from zoo.hub import fetch

    [fetched] = fetch(manifest, [entry])
    return fetched.local_path


def load_pretrained(name: str, epoch: int | str | None = None, revision: str | None = None, *, compile: bool = False) -> Any:
    """A ready ``keras.Model`` built from the recipe code, with ``epoch``'s weights loaded.

    ``name``: a bundled model, ``ORG/NAME``, ``hf://ORG/NAME@REV`` or a run directory.
    ``epoch``: an integer, ``"last"``, ``"best"``, or ``None`` for the default epoch.
    ``compile=True`` also compiles it with the recipe's loss and metrics, ready to evaluate.
    """
    from zoo.hub import get_manifest

    manifest = get_manifest(name, revision)
    entry = manifest.resolve_epoch(epoch)
    model = build_checked(manifest)
    load_weights(model, weights_path(manifest, entry, name), what=f"{manifest.name} epoch {entry.epoch}")
    if compile:
        recipe_for(manifest).compile(model)
    return model


def evaluate(name: str, epoch: int | str | None = None, revision: str | None = None, *, split: str = "test") -> dict[str, Any]:
    """Load an epoch and measure it on the recipe's split, beside the published metrics."""
    from zoo.hub import get_manifest
    from zoo.training import evaluate_splits

    manifest = get_manifest(name, revision)
    entry = manifest.resolve_epoch(epoch)
    model = load_pretrained(name, entry.epoch, revision, compile=True)
    measured = evaluate_splits(model, recipe_for(manifest).dataset.load(), [split])
    published = {k: v for k, v in entry.metrics.items() if k in measured}
    return {"name": manifest.name, "epoch": entry.epoch, "split": split, "measured": measured, "published": published}
