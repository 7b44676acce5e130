"""ONNX and LiteRT files: written through Keras's own ``model.export``, run in their own
runtimes (onnxruntime, ``ai_edge_litert``), never through TensorFlow.

These are the formats that leave the Keras world, so a file is only as good as its
runtime's answers: ``runner(path)`` gives a ``predict`` that the export workflow
compares with the Keras model's before the file is named. Failures are said in the
exporter's words but without its noise: an op a runtime cannot run names the layer.

The runtimes and converters are the ``export`` extra (``pip install 'zoo[export]'``):
tf2onnx, onnx, onnxruntime, ai-edge-litert, tested with tf2onnx 1.17, onnx 1.23,
onnxruntime 1.32 and ai-edge-litert 2.3 beside tensorflow-cpu 2.21 and Keras 3.15.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from zoo.errors import DependencyError, ExportError

QUANTIZATIONS = ("float16", "dynamic-int8", "int8")
INPUT_NAME = "input"


def _require(module: str, what: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise DependencyError(f"{what} needs {module}, which is not installed", hint="Install the export extra: pip install 'zoo[export]'.") from None


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The converters print banners and warnings of their own (tf2onnx's numpy patch, the
    TFLite converter's C++ logs on the process's own stdout); a user sees zoo's one line."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    try:
        with open(os.devnull, "w") as null, warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            for fd in saved:
                os.dup2(null.fileno(), fd)
            yield
    finally:
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)


def _layer(message: str) -> str:
    """The layer a converter's message points at (its op path names it), or ''."""
    match = re.search(r"(?:functional(?:_\d+)?|sequential(?:_\d+)?|[a-z_]+)/([A-Za-z0-9_]+)/[A-Za-z0-9_/]+", message)
    return f" (layer {match.group(1)})" if match else ""


def write_onnx(model: Any, path: Path, input_shape: tuple[int, ...], dtype: str = "float32") -> None:
    """Keras's ONNX export; the file is then opened by onnxruntime, which refuses ops it
    cannot run (tf2onnx only logs them)."""
    _require("tf2onnx", "ONNX export")
    onnx = _require("onnx", "ONNX export")
    from zoo.tf import keras

    spec = [keras.InputSpec(shape=(None, *input_shape), dtype=dtype, name=INPUT_NAME)]
    try:
        with _quiet():
            model.export(str(path), format="onnx", verbose=False, input_signature=spec)
        onnx.checker.check_model(str(path), full_check=True)
    except Exception as exc:  # noqa: BLE001 - the converter's failure, in zoo's words
        text = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise ExportError(f"ONNX cannot hold this model{_layer(str(exc))}: {text[:300]}",
                          hint="The layer uses an op ONNX or onnxruntime lacks; export another format, or change the layer.") from None


def write_litert(model: Any, path: Path, input_shape: tuple[int, ...], *, dtype: str = "float32", quantize: str | None = None,
                 representative: Callable[[], Iterator[list[np.ndarray]]] | None = None) -> None:
    """Keras's LiteRT export with builtin ops only (a file with TF "flex" ops exports but
    ``ai_edge_litert`` cannot run it), quantized on request."""
    _require("ai_edge_litert", "LiteRT export")
    from zoo.tf import keras, tf

    options: dict[str, Any] = {"target_spec": {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}}
    if quantize == "float16":
        options.update(optimizations=[tf.lite.Optimize.DEFAULT], target_spec={**options["target_spec"], "supported_types": [tf.float16]})
    elif quantize == "dynamic-int8":
        options.update(optimizations=[tf.lite.Optimize.DEFAULT])
    elif quantize == "int8":
        options.update(optimizations=[tf.lite.Optimize.DEFAULT], representative_dataset=representative)
    spec = [keras.InputSpec(shape=(None, *input_shape), dtype=dtype, name=INPUT_NAME)]
    try:
        with _quiet():
            model.export(str(path), format="litert", verbose=False, input_signature=spec, **options)
    except Exception as exc:  # noqa: BLE001 - the converter's failure, in zoo's words
        text = " ".join(str(exc).split())[:300]
        raise ExportError(f"LiteRT cannot hold this model{_layer(str(exc))}: {text}",
                          hint="The layer uses an op LiteRT's builtins lack; export another format, or change the layer.") from None


class Runner:
    """``predict(x)`` of an exported file in its own runtime, any batch size."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path, self.format = Path(path), fmt
        if fmt == "onnx":
            ort = _require("onnxruntime", "Running an ONNX file")
            options = ort.SessionOptions()
            options.log_severity_level = 3
            try:
                self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            except Exception as exc:  # noqa: BLE001 - the runtime's refusal, in zoo's words
                raise ExportError(f"onnxruntime cannot run {path.name}{_layer(str(exc))}: {str(exc).splitlines()[0][:300]}") from None
            self._input = self._session.get_inputs()[0].name
        else:
            interpreter = _require("ai_edge_litert.interpreter", "Running a LiteRT file").Interpreter
            try:
                self._interpreter = interpreter(model_path=str(path))
                self._runner = self._interpreter.get_signature_runner("serving_default")
            except Exception as exc:  # noqa: BLE001
                raise ExportError(f"ai_edge_litert cannot run {path.name}: {str(exc).splitlines()[0][:300]}") from None
            details = self._runner.get_input_details()[INPUT_NAME]
            self._scale, self._zero = details.get("quantization", (0.0, 0))
            self._dtype = details["dtype"]
            out = next(iter(self._runner.get_output_details().values()))
            self._out_scale, self._out_zero = out.get("quantization", (0.0, 0))

    def predict(self, x: np.ndarray, batch_size: int = 256, verbose: int = 0) -> np.ndarray:
        """Outputs for ``x``, batch by batch (the signature ``Model.predict`` has, so a
        recipe's evaluator can measure a runtime like a Keras model)."""
        outputs = [self._predict(np.asarray(x[i : i + batch_size])) for i in range(0, len(x), batch_size)]
        return np.concatenate(outputs)

    def _predict(self, x: np.ndarray) -> np.ndarray:
        if self.format == "onnx":
            return self._session.run(None, {self._input: x})[0]
        if self._scale and np.issubdtype(self._dtype, np.integer):  # a quantized input
            x = np.clip(np.round(x / self._scale + self._zero), np.iinfo(self._dtype).min, np.iinfo(self._dtype).max)
        y = next(iter(self._runner(**{INPUT_NAME: x.astype(self._dtype)}).values()))
        if self._out_scale and np.issubdtype(y.dtype, np.integer):
            y = (y.astype(np.float32) - self._out_zero) * self._out_scale
        return y
