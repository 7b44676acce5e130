"""Export a zoo epoch to the formats of the Keras/TF world, each checked by loading it back.

| format | file | keeps | loaded back with |
|---|---|---|---|
| ``keras`` | ``.keras`` zip | architecture, weights, optimizer state (from the resume state) | ``keras.models.load_model`` |
| ``h5`` | legacy HDF5 full model | architecture, weights | ``keras.models.load_model`` |
| ``weights`` | ``.weights.h5`` | weights only | the recipe's builder + ``load_weights`` |
| ``savedmodel`` | directory with ``serving_default`` | a traced graph, weights | ``tf.saved_model.load`` (TF Serving) |
| ``onnx`` | ``.onnx`` | a graph, weights | onnxruntime |
| ``litert`` | ``.tflite`` (float, or ``quantize``: float16, dynamic-int8, int8) | a graph, weights | ``ai_edge_litert`` |

Every export is written next to its target and renamed into place only once its
predictions on the recipe's test inputs match the zoo model's, as its own runtime
computes them (ONNX and LiteRT never through TensorFlow); an existing path needs
``force``. ``raw_input`` puts the recipe's preprocessing in the graph: the export takes
the uint8 pixels of an image of the recipe's size. The input contract is written beside
every export (``<out>.input.json``), so a user with no Python knows what to feed it.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo import compat
from zoo.errors import ExportError, UsageError, ZooError
from zoo.formats import portable
from zoo.formats.checkpoint import load_resume_state, save_weights
from zoo.resolve import FileSource, resolve
from zoo.workflows.loading import load_epoch

FORMATS = ("keras", "h5", "weights", "savedmodel", "onnx", "litert")
_SUFFIX = {"keras": ".keras", "h5": ".h5", "weights": ".weights.h5", "savedmodel": "", "onnx": ".onnx", "litert": ".tflite"}
# Largest |export - Keras| accepted on the test inputs, relative to the largest output
# (at least 1: probabilities, or a detector's logits): float exports agree to float32
# rounding; quantized ones are lossy by design (compare --export says what they cost).
TOLERANCE = {None: 1e-4, "float16": 2e-2, "dynamic-int8": 1.5e-1, "int8": 3e-1}


@dataclass(frozen=True)
class ExportResult:
    path: Path
    format: str
    size: int  # bytes on disk (all files, for a SavedModel directory)
    max_abs_diff: float  # between the export, in its own runtime, and the zoo model on the test inputs
    with_optimizer: bool
    quantize: str | None = None
    raw_input: bool = False
    contract: Path | None = None  # the input contract written beside it

    def to_dict(self) -> dict:
        return {**self.__dict__, "path": str(self.path), "contract": str(self.contract) if self.contract else None}


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _check_target(out: Path, fmt: str, force: bool, quantize: str | None, raw_input: bool) -> None:
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}", hint=f"Use one of: {', '.join(FORMATS)}.")
    if quantize is not None and (fmt != "litert" or quantize not in portable.QUANTIZATIONS):
        raise UsageError(f"`quantize={quantize!r}` is for `fmt='litert'`: one of {', '.join(portable.QUANTIZATIONS)}")
    if raw_input and fmt not in ("onnx", "litert"):
        raise UsageError("`raw_input=True` is for `fmt='onnx'` and `fmt='litert'`")
    suffix = _SUFFIX[fmt]
    if suffix and not out.name.endswith(suffix):
        raise UsageError(f"`out` for format {fmt} must end with {suffix}, got {out.name}")
    if fmt == "h5" and out.name.endswith(".weights.h5"):
        raise UsageError("format h5 is a full model; a .weights.h5 file is `fmt='weights'`")
    if out.exists() and not force:
        raise UsageError(f"{out} already exists", hint="Pass `force=True` to replace it.")


def _write(model: Any, fmt: str, tmp: Path, input_shape: tuple[int, ...], dtype: str, quantize: str | None, representative: Any) -> None:
    if fmt == "keras":
        model.save(str(tmp))
    elif fmt == "h5":
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Keras warns that HDF5 is legacy: exporting it is the point
            model.save(str(tmp))
    elif fmt == "weights":
        save_weights(model, tmp)
    elif fmt == "onnx":
        portable.write_onnx(model, tmp, input_shape, dtype)
    elif fmt == "litert":
        portable.write_litert(model, tmp, input_shape, dtype=dtype, quantize=quantize, representative=representative)
    else:
        model.export(str(tmp), format="tf_saved_model", verbose=False)


def _reload_predict(fmt: str, path: Path, model: Any, recipe: Any, builder_kwargs: dict, batch: Any) -> Any:
    """Predictions of the export as its own runtime computes them (not through the zoo)."""
    from zoo.tf import keras, tf

    if fmt in ("onnx", "litert"):
        return portable.Runner(path, fmt).predict(batch)
    if fmt == "savedmodel":
        serve = tf.saved_model.load(str(path)).signatures["serving_default"]
        [output] = serve(tf.constant(batch)).values()
        return output.numpy()
    if fmt == "weights":
        fresh = recipe.build(**builder_kwargs)  # the manifest's: a model of the user's classes has its own head
        fresh.load_weights(str(path))
        return fresh.predict(batch, verbose=0)
    custom = {type(model).__name__: type(model)}  # a subclassed model's class, for legacy HDF5
    return keras.models.load_model(str(path), compile=False, custom_objects=custom).predict(batch, verbose=0)


def _inputs(manifest: Any, recipe: Any, data: Path | str | None, quantize: str | None) -> Any:
    """What the export is checked (test split) and int8-calibrated (train split) on: the
    user's ``data`` when given, else the recipe's dataset, whose inputs have the right shape
    but, for a model trained on other images, not the distribution int8 must be calibrated on."""
    if data is not None:
        from zoo.workflows.user_data import read

        if recipe.preprocess is None or recipe.task != "classification":
            raise UsageError(f"`data` is labelled images, and recipe {recipe.name} does not take them (it is a {recipe.task} recipe)")
        return read(data, recipe.preprocess, tuple(recipe.input_shape), seed=recipe.train.seed).splits
    trained_on = manifest.recipe.dataset
    if trained_on.fingerprint is not None and quantize == "int8":
        raise UsageError(f"{manifest.name} was trained on {trained_on.name}, not on recipe {recipe.name}'s dataset: int8 calibration needs examples of it",
                         hint="Pass `data` (the folder or .npz it was trained on), or quantize without calibration (`quantize='dynamic-int8'`).")
    return recipe.dataset.load()


def raw_pixels(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The uint8 pixels a ``raw_input`` export takes, from a recipe's [0, 1] inputs."""
    return np.clip(np.round(np.asarray(x) * 255.0), 0, 255).astype(np.uint8).reshape(-1, *shape)


