"""The one place that writes and reads checkpoint files.

* ``model.weights.h5``: weights only, no optimizer state. It is what gets
  published: numeric arrays, no code, loads into a freshly built model. Weights larger
  than the shard size are Keras sharded weights instead (``formats/sharded.py``).
* ``config.json`` + ``metadata.json`` beside it: the layout Keras reads from a directory
  or from ``hf://ORG/NAME`` (``keras.saving.load_model``), so an epoch directory is a
  Keras model directory. The config carries no compile config (a published model is for
  inference; the resume state has the optimizer).
* ``resume.keras``: the full Keras archive with optimizer state, to continue training.
* Imports from outside the zoo: Keras-2 HDF5 weights (``tf_keras`` ``save_weights('x.h5')``)
  and full-model files (``.keras``, legacy ``.h5``), loaded in Keras's safe mode.

Loading weights published by the zoo goes through ``zoo.compat.load_checked``, which
checks the file's layout against the model first. ``skip_mismatch`` is never used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.constants import source_date_epoch
from zoo.errors import ArchitectureMismatchError, FileFormatError, UnsafeFileError, UsageError
from zoo.fileio import atomic_path
from zoo.formats import keras_internals, sharded
from zoo.formats.fingerprint import model_layout

WEIGHTS_FILENAME = "model.weights.h5"
CONFIG_FILENAME = "config.json"
METADATA_FILENAME = "metadata.json"
RESUME_FILENAME = "resume.keras"


def save_model_config(model: Any, path: Path) -> None:
    """Atomically write ``config.json``: the model as Keras serializes it, without its
    compile config, shared objects numbered in order (the same model, the same bytes)."""
    import json

    from zoo.tf import keras

    config = keras.saving.serialize_keras_object(model)
    config.pop("compile_config", None)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_renumber_shared_objects(config)))


def save_metadata(path: Path, zoo_fields: dict[str, Any]) -> None:
    """Atomically write ``metadata.json``: Keras's fields (its version, the save date, fixed
    by ``SOURCE_DATE_EPOCH``) and zoo's under ``"zoo"``."""
    import json
    import time

    from zoo.tf import keras

    stamp = source_date_epoch()
    saved = time.strftime("%Y-%m-%d@%H:%M:%S", time.gmtime(stamp) if stamp is not None else time.gmtime())
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({"keras_version": keras.__version__, "date_saved": saved, "zoo": zoo_fields}, sort_keys=True))


def save_weights(model: Any, path: Path) -> None:
    """Atomically write weights only (the optimizer is skipped, halving the file)."""
    with atomic_path(path, suffix=".weights.h5") as tmp:
        keras_internals.save_weights_only(model, tmp)


def save_epoch_weights(model: Any, directory: Path, shard_size: int) -> list[tuple[str, str]]:
    """Write an epoch's weights into ``directory``: one ``model.weights.h5``, or Keras sharded
    weights (``formats/sharded.py``) when they are larger than ``shard_size`` bytes (which
    ``check_shard_size`` accepted before training). Returns each file's name with its
    manifest role, the weights (or the index) first."""
    total, _ = sharded.weights_bytes(model_layout(model))
    if total <= shard_size:
        save_weights(model, directory / WEIGHTS_FILENAME)
        return [(WEIGHTS_FILENAME, "weights")]
    index, *shards = sharded.save(model, directory, shard_size)
    return [(index, "weights"), *((name, sharded.SHARD_ROLE) for name in shards)]


def check_shard_size(model: Any, shard_size: int) -> None:
    """Refuse, before any training, a shard size that the model's largest weight exceeds
    (a weight is never split between shards)."""
    total, largest = sharded.weights_bytes(model_layout(model))
    if total > shard_size and largest > shard_size:
        raise UsageError(f"`shard_size` {shard_size:,} bytes is smaller than this model's largest weight ({largest:,} bytes), which a shard must hold whole",
                         hint=f"Pass a `shard_size` of at least {largest:,} bytes.")


def save_resume_state(model: Any, path: Path) -> None:
    """Atomically write the full ``.keras`` archive: config, weights and optimizer state."""
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(str(tmp))
        _make_reproducible(tmp)


def _make_reproducible(archive: Path) -> None:
    """Keras stamps ``.keras`` archives with the save time (``date_saved``, a zip entry date)
    and memory addresses (``shared_object_id``). Fix the times (to ``SOURCE_DATE_EPOCH``
    when set) and number the shared objects in order, so the same state gives the same bytes."""
    import json
    import time
    import zipfile

    stamp = source_date_epoch()
    with zipfile.ZipFile(archive) as z:
        entries = [(info, z.read(info.filename)) for info in z.infolist()]
    with zipfile.ZipFile(archive, "w") as z:
        for info, data in entries:
            if info.filename == "metadata.json" and stamp is not None:
                meta = json.loads(data)
                meta["date_saved"] = time.strftime("%Y-%m-%d@%H:%M:%S", time.gmtime(stamp))
                data = json.dumps(meta).encode()
            elif info.filename == "config.json":
                data = json.dumps(_renumber_shared_objects(json.loads(data))).encode()
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type, fixed.external_attr = info.compress_type, info.external_attr
            z.writestr(fixed, data)


