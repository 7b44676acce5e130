"""Deterministic per-epoch training into a run directory, with exact resume.

Run directory layout (each epoch directory is what its Hub commit holds at its root)::

    RUN/zoo.json                        the run manifest (manifest v2, hub: null)
    RUN/epochs/e010/config.json         the model's Keras config   } a Keras model directory:
    RUN/epochs/e010/metadata.json       Keras's and zoo's fields    } keras.saving.load_model
    RUN/epochs/e010/model.weights.h5    weights only                } reads it as it is
                                        (larger than the shard size: model.weights.json + shards)
    RUN/epochs/e010/resume.keras        full model with optimizer state, to continue training

Determinism (docs/design.md): Keras reuses one shuffle permutation every epoch under a
fixed seed, and never saves the Dropout seed-generator state. So every epoch's batch
order comes from ``default_rng([seed, epoch])``, and a callback sets every
seed-generator state to ``[seed, epoch]`` as each epoch starts. Resuming at any saved
epoch then reproduces the uninterrupted run bit for bit.

Files are written atomically and the manifest last, so a run killed at any moment
never records a half-written file and stays resumable.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Iterator


from zoo import compat
from zoo.constants import MANIFEST_FILENAME
from zoo.errors import ArchitectureMismatchError, DiskError, ManifestError, RunDirError, UsageError, ZooError
from zoo.fileio import atomic_path, sha256_file
from zoo.formats import manifest as mf, sharded
from zoo.formats.checkpoint import (
    CONFIG_FILENAME,
    METADATA_FILENAME,
    RESUME_FILENAME,
    check_shard_size,
    load_resume_state,
    save_epoch_weights,
    save_metadata,
    save_model_config,
    save_resume_state,
)
from zoo.registry import Recipe, get_recipe
from zoo.resolve import FileSource, HubSource, RunSource, is_repo_id, resolve, split_epoch
from zoo.transfer import all_trainable, set_backbone_trainable, with_new_head
from zoo.workflows import distribute
from zoo.workflows.evaluation import SplitEvaluator
from zoo.workflows.loading import load_epoch
from zoo.workflows.publishing import BackgroundPublisher, PublishResult
from zoo.workflows.user_data import UserData, load as load_user_data, recipe_for_data


EPOCH_ROLES = ("weights", "config", "metadata", "resume")  # "weights" brings a sharded epoch's shards


def epoch_dir(epoch: int) -> str:
    return f"epochs/e{epoch:03d}"


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    manifest: mf.Manifest
    trained_epochs: list[int]
    published: PublishResult | None = None  # with ``publish``: where the Hub stands now
    chief: bool = True  # False: a worker of a multi-worker run, whose private ``run_dir`` is gone

    def to_dict(self) -> dict[str, Any]:
        return {"run_dir": str(self.run_dir) if self.chief else None, "chief": self.chief, "trained_epochs": self.trained_epochs,
                "manifest": self.manifest.to_dict(), "published": self.published.to_dict() if self.published else None}


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
    publish: str | None = None,
    hub_dir: Path | str | None = None,
    data: Path | str | None = None,
    learning_rate: float | None = None,
    freeze_backbone: bool = False,
    unfreeze_at: int | None = None,
    strategy: str | None = None,
    replicas: int | None = None,
    shard_size: int | str | None = None,
) -> TrainResult:
    """Train ``recipe`` for ``epochs``, saving weights, resume state and metrics at ``save_at``.

    ``publish="ORG/NAME"`` publishes each saved epoch while training goes on (to the local
    hub ``hub_dir``, else to HF_ENDPOINT), one commit and tag per epoch; a resumed run first
    publishes what the Hub lacks. A run killed at any moment leaves the Hub at a complete epoch.

    ``start_from="NAME@EPOCH"`` (or ``"hf://ORG/NAME@epoch-N"``) continues from a published epoch's resume state instead of
    from scratch; on the same machine it reproduces the published later epochs bit for bit.

    ``data``: your own images (a folder of class folders, or an ``.npz``) instead of the
    recipe's dataset; the head gets one output per class. With ``start_from`` it fine-tunes:
    the published epoch's backbone, a new head, a fresh optimizer (``learning_rate``), the
    backbone frozen (``freeze_backbone``) or frozen until epoch ``unfreeze_at``.

    ``strategy="mirrored"`` trains under ``tf.distribute.MirroredStrategy`` over ``replicas``
    GPUs or, without a GPU, logical CPU devices (``workflows/distribute.py``): the same
    recipe, seed and replica count give the same bytes. ``strategy="multiworker"`` trains
    over the cluster in ``TF_CONFIG``; only its chief writes ``out`` and publishes.

    ``shard_size`` (bytes, or ``"500MB"``, ``"2GiB"``; default 5 GiB, or a resumed run's own): an
    epoch whose weights are larger is saved as Keras sharded weights (``formats/sharded.py``);
    the manifest records a size other than the default."""
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    fine_tune = start_from is not None and data is not None
    if (freeze_backbone or unfreeze_at is not None) and not fine_tune:
        raise UsageError("`freeze_backbone` and `unfreeze_at` are for fine-tuning: pass `start_from` and `data`")
    if freeze_backbone and unfreeze_at is not None:
        raise UsageError("pass `freeze_backbone` (all the way) or `unfreeze_at` (until that epoch), not both")
    if unfreeze_at is not None and (isinstance(unfreeze_at, bool) or not isinstance(unfreeze_at, int) or unfreeze_at < 1):
        raise UsageError(f"`unfreeze_at` must be a positive integer epoch, got {unfreeze_at!r}")
    if start_from is not None and resume:
        raise UsageError("pass `start_from` or `resume=True`, not both", hint="`start_from` starts a new run directory from a published epoch.")
    if hub_dir is not None and publish is None:
        raise UsageError("`hub_dir` says where `publish` goes: pass `publish='ORG/NAME'` too")
    if publish is not None and not is_repo_id(publish):
        raise UsageError(f"`publish` must be ORG/NAME, got {publish!r}", hint="Name the Hub repo alone, e.g. my-org/digits-cnn.")
    shard_bytes = None if shard_size is None else sharded.parse_size(shard_size)
    topology = distribute.make(strategy, replicas)  # before TensorFlow's first op (a recipe's preprocessing may be one)
    user_data = None
    if data is not None:
        user_data = load_user_data(data, recipe, seed=recipe.train.seed)
        recipe = recipe_for_data(recipe, user_data)
    if learning_rate is not None:
        if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)) or not learning_rate > 0:
            raise UsageError(f"`learning_rate` must be a positive number, got {learning_rate!r}")
        recipe = dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, learning_rate=float(learning_rate)))
    epochs = recipe.train.epochs if epochs is None else epochs
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise UsageError(f"`epochs` must be a positive integer, got {epochs!r}")
    run_dir = Path(out) if out is not None else Path("runs") / recipe.name
    train_in = functools.partial(_train_in, recipe=recipe, topology=topology, epochs=epochs, save_at=save_at, resume=resume,
                                 start_from=start_from, user_data=user_data, freeze_backbone=freeze_backbone, unfreeze_at=unfreeze_at,
                                 shard_size=shard_bytes)
    if not topology.chief:  # only the chief writes the run: the others train in a private copy, removed after
        with _worker_copy(run_dir, resume) as private:
            return dataclasses.replace(train_in(private, publish=None, hub_dir=None, progress=False), chief=False)
    return train_in(run_dir, publish=publish, hub_dir=hub_dir, progress=progress)


def _train_in(run_dir: Path, *, recipe: Recipe, topology: distribute.Topology, epochs: int, save_at: Iterable[int] | None, resume: bool,
              start_from: str | None, user_data: UserData | None, freeze_backbone: bool, unfreeze_at: int | None, shard_size: int | None,
              publish: str | None, hub_dir: Path | str | None, progress: bool) -> TrainResult:
    """``train`` in ``run_dir``: check it, seed it from a published epoch, then ``_run``."""
    fine_tune = start_from is not None and user_data is not None
    saves = plan_save_at(save_at, epochs, recipe)
    if start_from is not None and run_dir.exists() and any(run_dir.iterdir()):
        raise RunDirError(f"{run_dir} is not empty", hint="`start_from` starts a new run: choose an empty `out`.")
    if start_from is not None and not fine_tune:
        seed_run_from(start_from, recipe, run_dir)
        resume = True

    if resume and clear_unrecorded_run(run_dir):
        resume = False
    recipe = dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, distribution=topology.record))
    run = functools.partial(_run, recipe, run_dir, epochs=epochs, saves=saves, resume=resume, start_from=start_from if fine_tune else None,
                            user_data=user_data, freeze_backbone=freeze_backbone, unfreeze_at=unfreeze_at, shard_size=shard_size,
                            publish=publish, hub_dir=hub_dir, progress=progress)
    if topology.strategy is None:
        return run()
    from zoo.tf import tf

    try:
        with topology.strategy.scope():
            return run()
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.CancelledError, tf.errors.AbortedError) as exc:
        raise distribute.lost_worker(exc) from None


@contextlib.contextmanager
def _worker_copy(run_dir: Path, resume: bool) -> Iterator[Path]:
    """A private run directory for a worker that is not the chief: a copy of the run to
    resume (every worker reads the same recorded epoch), removed when training ends."""
    private = Path(tempfile.mkdtemp(prefix="zoo-worker-"))
    try:
        if resume and run_dir.is_dir():
            shutil.copytree(run_dir, private, dirs_exist_ok=True)
        yield private
    finally:
        shutil.rmtree(private, ignore_errors=True)


def _run(recipe: Recipe, run_dir: Path, *, epochs: int, saves: list[int], resume: bool, start_from: str | None, user_data: UserData | None,
         freeze_backbone: bool, unfreeze_at: int | None, shard_size: int | None, publish: str | None, hub_dir: Path | str | None,
         progress: bool) -> TrainResult:
    """``train`` once its arguments and run dir are checked: build (or load), fit stretch by
    stretch between saves, save, record, publish. ``start_from``: the epoch to fine-tune.
    ``shard_size``: ``None`` keeps a resumed run's own (else the default)."""
    from zoo.tf import keras

    manifest_path = run_dir / MANIFEST_FILENAME
    seed = recipe.train.seed
    keras.utils.set_random_seed(seed)
    previous: mf.Manifest | None = None
    lineage = None
    if resume:
        previous = _check_resumable(run_dir, recipe, user_data)
        lineage = previous.parent
        model = recipe.build()
    elif start_from is not None:
        backbone = "frozen" if freeze_backbone else f"frozen-until-{unfreeze_at}" if unfreeze_at is not None else "trainable"
        model, lineage = _fine_tune_start(start_from, recipe, backbone)
    else:
        model = recipe.build()
    if lineage is not None:
        freeze_backbone, unfreeze_at = lineage.backbone == "frozen", lineage.unfreeze_at
    shard_size = shard_size or (previous.recipe.train_config.shard_size if previous is not None else None) or sharded.DEFAULT_SHARD_SIZE
    recipe = dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, shard_size=sharded.recorded_size(shard_size)))
    start = previous.last_epoch if previous else 0
    if freeze_backbone or (unfreeze_at is not None and start < unfreeze_at):
        set_backbone_trainable(model, recipe, False)
    recipe.compile(model)
    check_shard_size(model, shard_size)
    if resume:
        if previous.last_epoch >= epochs and publish is not None:  # trained, not all published: finish that
            publisher = BackgroundPublisher(run_dir, publish, hub_dir=hub_dir)
            publisher.submit()
            return TrainResult(run_dir=run_dir, manifest=previous, trained_epochs=[], published=publisher.close())
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
        if unrecorded_run(run_dir):
            raise RunDirError(f"{run_dir} holds a run killed before it recorded its first epoch",
                              hint="Start it over with `resume=True` (nothing in it was recorded), or choose another `out`.")
        raise RunDirError(
            f"{run_dir} is not empty",
            hint="Continue that run with `resume=True`, or choose another `out`.",
        )

    publisher = BackgroundPublisher(run_dir, publish, hub_dir=hub_dir) if publish is not None else None
    with all_trainable(model):
        base = _base_manifest(recipe, model, epochs, previous, user_data, lineage)
    entries = list(previous.epochs) if previous else []
    splits = recipe.dataset.load()
    x_train, y_train = splits.train
    evaluate = SplitEvaluator(splits, recipe.evaluator)
    seed_states = [v for v in model.variables if v.path.endswith("seed_generator_state")]

    from tqdm.auto import tqdm

    bar = tqdm(desc=recipe.name, unit="epoch", initial=start, total=epochs, disable=not progress)
    trained = []
    try:
        if publisher is not None and entries:
            publisher.submit()  # a resumed run: first what the Hub lacks
        # One fit call per stretch between saves: a fit call per epoch would rebuild and
        # retrace the input pipeline every epoch (about 0.2 s each here).
        stops = sorted({e for e in saves if e > start} | ({unfreeze_at} if unfreeze_at is not None and start < unfreeze_at < epochs else set()))
        for stop in stops:
            callback = _epoch_start_callback(seed_states, seed, bar, trained)
            model.fit(
                _epoch_batches(x_train, y_train, seed, range(start + 1, stop + 1), recipe.train.batch_size),
                initial_epoch=start, epochs=stop, steps_per_epoch=-(-len(x_train) // recipe.train.batch_size),
                callbacks=[callback], shuffle=False, verbose=0,
            )
            start = stop
            if stop == unfreeze_at:  # from here on the whole model trains, with a fresh optimizer
                set_backbone_trainable(model, recipe, True)
                recipe.compile(model)
                model.optimizer.build(model.trainable_variables)  # its slots exist now, so a resume here restores them
                seed_states = [v for v in model.variables if v.path.endswith("seed_generator_state")]
            if stop not in saves:
                continue
            entries.append(_save_epoch(model, recipe, evaluate, run_dir, stop, shard_size))
            mf.write(base.with_epochs(entries, metric=recipe.selection_metric, mode=recipe.selection_mode), manifest_path)
            if publisher is not None:
                publisher.submit()
    except BaseException:
        if publisher is not None:
            with contextlib.suppress(ZooError):  # the run's own failure is the one to report
                publisher.close()
        raise
    finally:
        bar.close()
    published = publisher.close() if publisher is not None else None
    return TrainResult(run_dir=run_dir, manifest=mf.load(manifest_path), trained_epochs=trained, published=published)


def _fine_tune_start(start_from: str, recipe: Recipe, backbone: str) -> tuple[Any, mf.Parent]:
    """The model a fine-tuning run starts from: the published epoch's backbone (loaded with
    every check), a new head for ``recipe``'s classes; and the lineage to record."""
    name, epoch = split_epoch(start_from)
    source = resolve(name)
    if not isinstance(source, HubSource):
        raise UsageError(f"{name} is not a published model: fine-tuning records the commit it started from",
                         hint="Publish that run first (zoo publish), or start from a bundled or Hub model.")
    entry = source.entry(epoch)
    ref = source.manifest.recipe
    without_head = {k: v for k, v in recipe.builder_kwargs.items() if k != "num_classes"}
    if (ref.name, ref.version) != (recipe.name, recipe.version) or {k: v for k, v in ref.builder_kwargs.items() if k != "num_classes"} != without_head:
        raise ArchitectureMismatchError(f"{name} was trained with recipe {ref.name} v{ref.version} {ref.builder_kwargs}, not {recipe.name} v{recipe.version} {without_head}",
                                        hint=f"Fine-tune it with recipe {ref.name}.")
    model, _ = with_new_head(load_epoch(source, entry), recipe, recipe.builder_kwargs, recipe.builder_kwargs["num_classes"])
    return model, mf.Parent(source.repo_id, entry.commit, entry.epoch, source.manifest.compat.layout_sha256, backbone)


def _epoch_batches(x: Any, y: Any, seed: int, epochs: Iterable[int], batch_size: int) -> Any:
    """Batches for ``epochs`` in a row, each epoch in the order of ``rng([seed, epoch])``.

    Keras's own ``shuffle=True`` repeats one permutation every epoch under a fixed seed;
    this order depends only on (seed, epoch), so a resumed run sees the same batches."""
    from zoo.tf import tf

    import numpy as np

    orders = np.stack([np.random.default_rng([seed, epoch]).permutation(len(x)) for epoch in epochs])
    x_t, y_t = tf.constant(x), tf.constant(y)
    batches = tf.data.Dataset.from_tensor_slices(orders).flat_map(lambda order: tf.data.Dataset.from_tensor_slices(order).batch(batch_size))
    options = tf.data.Options()  # across workers: each takes its replicas' share of every global batch
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return batches.map(lambda idx: (tf.gather(x_t, idx), tf.gather(y_t, idx))).prefetch(2).with_options(options)


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


def _save_epoch(model: Any, recipe: Recipe, evaluate: SplitEvaluator, run_dir: Path, epoch: int, shard_size: int) -> mf.EpochEntry:
    """Write one epoch's directory and return its manifest entry, with the recipe's metrics."""
    files = write_epoch(model, run_dir, epoch, {"recipe": recipe.name, "recipe_version": recipe.version, "epoch": epoch}, shard_size)
    return mf.EpochEntry(epoch=epoch, files=files, metrics=evaluate(model), created_at=mf.utc_now())


def write_epoch(model: Any, run_dir: Path, epoch: int, zoo_fields: dict[str, Any], shard_size: int) -> tuple[mf.FileEntry, ...]:
    """Write one epoch's directory (a Keras model directory plus the resume state; weights
    larger than ``shard_size`` bytes sharded) and return its files; the caller records the
    epoch in ``zoo.json`` last."""
    rel = epoch_dir(epoch)
    _check_room(run_dir, model)
    with all_trainable(model):  # a frozen backbone is training state, not architecture
        save_model_config(model, run_dir / rel / CONFIG_FILENAME)
        save_metadata(run_dir / rel / METADATA_FILENAME, zoo_fields)
        weights = save_epoch_weights(model, run_dir / rel, shard_size)
        save_resume_state(model, run_dir / rel / RESUME_FILENAME)
    return tuple(
        _file_entry(run_dir, f"{rel}/{filename}", role)
        for filename, role in (*weights, (CONFIG_FILENAME, "config"), (METADATA_FILENAME, "metadata"), (RESUME_FILENAME, "resume"))
    )


def _check_room(run_dir: Path, model: Any) -> None:
    """Refuse to start writing an epoch the disk cannot hold (weights, and the resume state
    with two optimizer slots per weight): HDF5 does not always fail cleanly on a full disk."""
    needed = 4 * 4 * int(model.count_params()) + (1 << 20)
    existing = next(p for p in (run_dir, *run_dir.resolve().parents) if p.exists())
    free = shutil.disk_usage(existing).free
    if free < needed:
        raise DiskError(f"{run_dir} has {free:,} bytes free; an epoch of this model needs about {needed:,}",
                        hint="Free some space (or train elsewhere) and resume: every epoch recorded so far is kept.")


def _file_entry(run_dir: Path, rel: str, role: str) -> mf.FileEntry:
    path = run_dir / rel
    return mf.FileEntry(path=rel, sha256=sha256_file(path), size=path.stat().st_size, role=role, optional=role == "resume")


def _base_manifest(recipe: Recipe, model: Any, epochs: int, previous: mf.Manifest | None,
                   user_data: UserData | None, lineage: mf.Parent | None) -> mf.Manifest:
    dataset = mf.Dataset(name=recipe.dataset.name, splits=dict(recipe.dataset.splits))
    if user_data is not None:
        dataset = dataclasses.replace(dataset, counts=dict(user_data.counts), fingerprint=user_data.fingerprint)

    return mf.Manifest(
        schema_version=mf.SCHEMA_VERSION,
        name=previous.name if previous else recipe.name,
        description=recipe.description if user_data is None else
        f"{recipe.name} on {user_data.name} ({len(user_data.classes)} classes)" + (f", fine-tuned from {lineage.repo_id} epoch {lineage.epoch}" if lineage else ""),
        license=recipe.license,
        recipe=mf.RecipeRef(
            name=recipe.name,
            version=recipe.version,
            builder_kwargs=recipe.builder_kwargs,
            dataset=dataset,
            train_config=mf.TrainConfig(**{**recipe.train.__dict__, "epochs": epochs}),
        ),
        input=recipe.input,
        classes=tuple(recipe.class_names),
        compat=compat.describe(model),
        hub=None,
        default_epoch=1,
        selection={},
        parent=lineage,
    )


_EPOCH_FILES = {"config.json", "metadata.json", "model.weights.h5", sharded.INDEX_FILENAME, "resume.keras"}


def _epoch_file(name: str) -> bool:
    return name in _EPOCH_FILES or sharded.is_shard_name(name)


def unrecorded_run(run_dir: Path) -> bool:
    """A run dir holding only what a run writes before its first manifest: epoch files and
    the temporary files of atomic writes (no zoo.json, nothing of anyone else's)."""
    if not run_dir.is_dir() or (run_dir / MANIFEST_FILENAME).exists():
        return False
    found = False
    for path in run_dir.rglob("*"):
        rel = path.relative_to(run_dir).parts
        sharding = len(rel) >= 3 and rel[2].startswith(".shards.")  # sharded.save's temporary directory
        if path.is_dir():
            if not (rel[0] == "epochs" and (len(rel) == 1 or (len(rel) == 2 and re.fullmatch(r"e\d{3,}", rel[1])) or (len(rel) == 3 and sharding))):
                return False
            continue
        temporary = path.name.startswith(".") and ".tmp" in path.name
        ours = rel[0] == "epochs" and ((len(rel) == 3 and (_epoch_file(path.name) or temporary)) or (len(rel) == 4 and sharding))
        if not (ours or (len(rel) == 1 and temporary and path.name.startswith(f".{MANIFEST_FILENAME}."))):
            return False
        found = True
    return found


def clear_unrecorded_run(run_dir: Path) -> bool:
    """Empty a run dir killed before it recorded its first epoch (nothing in it was
    recorded, so nothing is lost); False, untouched, for anything else."""
    if not unrecorded_run(run_dir):
        return False
    shutil.rmtree(run_dir / "epochs", ignore_errors=True)
    for leftover in run_dir.iterdir():
        leftover.unlink()
    return True


def _check_resumable(run_dir: Path, recipe: Recipe, user_data: UserData | None) -> mf.Manifest:
    """Refuse, without touching anything, a run dir that is missing, foreign or damaged."""
    path = run_dir / MANIFEST_FILENAME
    if not path.is_file():
        raise RunDirError(f"nothing to resume in {run_dir}: no {MANIFEST_FILENAME}", hint="Start a new run there without `resume`.")
    try:
        previous = mf.load(path)
    except ManifestError as exc:
        raise RunDirError(f"cannot resume {run_dir}: its run manifest is damaged: {exc.message}") from None
    started_on = previous.recipe.dataset.fingerprint
    if started_on != (user_data.fingerprint if user_data else None):
        raise RunDirError(f"cannot resume {run_dir}: " + ("`data` is not the data the run started on" if started_on and user_data
                          else "it trained on the recipe's own dataset, not on `data`" if user_data else "it trained on data of its own: pass that `data`"),
                          hint="Resume with the data the run started on, or start a new run.")
    compat.check_same_recipe(previous.recipe, recipe)
    moved = distribute.differs(previous.recipe.train_config.distribution, recipe.train.distribution)
    if moved:
        warnings.warn(f"resuming {run_dir}: {moved}", distribute.TopologyWarning, stacklevel=3)
    if previous.recipe.train_config.seed != recipe.train.seed:
        raise RunDirError(f"cannot resume {run_dir}: it was trained with seed {previous.recipe.train_config.seed}, recipe {recipe.name} uses {recipe.train.seed}")
    RunSource(str(run_dir), previous, run_dir).files(previous.epochs, roles=None)
    if previous.epochs[-1].file("resume") is None:
        raise RunDirError(f"cannot resume {run_dir}: epoch {previous.last_epoch} has no resume state")
    return previous


def seed_run_from(reference: str, recipe: Recipe, run_dir: Path) -> None:
    """Lay a published epoch (``NAME@EPOCH``) into an empty run dir (the caller checked it)
    as its first, verified epoch."""
    name, epoch = split_epoch(reference)  # NAME@50; hf://ORG/NAME@epoch-50 selects its epoch itself
    source = resolve(name)
    if isinstance(source, FileSource):
        raise UsageError(f"{name} is a model file: `start_from` needs a published epoch with its resume state")
    published = source.manifest
    entry = source.entry(epoch)
    compat.check_same_recipe(published.recipe, recipe)
    if entry.file("resume") is None:
        raise UsageError(f"{name} epoch {entry.epoch} was published without its resume state (optimizer)", hint="Pick an epoch published with one ('zoo info' lists them).")
    files = []
    for f in source.files([entry], roles=EPOCH_ROLES):
        rel = f"{epoch_dir(entry.epoch)}/{PurePosixPath(f.path_in_repo).name}"
        with atomic_path(run_dir / rel) as tmp:
            shutil.copyfile(f.local_path, tmp)
        files.append(_file_entry(run_dir, rel, f.role))
    first = mf.EpochEntry(entry.epoch, tuple(files), entry.metrics, entry.created_at)
    seeded = published.replace(hub=None).with_epochs([first], metric=recipe.selection_metric, mode=recipe.selection_mode)
    mf.write(seeded, run_dir / MANIFEST_FILENAME)
