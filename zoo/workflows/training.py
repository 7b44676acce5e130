"""Deterministic per-epoch training into a run directory, with exact resume.

Run directory layout (a staged hub repo without its model card)::

    RUN/zoo.json                        the run manifest (manifest v1, hub: null)
    RUN/epochs/e010/model.weights.h5    weights only, what gets published
    RUN/epochs/e010/resume.keras        full model with optimizer state

Determinism (docs/design.md): Keras reuses one shuffle permutation every epoch under a
fixed seed, and never saves the Dropout seed-generator state. So every epoch's batch
order comes from ``default_rng([seed, epoch])``, and a callback sets every
seed-generator state to ``[seed, epoch]`` as each epoch starts. Resuming at any saved
epoch then reproduces the uninterrupted run bit for bit.

Files are written atomically and the manifest last, so a run killed at any moment
never records a half-written file and stays resumable.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable


from zoo import compat
from zoo.constants import MANIFEST_FILENAME
from zoo.errors import ManifestError, RunDirError, UsageError
from zoo.fileio import atomic_path, sha256_file
from zoo.formats import manifest as mf
from zoo.formats.checkpoint import RESUME_FILENAME, WEIGHTS_FILENAME, load_resume_state, save_resume_state, save_weights
from zoo.formats.fingerprint import architecture_sha256, layout_sha256, model_layout
from zoo.integrity import verify_file
from zoo.registry import Recipe, get_recipe
from zoo.resolve import FileSource, resolve, split_epoch
from zoo.workflows.evaluation import SplitEvaluator


def epoch_dir(epoch: int) -> str:
    return f"epochs/e{epoch:03d}"


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    manifest: mf.Manifest
    trained_epochs: list[int]

    def to_dict(self) -> dict[str, Any]:
        return {"run_dir": str(self.run_dir), "trained_epochs": self.trained_epochs, "manifest": self.manifest.to_dict()}


def plan_save_at(save_at: Iterable[int] | None, epochs: int, recipe: Recipe) -> list[int]:
    """The epochs to save: those asked for (or the recipe's) up to ``epochs``, always with the last."""
    wanted = sorted(set(save_at if save_at is not None else recipe.save_at))
    if any(isinstance(e, bool) or not isinstance(e, int) or e < 1 for e in wanted):
        raise UsageError(f"`save_at` must hold positive integer epochs, got {wanted}")
    return sorted({e for e in wanted if e <= epochs} | {epochs})


def train(
    recipe: str | Recipe,
    *,
    epochs: int | None = None,
    save_at: Iterable[int] | None = None,
    out: Path | str | None = None,
    resume: bool = False,
    start_from: str | None = None,
    progress: bool = True,
    on_epoch_saved: Callable[[mf.EpochEntry], None] | None = None,
) -> TrainResult:
    """Train ``recipe`` for ``epochs``, saving weights, resume state and metrics at ``save_at``.

    ``start_from="NAME@EPOCH"`` continues from a published epoch's resume state instead of
    from scratch; on the same machine it reproduces the published later epochs bit for bit."""
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    epochs = recipe.train.epochs if epochs is None else epochs
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise UsageError(f"`epochs` must be a positive integer, got {epochs!r}")
    run_dir = Path(out) if out is not None else Path("runs") / recipe.name
    manifest_path = run_dir / MANIFEST_FILENAME
    saves = plan_save_at(save_at, epochs, recipe)

    if start_from is not None:
        if resume:
            raise UsageError("pass `start_from` or `resume=True`, not both", hint="`start_from` starts a new run directory from a published epoch.")
        seed_run_from(start_from, recipe, run_dir)
        resume = True

    from zoo.tf import keras

    seed = recipe.train.seed
    keras.utils.set_random_seed(seed)
    model = recipe.compile(recipe.build())
    previous: mf.Manifest | None = None
    if resume:
        previous = _check_resumable(run_dir, recipe)
        if previous.last_epoch >= epochs:
            raise UsageError(
                f"{run_dir} already holds epoch {previous.last_epoch}; nothing to do for `epochs={epochs}`",
                hint="Pass a larger `epochs` to train further.",
            )
        last = previous.epochs[-1]
        resume_file = last.file("resume")
        compat.check_layout(model, run_dir / last.weights.path)
        load_resume_state(model, run_dir / resume_file.path)
    elif run_dir.exists() and any(run_dir.iterdir()):
        raise RunDirError(
            f"{run_dir} is not empty",
            hint="Continue that run with `resume=True`, or choose another `out`.",
        )

    base = _base_manifest(recipe, model, epochs, previous)
    entries = list(previous.epochs) if previous else []
    start = previous.last_epoch if previous else 0
    splits = recipe.dataset.load()
    x_train, y_train = splits.train
    evaluate = SplitEvaluator(splits, recipe.evaluator)
    seed_states = [v for v in model.variables if v.path.endswith("seed_generator_state")]

    from tqdm.auto import tqdm

    bar = tqdm(desc=recipe.name, unit="epoch", initial=start, total=epochs, disable=not progress)
    trained = []
    # One fit call per stretch between saves: a fit call per epoch would rebuild and
    # retrace the input pipeline every epoch (about 0.2 s each here).
    for stop in [e for e in saves if e > start]:
        callback = _epoch_start_callback(seed_states, seed, bar, trained)
        model.fit(
            _epoch_batches(x_train, y_train, seed, range(start + 1, stop + 1), recipe.train.batch_size),
            initial_epoch=start, epochs=stop, steps_per_epoch=-(-len(x_train) // recipe.train.batch_size),
            callbacks=[callback], shuffle=False, verbose=0,
        )
        start = stop
        entry = _save_epoch(model, evaluate, run_dir, stop)
        entries.append(entry)
        manifest = _with_epochs(base, recipe, entries)
        mf.write(manifest, manifest_path)
        if on_epoch_saved:
            on_epoch_saved(entry)
    bar.close()
    return TrainResult(run_dir=run_dir, manifest=mf.load(manifest_path), trained_epochs=trained)


def _epoch_batches(x: Any, y: Any, seed: int, epochs: Iterable[int], batch_size: int) -> Any:
    """Batches for ``epochs`` in a row, each epoch in the order of ``rng([seed, epoch])``.

    Keras's own ``shuffle=True`` repeats one permutation every epoch under a fixed seed;
    this order depends only on (seed, epoch), so a resumed run sees the same batches."""
    from zoo.tf import tf

    import numpy as np

    orders = np.stack([np.random.default_rng([seed, epoch]).permutation(len(x)) for epoch in epochs])
    x_t, y_t = tf.constant(x), tf.constant(y)
    batches = tf.data.Dataset.from_tensor_slices(orders).flat_map(lambda order: tf.data.Dataset.from_tensor_slices(order).batch(batch_size))
    return batches.map(lambda idx: (tf.gather(x_t, idx), tf.gather(y_t, idx))).prefetch(2)


def _epoch_start_callback(seed_states: list, seed: int, bar: Any, trained: list) -> Any:
    """A Keras callback that sets every seed-generator state to ``[seed, epoch]`` as an
    epoch starts (Keras does not save that state, so a resumed run needs it reset), and
    moves the progress bar. Built in a function so this module imports no Keras."""
    from zoo.tf import keras

    class EpochStart(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            for state in seed_states:  # Keras counts epochs from 0, the zoo from 1
                state.assign(keras.ops.convert_to_tensor([seed, epoch + 1], dtype=state.dtype))

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            trained.append(epoch + 1)
            bar.update(1)
            bar.set_postfix(loss=f"{(logs or {}).get('loss', float('nan')):.4f}")

    return EpochStart()


def _save_epoch(model: Any, evaluate: SplitEvaluator, run_dir: Path, epoch: int) -> mf.EpochEntry:
    rel = epoch_dir(epoch)
    weights, resume_state = run_dir / rel / WEIGHTS_FILENAME, run_dir / rel / RESUME_FILENAME
    save_weights(model, weights)
    save_resume_state(model, resume_state)
    files = (
        mf.FileEntry(path=f"{rel}/{WEIGHTS_FILENAME}", sha256=sha256_file(weights), size=weights.stat().st_size, role="weights"),
        mf.FileEntry(path=f"{rel}/{RESUME_FILENAME}", sha256=sha256_file(resume_state), size=resume_state.stat().st_size, role="resume", optional=True),
    )
    return mf.EpochEntry(epoch=epoch, files=files, metrics=evaluate(model), created_at=mf.utc_now())


def _base_manifest(recipe: Recipe, model: Any, epochs: int, previous: mf.Manifest | None) -> mf.Manifest:
    from zoo.tf import keras, tf

    return mf.Manifest(
        schema_version=mf.SCHEMA_VERSION,
        name=previous.name if previous else recipe.name,
        description=recipe.description,
        license=recipe.license,
        recipe=mf.RecipeRef(
            name=recipe.name,
            version=recipe.version,
            builder_kwargs=recipe.builder_kwargs,
            input_shape=recipe.input_shape,
            dataset=mf.Dataset(name=recipe.dataset.name, splits=dict(recipe.dataset.splits)),
            train_config=mf.TrainConfig(**{**recipe.train.__dict__, "epochs": epochs}),
        ),
        compat=mf.Compat(
            format=mf.WEIGHTS_FORMAT,
            keras=keras.__version__,
            tensorflow=tf.__version__,
            param_count=int(model.count_params()),
            layout_sha256=layout_sha256(model_layout(model)),
            architecture_sha256=architecture_sha256(model),
        ),
        hub=None,
        default_epoch=1,
        selection={},
    )


def _with_epochs(base: mf.Manifest, recipe: Recipe, entries: list[mf.EpochEntry]) -> mf.Manifest:
    """Fill in the epochs, the default (last) epoch and the best one by the recipe's metric."""
    scored = [e for e in entries if recipe.selection_metric in e.metrics]
    selection = {}
    if scored:
        pick = max if recipe.selection_mode == "max" else min
        best = pick(scored, key=lambda e: e.metrics[recipe.selection_metric])
        selection["best"] = mf.Selection(metric=recipe.selection_metric, mode=recipe.selection_mode, epoch=best.epoch)
    return base.replace(epochs=tuple(entries), default_epoch=entries[-1].epoch, selection=selection)


def _check_resumable(run_dir: Path, recipe: Recipe) -> mf.Manifest:
    """Refuse, without touching anything, a run dir that is missing, foreign or damaged."""
    path = run_dir / MANIFEST_FILENAME
    if not path.is_file():
        raise RunDirError(f"nothing to resume in {run_dir}: no {MANIFEST_FILENAME}", hint="Start a new run there without `resume`.")
    try:
        previous = mf.load(path)
    except ManifestError as exc:
        raise RunDirError(f"cannot resume {run_dir}: its run manifest is damaged: {exc.message}") from None
    compat.check_same_recipe(previous.recipe, recipe)
    if previous.recipe.train_config.seed != recipe.train.seed:
        raise RunDirError(f"cannot resume {run_dir}: it was trained with seed {previous.recipe.train_config.seed}, recipe {recipe.name} uses {recipe.train.seed}")
    for entry in previous.epochs:
        for f in entry.files:
            verify_file(run_dir / f.path, f, shown_as=str(run_dir / f.path), hint="The file changed after the run recorded it; nothing was modified.")
    if previous.epochs[-1].file("resume") is None:
        raise RunDirError(f"cannot resume {run_dir}: epoch {previous.last_epoch} has no resume state")
    return previous


def seed_run_from(reference: str, recipe: Recipe, run_dir: Path) -> None:
    """Lay a published epoch (``NAME@EPOCH``) into an empty run dir as its first, verified epoch."""
    name, epoch = split_epoch(reference)
    if epoch is None:
        raise UsageError(f"`start_from` takes NAME@EPOCH (e.g. {recipe.name}@50), got {reference!r}")
    if run_dir.exists() and any(run_dir.iterdir()):
        raise RunDirError(f"{run_dir} is not empty", hint="`start_from` starts a new run: choose an empty `out`.")
    source = resolve(name)
    if isinstance(source, FileSource):
        raise UsageError(f"{name} is a model file: `start_from` needs a published epoch with its resume state")
    published = source.manifest
    entry = published.resolve_epoch(epoch)
    compat.check_same_recipe(published.recipe, recipe)
    if entry.file("resume") is None:
        raise UsageError(f"{name} epoch {entry.epoch} was published without its resume state (optimizer)", hint="Pick an epoch published with one ('zoo info' lists them).")
    for f in source.files([entry], roles=("weights", "resume")):
        with atomic_path(run_dir / f.path_in_repo) as tmp:
            shutil.copyfile(f.local_path, tmp)
    files = tuple(f for f in entry.files if f.role in ("weights", "resume"))
    first = mf.EpochEntry(entry.epoch, files, entry.metrics, entry.created_at)
    best = {"best": mf.Selection(recipe.selection_metric, recipe.selection_mode, entry.epoch)} if recipe.selection_metric in entry.metrics else {}
    mf.write(published.replace(hub=None, epochs=(first,), default_epoch=entry.epoch, selection=best), run_dir / MANIFEST_FILENAME)