def with_raw_input(model: Any, recipe: Any) -> Any:
    """``model`` behind the recipe's preprocessing: a model of uint8 pixels of its size."""
    from zoo.tf import keras

    if recipe.raw_input is None:
        raise UsageError(f"recipe {recipe.name} does not say how raw pixels become its input", hint="Export without `raw_input`.")
    pixels = keras.Input(recipe.raw_shape, dtype="uint8", name="pixels")
    return keras.Model(pixels, model(recipe.raw_input(pixels)), name=f"{model.name}_raw")


def write_contract(out: Path, manifest: Any, entry: Any, fmt: str, raw_input: bool, recipe: Any) -> Path:
    """``<out>.input.json``: what the export takes and gives, for a user without zoo."""
    spec = manifest.input
    taken = ({"shape": list(recipe.raw_shape), "dtype": "uint8", "range": [0, 255],
              "preprocessing": f"none: the export applies the recipe's own ({spec.preprocessing})"}
             if raw_input else {"shape": list(spec.shape), "dtype": spec.dtype, "range": list(spec.range) if spec.range else None, "preprocessing": spec.preprocessing})
    contract = {"model": manifest.name, "epoch": entry.epoch, "commit": entry.commit, "format": fmt, "input": taken,
                "batch": "the first dimension, any size", "classes": list(manifest.classes)}
    path = out.with_name(out.name + ".input.json")
    path.write_text(json.dumps(contract, indent=2) + "\n")
    return path


def export(name: str, epoch: int | str | None, fmt: str, out: Path | str, *, force: bool = False, revision: str | None = None,
           quantize: str | None = None, raw_input: bool = False, data: Path | str | None = None) -> ExportResult:
    """Write epoch ``epoch`` of ``name`` as ``fmt`` at ``out``, verified in its own runtime.

    ``quantize`` (LiteRT): ``float16``, ``dynamic-int8``, or ``int8`` (calibrated on the
    recipe's training split, or on ``data``). ``raw_input`` (ONNX, LiteRT): the export takes
    uint8 pixels. ``data``: images (a folder of class folders, or an ``.npz``) to check and
    calibrate the export on instead of the recipe's dataset; a model trained on data of its
    own needs it for ``int8``."""
    out = Path(out)
    _check_target(out, fmt, force, quantize, raw_input)
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
    splits = _inputs(manifest, recipe, data, quantize)
    batch, calibration = splits.test[0], np.asarray(splits.train[0][:100], dtype="float32")
    shape, dtype = tuple(recipe.input_shape), "float32"
    if raw_input:
        model, shape, dtype = with_raw_input(model, recipe), tuple(recipe.raw_shape), "uint8"
        batch, calibration = raw_pixels(batch, shape), raw_pixels(calibration, shape)
    expected = np.asarray(model.predict(batch, verbose=0))

    def representative():
        for i in range(len(calibration)):
            yield [calibration[i : i + 1]]

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    tmp = staging / (out.name if fmt != "savedmodel" else "model")
    try:
        _write(model, fmt, tmp, shape, dtype, quantize, representative)
        try:
            got = np.asarray(_reload_predict(fmt, tmp, model, recipe, manifest.recipe.builder_kwargs, batch))
        except ZooError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure to load back is an export failure
            raise ExportError(f"the {fmt} export of {manifest.name} epoch {entry.epoch} does not load back: {exc.__class__.__name__}: {exc}") from None
        diff = float(np.max(np.abs(got - expected)))
        allowed = TOLERANCE[quantize] * max(1.0, float(np.max(np.abs(expected))))
        if not diff <= allowed:
            raise ExportError(f"the {fmt} export of {manifest.name} epoch {entry.epoch} predicts differently: largest |difference| {diff:.3g} "
                              f"on the test inputs (at most {allowed:.3g} is accepted)", hint="Nothing was written.")
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        tmp.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    contract = write_contract(out, manifest, entry, fmt, raw_input, recipe)
    return ExportResult(path=out, format=fmt, size=_size(out), max_abs_diff=diff, with_optimizer=with_optimizer,
                        quantize=quantize, raw_input=raw_input, contract=contract)
