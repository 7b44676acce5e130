"""zoo in your own training loop: ``EpochCheckpoint``, a Keras callback for ``model.fit``.

    import zoo.keras

    checkpoint = zoo.keras.EpochCheckpoint("runs/mine", save_at=[10, 50, 100], publish="me/mine")
    model.fit(x, y, epochs=100, validation_data=(x_val, y_val), callbacks=[checkpoint],
              initial_epoch=checkpoint.restore(model))  # 0 for a new run; the last saved epoch to resume

It writes the run directory ``zoo train`` writes: per saved epoch the Keras config,
metadata, weights and the resume state with the optimizer, and ``zoo.json`` with the
metrics Keras logged (``loss`` → ``train/loss``, ``val_accuracy`` → ``val/accuracy``).
``zoo publish``, ``zoo fetch`` and ``zoo.load_pretrained`` take it like any run; with
``publish=ORG/NAME`` each epoch is published as it is saved (Ultralytics' ``save_period``,
transformers' ``PushToHubCallback``).

The architecture is named by a recipe (``recipe=``: the model must be what the recipe
builds) or, for a Functional or Sequential model of Keras's own layers that no recipe
builds, by its Keras config (``formats/keras_config.py``). A subclassed model without a
recipe is refused with how to write one. Importing this module imports TensorFlow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from zoo import compat
from zoo.constants import MANIFEST_FILENAME
from zoo.errors import ArchitectureMismatchError, ManifestError, RunDirError, UsageError
from zoo.formats import keras_config, manifest as mf, sharded
from zoo.formats.checkpoint import check_shard_size, load_resume_state
from zoo.registry import get_recipe
from zoo.resolve import RunSource, is_repo_id
from zoo.transfer import all_trainable
from zoo.workflows.publishing import BackgroundPublisher, PublishResult
from zoo.tf import keras
from zoo.workflows.training import clear_unrecorded_run, write_epoch

_INPUT_DTYPES = ("float32", "float16", "uint8", "int32")


class EpochCheckpoint(keras.callbacks.Callback):
    """Save (and optionally publish) the chosen epochs of your own ``model.fit`` as a zoo run.

    ``save_at``: the epochs to save (1-based, as Keras prints them); ``None`` saves every
    epoch. The last epoch of the ``fit`` call is always saved.
    ``recipe``: the registered recipe that builds this architecture, if one does.
    ``name``: the model's name (default: the run directory's name).
    ``publish`` / ``hub_dir``: publish each saved epoch to ``ORG/NAME`` on the Hub at
    HF_ENDPOINT, or on the local hub ``hub_dir``; ``published`` holds where it stands.
    ``classes``, ``dataset``, ``input_range``, ``preprocessing``, ``batch_size``, ``seed``,
    ``description``, ``license``: what the manifest and model card tell users; zoo cannot
    see them in ``fit`` (``None``: not stated).
    ``monitor`` / ``mode``: the logged metric that picks the ``best`` epoch (Keras's names).
    ``shard_size``: weights larger than this (bytes, or ``"500MB"``; default 5 GiB, or the
    resumed run's own) are saved as Keras sharded weights.
    """

    def __init__(self, out: Path | str, save_at: Iterable[int] | None = None, *, recipe: str | None = None, name: str | None = None,
                 publish: str | None = None, hub_dir: Path | str | None = None, classes: Iterable[str] | None = None,
                 dataset: str | None = None, input_range: tuple[float, float] | None = None, preprocessing: str = "",
                 batch_size: int | None = None, seed: int | None = None, monitor: str = "val_loss", mode: str = "min",
                 description: str | None = None, license: str = "other", shard_size: int | str | None = None) -> None:
        super().__init__()
        self.out = Path(out)
        self.save_at = None if save_at is None else sorted(set(save_at))
        if self.save_at is not None and any(isinstance(e, bool) or not isinstance(e, int) or e < 1 for e in self.save_at):
            raise UsageError(f"`save_at` must hold positive integer epochs, got {self.save_at}")
        if mode not in ("min", "max"):
            raise UsageError(f"`mode` must be 'min' or 'max', got {mode!r}")
        if input_range is not None and not (isinstance(input_range, (tuple, list)) and len(input_range) == 2
                                            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in input_range)
                                            and input_range[0] < input_range[1]):
            raise UsageError(f"`input_range` must be (low, high) with low < high, got {input_range!r}", hint="For pixels scaled to [0, 1], pass input_range=(0, 1).")
        if publish is not None and not is_repo_id(publish):
            raise UsageError(f"`publish` must be ORG/NAME, got {publish!r}", hint="Name the Hub repo alone, e.g. my-org/my-model.")
        self.name = mf.check_name(name or self.out.resolve().name)
        self.shard_size = None if shard_size is None else sharded.parse_size(shard_size)
        self.recipe = get_recipe(recipe) if recipe is not None else None
        self.publish, self.hub_dir = publish, hub_dir
        self.classes = tuple(classes) if classes is not None else None
        self.dataset, self.input_range, self.preprocessing = dataset, input_range, preprocessing
        self.batch_size, self.seed, self.description, self.license = batch_size, seed, description, license
        self.metric, self.mode = _metric_name(monitor), mode
        self.published: PublishResult | None = None
        self._entries: list[mf.EpochEntry] = []
        self._base: mf.Manifest | None = None
        self._publisher: BackgroundPublisher | None = None
        self._input: mf.InputSpec | None = None  # a recipe-less model's input contract

    # -- resuming --------------------------------------------------------------------
    def restore(self, model: Any) -> int:
        """Load the last saved epoch's weights and optimizer state into ``model`` (compiled,
        the same architecture) and return that epoch, for ``fit(initial_epoch=...)``; 0 when
        the run directory holds no run yet."""
        previous = self._previous()
        if previous is None:
            return 0
        if model.optimizer is None:
            raise UsageError("compile the model before restoring it: the resume state holds the optimizer's")
        self._check_architecture(_described(model), previous)
        last = previous.epochs[-1]
        files = {f.role: f.local_path for f in RunSource(str(self.out), previous, self.out).files([last], roles=None)}
        compat.check_layout(model, files["weights"])
        load_resume_state(model, files["resume"])
        return last.epoch

    def _previous(self) -> mf.Manifest | None:
        path = self.out / MANIFEST_FILENAME
        if not path.is_file():
            return None
        try:
            return mf.load(path)
        except ManifestError as exc:
            raise RunDirError(f"{self.out} holds a damaged run manifest: {exc.message}", hint="Choose another `out`.") from None

    def _check_architecture(self, mine: mf.Compat, previous: mf.Manifest) -> None:
        if (mine.architecture_sha256, mine.layout_sha256) != (previous.compat.architecture_sha256, previous.compat.layout_sha256):
            raise ArchitectureMismatchError(f"{self.out} holds a run of another architecture than this model's",
                                            hint="Resume it with the model it was trained with, or choose another `out`.")

    # -- Keras's hooks -----------------------------------------------------------------
    def on_train_begin(self, logs: dict | None = None) -> None:
        model = self.model
        if self.recipe is None:  # refused before the first epoch, not after it
            keras_config.check_model(model)
            self._input = _input_spec(model, self.input_range, self.preprocessing)
        self._described = _described(model)  # the model's fingerprints, for the checks below and the manifest
        if self.recipe is not None and self._described.architecture_sha256 != compat.recipe_fingerprints(self.recipe, self.recipe.builder_kwargs)[0]:
            raise ArchitectureMismatchError(f"this model is not what recipe {self.recipe.name} v{self.recipe.version} builds",
                                            hint="Build it with the recipe (zoo.get_recipe(NAME).build()), or leave `recipe` out for a Functional or Sequential model.")
        previous = self._previous()
        recorded = previous.recipe.train_config.shard_size if previous is not None else None
        self._shard_bytes = self.shard_size or recorded or sharded.DEFAULT_SHARD_SIZE
        check_shard_size(model, self._shard_bytes)
        epochs = self.params["epochs"]
        if previous is not None:
            self._check_architecture(self._described, previous)
            self._entries, self._base = list(previous.epochs), previous.replace(recipe=_trained_for(previous.recipe, epochs, self._shard_bytes))
        elif self.out.exists() and any(self.out.iterdir()) and not clear_unrecorded_run(self.out):
            raise RunDirError(f"{self.out} is not empty and holds no zoo run", hint="Choose an empty or new `out`.")
        self._saves = {e for e in (self.save_at or range(1, epochs + 1)) if e <= epochs} | {epochs}
        if self.publish is not None:
            self._publisher = BackgroundPublisher(self.out, self.publish, hub_dir=self.hub_dir, name=self.name)
            if self._entries:
                self._publisher.submit()  # a resumed run: first what the Hub lacks

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        number = epoch + 1  # Keras counts from 0, as zoo and Keras's progress bar do not
        if number not in self._saves:
            return
        if self._entries and number <= self._entries[-1].epoch:
            raise RunDirError(f"{self.out} already holds epoch {self._entries[-1].epoch}; this fit started before it",
                              hint="Resume with `model.fit(..., initial_epoch=checkpoint.restore(model))`, or choose another `out`.")
        files = write_epoch(self.model, self.out, number, {"recipe": self.recipe.name if self.recipe else None, "epoch": number},
                            self._shard_bytes)
        if self._base is None:
            self._base = self._manifest(next(f for f in files if f.role == "config").sha256)
        elif self._base.recipe.from_keras_config and next(f for f in files if f.role == "config").sha256 != self._base.recipe.builder_kwargs["config_sha256"]:
            raise RunDirError(f"the model's architecture changed before epoch {number}: a run holds one architecture",
                              hint=f"Epochs up to {self._entries[-1].epoch} are saved in {self.out}; save the changed model to another `out`.")
        self._entries.append(mf.EpochEntry(number, files, _metrics(logs), mf.utc_now()))
        mf.write(self._base.with_epochs(self._entries, metric=self.metric, mode=self.mode), self.out / MANIFEST_FILENAME)
        if self._publisher is not None:
            self._publisher.submit()

    def on_train_end(self, logs: dict | None = None) -> None:
        if self._publisher is not None:
            self.published = self._publisher.close()
            self._publisher = None

    # -- the run's manifest --------------------------------------------------------------
    def _manifest(self, config_sha256: str) -> mf.Manifest:
        model, recipe = self.model, self.recipe
        train = mf.TrainConfig(optimizer=type(model.optimizer).__name__, learning_rate=float(model.optimizer.learning_rate),
                               batch_size=self.batch_size, epochs=self.params["epochs"], seed=self.seed,
                               shard_size=sharded.recorded_size(self._shard_bytes))
        if recipe is not None:
            dataset = mf.Dataset(self.dataset or recipe.dataset.name, dict(recipe.dataset.splits) if self.dataset is None else {"train": "model.fit"})
            ref = mf.RecipeRef(recipe.name, recipe.version, recipe.builder_kwargs, dataset, train)
            spec, classes = recipe.input, self.classes if self.classes is not None else tuple(recipe.class_names)
        else:
            ref = mf.RecipeRef(keras_config.RECIPE_NAME, keras_config.RECIPE_VERSION, keras_config.builder_kwargs(config_sha256),
                               mf.Dataset(self.dataset or "not stated", {"train": "model.fit"}), train)
            spec, classes = self._input, self.classes if self.classes is not None else _class_indices(model)
        return mf.Manifest(
            schema_version=mf.SCHEMA_VERSION, name=self.name,
            description=self.description or f"{model.name}: a Keras {type(model).__name__} model trained with model.fit",
            license=self.license, recipe=ref, input=spec, classes=classes, compat=self._described, hub=None, default_epoch=1, selection={},
        )


def _described(model: Any) -> mf.Compat:
    """``compat.describe`` of the whole model: a frozen backbone is training state, not architecture."""
    with all_trainable(model):
        return compat.describe(model)


def _metric_name(keras_name: str) -> str:
    """Keras's log name → zoo's: ``val_accuracy`` → ``val/accuracy``, ``loss`` → ``train/loss``."""
    return f"val/{keras_name[4:]}" if keras_name.startswith("val_") else f"train/{keras_name}"


def _metrics(logs: dict | None) -> dict[str, float]:
    import math

    out = {}
    for key, value in (logs or {}).items():
        if key == "learning_rate":
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            out[_metric_name(key)] = number
    return out


def _input_spec(model: Any, input_range: tuple[float, float] | None, preprocessing: str) -> mf.InputSpec:
    if len(model.inputs) != 1:
        raise UsageError(f"model {model.name!r} takes {len(model.inputs)} inputs; zoo records one input contract", hint="Pass `recipe=` for a model with several inputs.")
    shape, dtype = tuple(model.inputs[0].shape[1:]), str(model.inputs[0].dtype)
    if any(d is None for d in shape) or dtype not in _INPUT_DTYPES:
        raise UsageError(f"model {model.name!r} takes {dtype} of shape {list(shape)}; zoo records a fixed shape of {', '.join(_INPUT_DTYPES)}",
                         hint="Give keras.Input a fixed shape, e.g. keras.Input((28, 28, 1)).")
    if input_range is not None:
        input_range = (float(input_range[0]), float(input_range[1]))
    return mf.InputSpec(shape=shape, dtype=dtype, range=input_range, preprocessing=preprocessing or "not stated")


def _class_indices(model: Any) -> tuple[str, ...]:
    """Without names, the classes are the output's indices ("0", "1", …)."""
    outputs = model.outputs
    if len(outputs) == 1 and len(outputs[0].shape) == 2 and outputs[0].shape[-1]:
        return tuple(str(i) for i in range(outputs[0].shape[-1]))
    return ()


def _trained_for(ref: mf.RecipeRef, epochs: int, shard_size: int | None) -> mf.RecipeRef:
    """``ref`` of a resumed run, whose ``fit`` now goes to ``epochs``, sharding at ``shard_size``."""
    import dataclasses

    train = dataclasses.replace(ref.train_config, epochs=max(epochs, ref.train_config.epochs), shard_size=sharded.recorded_size(shard_size))
    return dataclasses.replace(ref, train_config=train)