def _renumber_shared_objects(config: Any) -> Any:
    ids: dict[int, int] = {}

    def walk(obj: Any) -> Any:
        if isinstance(obj, dict):
            return {k: ids.setdefault(v, len(ids)) if k == "shared_object_id" else walk(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [walk(v) for v in obj]
        return obj

    return walk(config)


def load_resume_state(model: Any, path: Path) -> None:
    """Load weights and optimizer state from ``resume.keras`` into a compiled model."""
    import zipfile

    model.optimizer.build(model.trainable_variables)
    try:
        model.load_weights(str(path))
    except (zipfile.BadZipFile, OSError, KeyError) as exc:
        raise FileFormatError(f"{path}: unreadable resume state ({exc})", hint="The file is damaged; resume from an earlier epoch.") from None


def read_weights(model: Any, path: Path, *, what: str | None = None) -> Any:
    """Keras loads the weights into ``model`` (a compiled one keeps its optimizer state:
    published files carry none). Check the layout first (``zoo.compat.load_checked``)."""
    try:
        keras_internals.load_weights_only(model, path)
    except ValueError as exc:  # Keras found a mismatch the layout check could not see
        raise ArchitectureMismatchError(f"{what or path}: Keras refused the weights: {exc}") from None
    return model


def non_finite_datasets(path: Path) -> list[str]:
    """The datasets of a weights file, or of every shard a sharded index names (read one
    at a time), that hold NaN or infinity."""
    import h5py
    import numpy as np

    found: list[str] = []

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "f" and not np.isfinite(obj[()]).all():
            found.append(name)

    for file in sharded.shard_paths(Path(path)) if sharded.is_index(path) else [path]:
        with h5py.File(file, "r") as h5:
            h5.visititems(visit)
    return found


def non_finite_variables(model: Any) -> list[str]:
    """The model's float variables that hold NaN or infinity (checked where they are)."""
    from zoo.tf import keras

    ops = keras.ops
    return [v.path for v in model.weights if "float" in str(v.dtype) and not bool(ops.all(ops.isfinite(v.value)))]


# -- files from outside the zoo ----------------------------------------------------------
def is_legacy_h5_weights(path: Path) -> bool:
    """A Keras-2 style HDF5 weights file: top-level ``layer_names``, one group per layer."""
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            return "layer_names" in h5.attrs and "model_config" not in h5.attrs
    except OSError:
        return False


def _legacy_shapes(path: Path) -> list[tuple[str, list[tuple[int, ...]]]]:
    import h5py

    with h5py.File(path, "r") as h5:
        out = []
        for name in h5.attrs["layer_names"]:
            name = name.decode() if isinstance(name, bytes) else str(name)
            group = h5[name]
            weights = [w.decode() if isinstance(w, bytes) else str(w) for w in group.attrs.get("weight_names", [])]
            if weights:
                out.append((name, [tuple(group[w].shape) for w in weights]))
        return out


def load_legacy_weights(model: Any, path: Path, *, what: str | None = None) -> Any:
    """Load Keras-2 HDF5 weights after checking, layer by layer in order, that the shapes fit."""
    try:
        file_layers = _legacy_shapes(path)
    except (OSError, KeyError, ValueError) as exc:
        raise FileFormatError(f"{what or path}: unreadable Keras-2 HDF5 weights ({exc})") from None
    model_layers = [(layer.name, [tuple(w.shape) for w in layer.weights]) for layer in model.layers if layer.weights]
    problems = []
    if len(file_layers) != len(model_layers):
        problems.append(f"  the file has {len(file_layers)} layers with weights, the model {len(model_layers)}")
    for (file_name, file_shapes), (model_name, model_shapes) in zip(file_layers, model_layers):
        if [list(s) for s in file_shapes] != [list(s) for s in model_shapes]:
            problems.append(f"  {model_name}: model expects {[list(s) for s in model_shapes]}, file layer {file_name} has {[list(s) for s in file_shapes]}")
    if problems:
        raise ArchitectureMismatchError(
            f"{what or path}: the Keras-2 weights do not fit the architecture built from the recipe:\n" + "\n".join(problems[:6]),
            hint="Load them into the recipe (and builder kwargs) they were saved from.",
        )
    try:
        model.load_weights(str(path))
    except ValueError as exc:
        raise ArchitectureMismatchError(f"{what or path}: Keras refused the weights: {exc}") from None
    return model


def load_model_file(path: Path, *, allow_unsafe: bool = False, custom_objects: dict | None = None) -> Any:
    """``keras.models.load_model`` in safe mode: a Lambda layer (stored bytecode) is refused
    unless ``allow_unsafe`` is given explicitly."""
    import zipfile

    from zoo.tf import keras

    try:
        return keras.models.load_model(str(path), compile=False, safe_mode=not allow_unsafe, custom_objects=custom_objects)
    except ValueError as exc:
        if "safe_mode" in str(exc) or "Lambda" in str(exc) or "lambda" in str(exc):
            raise UnsafeFileError(
                f"{path}: refused to load: it contains a Lambda layer, whose stored bytecode would run on load",
                hint="Load it only if you trust its author: pass `allow_unsafe=True`.",
            ) from None
        raise FileFormatError(f"{path}: Keras cannot load this model file: {str(exc).splitlines()[0]}") from None
    except (zipfile.BadZipFile, OSError, KeyError, TypeError) as exc:
        raise FileFormatError(f"{path}: not a readable Keras model file ({exc.__class__.__name__}: {exc})", hint="The file is truncated or not a .keras/.h5 model.") from None
