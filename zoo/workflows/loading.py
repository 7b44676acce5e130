"""Build the architecture from the recipe code, check it, load a chosen epoch's weights.

The order matters: the architecture is built and fingerprinted first (no download
for a model that cannot fit), then the file is fetched and verified, then its
weight layout is compared with the model's before Keras assigns a single weight.
A model published without a recipe is built from its epoch's ``config.json`` instead,
once a bounded child process has built it (``formats/keras_config.py``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo import compat, transfer
from zoo.errors import ArchitectureMismatchError, FileFormatError, UsageError
from zoo.formats import keras_config, manifest as mf
from zoo.formats.checkpoint import is_legacy_h5_weights, load_legacy_weights, load_model_file
from zoo.formats.fingerprint import architecture_sha256, model_layout_sha256
from zoo.registry import get_recipe
from zoo.resolve import FileSource, HubSource, RunSource, resolve
from zoo.workflows.evaluation import SplitEvaluator


def load_file(path: Path, recipe: str | None = None, *, allow_unsafe: bool = False) -> Any:
    """Load a local file from outside the zoo with the same checks as a Hub file.

    * ``.weights.h5`` (Keras 3), Keras sharded weights (their ``.weights.json`` index, the
      shards beside it) and Keras-2 HDF5 weights (``tf_keras`` ``save_weights('x.h5')``)
      need ``recipe``: its architecture is built and the file's layout checked before loading.
    * ``.keras`` and legacy full-model ``.h5`` carry their architecture; they load in Keras's
      safe mode (a Lambda layer is refused unless ``allow_unsafe``), and with ``recipe`` their
      architecture fingerprint must match the recipe's.
    """
    path = Path(path)
    name = path.name
    weights_only = name.endswith((".weights.h5", ".weights.json")) or (name.endswith(".h5") and is_legacy_h5_weights(path))
    if weights_only:
        if recipe is None:
            raise UsageError(f"{path} holds weights only: say which recipe builds its architecture", hint="Pass `recipe` (e.g. `recipe='digits-mlp'`).")
        model = get_recipe(recipe).build()
        if name.endswith((".weights.h5", ".weights.json")):
            return compat.load_checked(model, path)
        return load_legacy_weights(model, path)
    if not name.endswith((".keras", ".h5")):
        raise FileFormatError(f"{path}: unknown model file type", hint="zoo loads .keras, .h5, .weights.h5 and sharded .weights.json files.")
    custom = {}
    if recipe is not None:
        reference = get_recipe(recipe).build()
        custom = {type(reference).__name__: type(reference)}
    model = load_model_file(path, allow_unsafe=allow_unsafe, custom_objects=custom)
    if recipe is not None and architecture_sha256(model) != architecture_sha256(reference):
        raise ArchitectureMismatchError(
            f"{path}: its architecture differs from recipe {recipe}'s",
            hint="Load it without `recipe` to use its own architecture, or pick the recipe it was made with.",
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
    num_classes: int | None = None,
    features_only: bool = False,
) -> Any:
    """A ready ``keras.Model`` built from the recipe code, with ``epoch``'s weights loaded.

    ``name``: a bundled model, ``ORG/NAME``, ``hf://ORG/NAME@REV``, a run directory, or a
    local weights/model file (then ``recipe`` names the architecture; see ``load_file``).
    ``epoch``: an integer, ``"last"``, ``"best"``, or ``None`` for the default epoch.
    ``compile=True`` also compiles it with the recipe's loss and metrics, ready to evaluate.

    To fine-tune: ``num_classes=3`` keeps every backbone weight of the epoch and gives the
    model a new, freshly initialised head for 3 classes (``model.zoo.reinitialized`` names
    its variables; the published count loads everything). ``features_only=True`` returns the
    backbone alone (Functional and Sequential recipes), e.g. to put your own head on it.
    """
    source = resolve(name, revision)
    if isinstance(source, FileSource):
        if num_classes is not None or features_only:
            raise UsageError("`num_classes` and `features_only` need a published model or a run directory, not a model file")
        model = load_file(source.path, recipe, allow_unsafe=allow_unsafe)
        if compile and recipe is not None:
            get_recipe(recipe).compile(model)
        return model
    manifest = source.manifest
    if num_classes is not None or features_only:  # refused before anything is downloaded
        built_by = compat.recipe_for(manifest.recipe)
        if num_classes is not None:
            transfer.check_num_classes(built_by, num_classes)
        if features_only:
            transfer.check_cuttable(built_by)
    model = load_epoch(source, source.entry(epoch), compile=compile and num_classes is None and not features_only)
    loaded = model.zoo
    if num_classes is not None and num_classes != len(manifest.classes):
        model, head = transfer.with_new_head(model, built_by, manifest.recipe.builder_kwargs, num_classes)
        if compile:
            built_by.compile(model)
        loaded = dataclasses.replace(loaded, reinitialized=head)
    if features_only:
        model = transfer.features_only(model, built_by)
    model.zoo = loaded
    return model


@dataclass(frozen=True)
class LoadedFrom:
    """What a loaded model is (``model.zoo``): so a user can check which epoch and commit
    ``best`` or a branch resolved to, and which bytes were loaded."""

    name: str
    epoch: int
    origin: str  # ORG/NAME@commit, or the run directory
    commit: str | None
    weights_sha256: str  # the weights file's sha256 (a sharded epoch's: ``EpochEntry.weights_sha256``)
    reinitialized: tuple[str, ...] = ()  # variables not from these weights (a new head)


def load_epoch(source: HubSource | RunSource, entry: mf.EpochEntry, *, compile: bool = False) -> Any:
    """``load_pretrained`` for a source already resolved (and pinned) by the caller, so
    one command resolves a name once and loads from the very commit it described."""
    manifest = source.manifest
    model = compat.build_checked(manifest, config=_config_file(source, entry), weights_bytes=entry.weights_size)
    layout = model_layout_sha256(model, manifest.compat.architecture_sha256)  # build_checked matched it
    compat.load_checked(model, source.weights_path(entry), what=f"{manifest.name} epoch {entry.epoch}", expected_sha256=layout)
    if compile:
        compat.recipe_for(manifest.recipe).compile(model)
    origin = f"{source.repo_id}@{entry.commit}" if isinstance(source, HubSource) else source.origin
    model.zoo = LoadedFrom(manifest.name, entry.epoch, origin, entry.commit, entry.weights_sha256)
    return model


def _config_file(source: HubSource | RunSource, entry: mf.EpochEntry) -> Path | None:
    """The verified ``config.json`` of a model without a recipe (its architecture)."""
    if not source.manifest.recipe.from_keras_config:
        return None
    keras_config.config_entry(entry, what=source.manifest.name)  # before it is downloaded
    [fetched] = source.files([entry], roles=("config",))
    return fetched.local_path


@dataclass(frozen=True)
class Evaluation:
    name: str
    epoch: int
    split: str
    measured: dict[str, float]
    published: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def evaluate(name: str, epoch: int | str | None = None, revision: str | None = None, *, split: str = "test") -> Evaluation:
    """Load an epoch and measure it on the recipe's split, beside the published metrics."""
    source = resolve(name, revision)
    if isinstance(source, FileSource):
        raise UsageError(f"{name} is a model file: evaluate needs a published model or a run directory")
    recipe = compat.recipe_with_its_dataset(source.manifest)  # before anything is downloaded
    entry = source.entry(epoch)
    model = load_epoch(source, entry, compile=True)
    measured = SplitEvaluator(recipe.dataset.load(), recipe.evaluator)(model, [split])
    published = {k: v for k, v in entry.metrics.items() if k in measured}
    return Evaluation(source.manifest.name, entry.epoch, split, measured, published)
