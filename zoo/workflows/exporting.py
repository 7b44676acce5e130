"""Export a zoo epoch to the formats of the Keras/TF world, each checked by loading it back.

| format | file | keeps | loaded back with |
|---|---|---|---|
| ``keras`` | ``.keras`` zip | architecture, weights, optimizer state (from the resume state) | ``keras.models.load_model`` |
| ``h5`` | legacy HDF5 full model | architecture, weights | ``keras.models.load_model`` |
| ``weights`` | ``.weights.h5`` | weights only | the recipe's builder + ``load_weights`` |
| ``savedmodel`` | directory with ``serving_default`` | a traced graph, weights | ``tf.saved_model.load`` (TF Serving) |

Every export is written next to its target and renamed into place only once its
predictions on a fixed batch match the zoo model's; an existing path needs ``force``.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo import compat
from zoo.errors import ExportError, UsageError
from zoo.formats.checkpoint import load_resume_state, save_weights
from zoo.resolve import FileSource, resolve
from zoo.workflows.loading import load_epoch

FORMATS = ("keras", "h5", "weights", "savedmodel")
_SUFFIX = {"keras": ".keras", "h5": ".h5", "weights": ".weights.h5", "savedmodel": ""}
TOLERANCE = 1e-5


@dataclass(frozen=True)
class ExportResult:
    path: Path
    format: str
    size: int  # bytes on disk (all files, for a SavedModel directory)
    max_abs_diff: float  # between the reloaded export and the zoo model on a fixed batch
    with_optimizer: bool

    def to_dict(self) -> dict:
        return {**self.__dict__, "path": str(self.path)}


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _check_target(out: Path, fmt: str, force: bool) -> None:
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}", hint=f"Use one of: {', '.join(FORMATS)}.")
    suffix = _SUFFIX[fmt]
    if suffix and not out.name.endswith(suffix):
        raise UsageError(f"`out` for format {fmt} must end with {suffix}, got {out.name}")
    if fmt == "h5" and out.name.endswith(".weights.h5"):
        raise UsageError("format h5 is a full model; a .weights.h5 file is `fmt='weights'`")
    if out.exists() and not force:
        raise UsageError(f"{out} already exists", hint="Pass `force=True` to replace it.")


def _write(model: Any, fmt: str, tmp: Path) -> None:
    if fmt == "keras":
        model.save(str(tmp))
    elif fmt == "h5":
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Keras warns that HDF5 is legacy: exporting it is the point
            model.save(str(tmp))
    elif fmt == "weights":
        save_weights(model, tmp)
    else:
        model.export(str(tmp), format="tf_saved_model", verbose=False)


def _reload_predict(fmt: str, path: Path, model: Any, recipe: Any, batch: Any) -> Any:
    """Predictions of the export as plain Keras/TF loads it (not through the zoo)."""
    from zoo.tf import keras, tf

    if fmt == "savedmodel":
        serve = tf.saved_model.load(str(path)).signatures["serving_default"]
        [output] = serve(tf.constant(batch)).values()
        return output.numpy()
    if fmt == "weights":
        fresh = recipe.build(**recipe.builder_kwargs)
        fresh.load_weights(str(path))
        return fresh.predict(batch, verbose=0)
    custom = {type(model).__name__: type(model)}  # a subclassed model's class, for legacy HDF5
    return keras.models.load_model(str(path), compile=False, custom_objects=custom).predict(batch, verbose=0)


def export(name: str, epoch: int | str | None, fmt: str, out: Path | str, *, force: bool = False, revision: str | None = None) -> ExportResult:
    """Write epoch ``epoch`` of ``name`` as ``fmt`` at ``out``, verified by reloading it."""
    out = Path(out)
    _check_target(out, fmt, force)
    source = resolve(name, revision)
    if isinstance(source, FileSource):
        raise UsageError(f"{name} is a model file already: export needs a published model or a run directory")
    manifest = source.manifest
    entry = source.entry(epoch)
    recipe = compat.recipe_for(manifest.recipe)
    if fmt == "h5" and recipe.style == "subclassed":
        raise ExportError(
            f"{manifest.name} is a subclassed keras.Model: a legacy HDF5 full model cannot hold it "
            "(Keras rebuilds it from its config without building its layers, so no weight would load)",
            hint="Export it as `fmt='keras'` (architecture, weights and optimizer) or `fmt='weights'`.",
        )
    with_optimizer = False
    if fmt == "keras" and entry.file("resume") is not None:
        model = recipe.compile(compat.build_checked(manifest))
        files = {f.role: f.local_path for f in source.files([entry], roles=("weights", "resume"))}
        compat.check_layout(model, files["weights"])
        load_resume_state(model, files["resume"])
        with_optimizer = True
    else:
        model = load_epoch(source, entry)
    batch = recipe.dataset.load().test[0][:16]
    expected = np.asarray(model.predict(batch, verbose=0))

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    tmp = staging / (out.name if fmt != "savedmodel" else "model")
    try:
        _write(model, fmt, tmp)
        try:
            got = np.asarray(_reload_predict(fmt, tmp, model, recipe, batch))
        except Exception as exc:  # noqa: BLE001 - any failure to load back is an export failure
            raise ExportError(f"the {fmt} export of {manifest.name} epoch {entry.epoch} does not load back: {exc.__class__.__name__}: {exc}") from None
        diff = float(np.max(np.abs(got - expected)))
        if not diff <= TOLERANCE:
            raise ExportError(f"the {fmt} export of {manifest.name} epoch {entry.epoch} predicts differently (max |diff| {diff:.3g})")
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        tmp.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ExportResult(path=out, format=fmt, size=_size(out), max_abs_diff=diff, with_optimizer=with_optimizer)
