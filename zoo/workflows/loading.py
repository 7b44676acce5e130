"""Build the architecture from the recipe code, check it, load a chosen epoch's weights.

The order matters: the architecture is built and fingerprinted first (no download
for a model that cannot fit), then the file is fetched and verified, then its
weight layout is compared with the model's before Keras assigns a single weight.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.formats import manifest as mf
from zoo.formats.checkpoint import load_weights
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


_ARCHITECTURE_BY_BUILD: dict[tuple, str] = {}


def build_checked(manifest: mf.Manifest) -> Any:
    """A fresh model for ``manifest``, refused if its architecture fingerprint differs.

    The same builder with the same kwargs builds the same architecture, so within a
    process its fingerprint (a walk over every layer's config) is computed once."""
    import json

    from zoo.formats.fingerprint import architecture_sha256

    recipe = recipe_for(manifest)
    model = recipe.build(**manifest.recipe.builder_kwargs)
    key = (recipe.name, recipe.version, recipe.builder, json.dumps(manifest.recipe.builder_kwargs, sort_keys=True))
    if key not in _ARCHITECTURE_BY_BUILD:
        _ARCHITECTURE_BY_BUILD[key] = architecture_sha256(model)
    actual = _ARCHITECTURE_BY_BUILD[key]
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
        from zoo.workflows.training import verify_file

        root = Path(source) if Path(source).is_dir() else Path(source).parent
        path = root / entry.weights.path
        verify_file(path, entry.weights)
        return path
    from zoo.hub.client import fetch_files

    [fetched] = fetch_files(manifest, [entry])
    return fetched.local_path


def load_file(path: Path, recipe: str | None = None, *, allow_unsafe: bool = False) -> Any:
    """Load a local file from outside the zoo with the same checks as a Hub file.

    * ``.weights.h5`` (Keras 3) and Keras-2 HDF5 weights (``tf_keras`` ``save_weights('x.h5')``)
      need ``recipe``: its architecture is built and the file's layout checked before loading.
    * ``.keras`` and legacy full-model ``.h5`` carry their architecture; they load in Keras's
      safe mode (a Lambda layer is refused unless ``allow_unsafe``), and with ``recipe`` their
      architecture fingerprint must match the recipe's.
    """
    from zoo.formats.checkpoint import is_legacy_h5_weights, load_legacy_weights, load_model_file
    from zoo.errors import FileFormatError, UsageError
    from zoo.formats.fingerprint import architecture_sha256

    path = Path(path)
    name = path.name
    weights_only = name.endswith(".weights.h5") or (name.endswith(".h5") and is_legacy_h5_weights(path))
    if weights_only:
        if recipe is None:
            raise UsageError(f"{path} holds weights only: say which recipe builds its architecture", hint="Pass recipe=NAME (CLI: --recipe NAME).")
        model = get_recipe(recipe).build()
        if name.endswith(".weights.h5"):
            return load_weights(model, path)
        return load_legacy_weights(model, path)
    if not name.endswith((".keras", ".h5")):
        raise FileFormatError(f"{path}: unknown model file type", hint="zoo loads .keras, .h5 and .weights.h5 files.")
    custom = {}
    if recipe is not None:
        reference = get_recipe(recipe).build()
        custom = {type(reference).__name__: type(reference)}
    model = load_model_file(path, allow_unsafe=allow_unsafe, custom_objects=custom)
    if recipe is not None and architecture_sha256(model) != architecture_sha256(reference):
        raise ArchitectureMismatchError(
            f"{path}: its architecture differs from recipe {recipe}'s",
            hint="Load it without recipe= to use its own architecture, or pick the recipe it was made with.",
        )
    return model


def load_pretrained(
    name: str,
    epoch: int | str | None = None,
    revision: str | None = None,
    *,
    compile: bool = False,
    recipe: str | None = None,
    allow_unsafe: bool = False,
) -> Any:
    """A ready ``keras.Model`` built from the recipe code, with ``epoch``'s weights loaded.

    ``name``: a bundled model, ``ORG/NAME``, ``hf://ORG/NAME@REV``, a run directory, or a
    local weights/model file (then ``recipe`` names the architecture; see ``load_file``).
    ``epoch``: an integer, ``"last"``, ``"best"``, or ``None`` for the default epoch.
    ``compile=True`` also compiles it with the recipe's loss and metrics, ready to evaluate.
    """
    from zoo.hub.client import get_manifest

    if Path(name).is_file() and not name.endswith(".json"):
        model = load_file(Path(name), recipe, allow_unsafe=allow_unsafe)
        if compile and recipe is not None:
            get_recipe(recipe).compile(model)
        return model

    manifest = get_manifest(name, revision)
    return load_epoch(manifest, manifest.resolve_epoch(epoch), name, compile=compile)


def load_epoch(manifest: mf.Manifest, entry: mf.EpochEntry, source: str, *, compile: bool = False) -> Any:
    """``load_pretrained`` for a manifest already resolved (and pinned) by the caller, so
    one command resolves a name once and loads from the very commit it described."""
    from zoo.formats.fingerprint import model_layout_sha256

    model = build_checked(manifest)
    layout = model_layout_sha256(model, manifest.compat.architecture_sha256)  # build_checked matched it
    load_weights(model, weights_path(manifest, entry, source), what=f"{manifest.name} epoch {entry.epoch}", expected_sha256=layout)
    if compile:
        recipe_for(manifest).compile(model)
    return model


def evaluate(name: str, epoch: int | str | None = None, revision: str | None = None, *, split: str = "test") -> dict[str, Any]:
    """Load an epoch and measure it on the recipe's split, beside the published metrics."""
    from zoo.hub.client import get_manifest
    from zoo.workflows.evaluation import SplitEvaluator

    manifest = get_manifest(name, revision)
    entry = manifest.resolve_epoch(epoch)
    model = load_epoch(manifest, entry, name, compile=True)
    recipe = recipe_for(manifest)
    measured = SplitEvaluator(recipe.dataset.load(), recipe.evaluator)(model, [split])
    published = {k: v for k, v in entry.metrics.items() if k in measured}
    return {"name": manifest.name, "epoch": entry.epoch, "split": split, "measured": measured, "published": published}
