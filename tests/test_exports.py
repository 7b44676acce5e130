"""ONNX and LiteRT exports, each checked in its own runtime: by zoo before the file is
named, and here again by a process that imports only that runtime and numpy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import runner

import zoo
from zoo.cli import app

RECIPES = ["digits-mlp", "digits-cnn", "mnist-lenet", "shapes-yolo"]

ONLY = {
    "onnx": "import onnxruntime as ort\nsession = ort.InferenceSession(PATH, providers=['CPUExecutionProvider'])\n"
            "out = session.run(None, {session.get_inputs()[0].name: x})[0]\n",
    "litert": "from ai_edge_litert.interpreter import Interpreter\nrun = Interpreter(model_path=PATH).get_signature_runner('serving_default')\n"
              "out = next(iter(run(input=x).values()))\n",
}


def _run_alone(fmt: str, path: Path, x: np.ndarray, tmp_path: Path) -> np.ndarray:
    """The export's outputs from a process that imports only its runtime and numpy."""
    np.save(tmp_path / "x.npy", x)
    code = ("import sys, numpy as np\n" f"PATH = {str(path)!r}\n" f"x = np.load({str(tmp_path / 'x.npy')!r})\n" + ONLY[fmt]
            + "assert not any(m.split('.')[0] in ('tensorflow', 'keras', 'zoo') for m in sys.modules), 'only the runtime'\n"
            + f"np.save({str(tmp_path / 'out.npy')!r}, out)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return np.load(tmp_path / "out.npy")


@pytest.mark.parametrize("fmt", ["onnx", "litert"])
@pytest.mark.parametrize("name", RECIPES)
def test_every_recipe_exports_and_its_runtime_alone_reproduces_keras(name, fmt, small_runs, tmp_path):
    out = tmp_path / f"model.{'onnx' if fmt == 'onnx' else 'tflite'}"
    result = zoo.export(str(small_runs[name]), "last", fmt, out)
    recipe = zoo.get_recipe(name)
    x = np.asarray(recipe.dataset.load().test[0][:16], dtype="float32")
    keras_out = zoo.load_pretrained(str(small_runs[name]), epoch="last").predict(x, verbose=0)
    alone = _run_alone(fmt, out, x, tmp_path)
    np.testing.assert_allclose(alone, keras_out, atol=1e-4 * max(1.0, float(np.abs(keras_out).max())))
    contract = json.loads(result.contract.read_text())
    assert contract["input"]["shape"] == list(recipe.input_shape) and contract["classes"] == list(recipe.class_names)


@pytest.mark.parametrize("quantize", ["float16", "dynamic-int8", "int8"])
def test_quantized_litert_is_smaller_and_close(quantize, small_runs, tmp_path):
    plain = zoo.export(str(small_runs["mnist-lenet"]), "last", "litert", tmp_path / "float.tflite")
    small = zoo.export(str(small_runs["mnist-lenet"]), "last", "litert", tmp_path / f"{quantize}.tflite", quantize=quantize)
    assert small.size < plain.size * (0.6 if quantize == "float16" else 0.4)
    assert small.quantize == quantize and small.max_abs_diff > plain.max_abs_diff


def test_raw_input_onnx_classifies_a_pngs_pixels_as_zoo_predict_does(small_runs, tmp_path):
    from PIL import Image

    x, y = zoo.get_recipe("mnist-lenet").dataset.load().test
    png = tmp_path / "digit.png"
    Image.fromarray((255 - x[3, :, :, 0] * 255).round().astype("uint8")).save(png)  # a dark digit on light paper
    zoo.export(str(small_runs["mnist-lenet"]), "last", "onnx", tmp_path / "raw.onnx", raw_input=True)
    [predicted] = zoo.predict(str(small_runs["mnist-lenet"]), [png], "last")
    code = ("import numpy as np, onnxruntime as ort\nfrom PIL import Image\n"
            f"pixels = np.asarray(Image.open({str(png)!r}).convert('L'), dtype='uint8')[None, :, :, None]\n"
            f"session = ort.InferenceSession({str(tmp_path / 'raw.onnx')!r}, providers=['CPUExecutionProvider'])\n"
            "print(int(np.argmax(session.run(None, {session.get_inputs()[0].name: pixels})[0][0])))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == predicted.top[0][0]


def test_the_export_report_measures_each_epoch_in_each_runtime(hub):
    result = zoo.compare(["digits-cnn", "shapes-yolo"], [1, 2], exports=["onnx", "litert", "litert-int8"])
    for model in result.models:
        for e in model.epochs:
            assert [x.format for x in e.exports] == ["onnx", "litert", "litert-int8"]
            onnx, litert, int8 = e.exports
            for key, value in e.measured.items():  # float exports measure what Keras measures
                assert onnx.measured[key] == pytest.approx(value, abs=1e-3) and litert.measured[key] == pytest.approx(value, abs=1e-3)
            assert int8.size < litert.size and all(x.ms_per_batch > 0 for x in e.exports)
    out = runner.invoke(app, ["compare", "digits-cnn", "--epochs", "1,2", "--export", "onnx,litert", "--json"])
    assert out.exit_code == 0 and json.loads(out.stdout)["models"][0]["epochs"][0]["exports"][0]["format"] == "onnx"


def test_export_errors_say_what_to_do(small_runs, tmp_path):
    target = tmp_path / "m.onnx"
    target.write_bytes(b"precious")
    out = runner.invoke(app, ["export", str(small_runs["digits-mlp"]), "-f", "onnx", "--out", str(target)])
    assert out.exit_code == 2 and "--force" in out.stderr and target.read_bytes() == b"precious"
    out = runner.invoke(app, ["export", str(small_runs["digits-mlp"]), "-f", "onnx", "--quantize", "int8", "--out", str(tmp_path / "q.onnx")])
    assert out.exit_code == 2 and "--quantize" in out.stderr
    code = ("import sys; sys.modules['onnxruntime'] = None\nfrom zoo.cli import app\n"
            f"app(['export', {str(small_runs['digits-mlp'])!r}, '-f', 'onnx', '--out', {str(tmp_path / 'x.onnx')!r}])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 15 and "pip install 'zoo[export]'" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"], "nothing half-written is left"


def test_an_op_litert_cannot_run_is_refused_naming_the_layer(tmp_path):
    from zoo.errors import ExportError
    from zoo.formats import portable
    from zoo.tf import keras

    class Decompose(keras.layers.Layer):
        def call(self, x):
            return keras.ops.svd(x, compute_uv=False)

    inputs = keras.Input((4, 4), name="matrix")
    model = keras.Model(inputs, Decompose(name="odd_svd")(inputs))
    model(np.zeros((1, 4, 4), "float32"))
    with pytest.raises(ExportError, match="odd_svd"):
        portable.write_litert(model, tmp_path / "m.tflite", (4, 4))
