"""Measure the seed's formats on the zoo's recipes: bytes on disk, save and load time,
and what each format keeps. Rewrites the table in docs/formats.md between its markers.

    python benchmarks/formats.py [--repeats 5] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "formats.md"
BEGIN, END = "<!-- formats:begin -->", "<!-- formats:end -->"


def _size(path: Path) -> tuple[int, int]:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def measure(recipe_name: str, repeats: int, tmp: Path) -> list[dict]:
    import numpy as np

    import zoo
    from zoo.formats import portable
    from zoo.formats.checkpoint import save_weights
    from zoo.tf import keras, tf

    recipe = zoo.get_recipe(recipe_name)
    model = recipe.compile(recipe.build())
    x, y = recipe.dataset.load().train
    model.fit(x[:256], y[:256], epochs=1, verbose=0)  # a real optimizer state to keep (or not)
    x = np.asarray(x, dtype="float32")
    batch = recipe.dataset.load().test[0][:16]
    expected = model.predict(batch, verbose=0)
    custom = {type(model).__name__: type(model)}

    def fresh():
        return recipe.build()

    def with_optimizer(p):
        m = recipe.compile(fresh())
        m.optimizer.build(m.trainable_variables)  # otherwise the saved optimizer state has nowhere to go
        m.load_weights(str(p))
        return m

    formats = {
        ".weights.h5 (zoo: no optimizer)": ("w.weights.h5", lambda p: save_weights(model, p),
                                            lambda p: (lambda m: (m.load_weights(str(p)), m)[1])(fresh())),
        ".weights.h5 (save_weights)": ("s.weights.h5", lambda p: model.save_weights(str(p)), with_optimizer),
        ".keras": ("m.keras", lambda p: model.save(str(p)), lambda p: keras.models.load_model(str(p), custom_objects=custom)),
        "legacy .h5": ("m.h5", lambda p: model.save(str(p)), lambda p: keras.models.load_model(str(p), custom_objects=custom)),
        "SavedModel": ("sm", lambda p: model.export(str(p), format="tf_saved_model", verbose=False),
                       lambda p: tf.saved_model.load(str(p))),
        "ONNX (onnxruntime)": ("m.onnx", lambda p: portable.write_onnx(model, p, tuple(recipe.input_shape)), lambda p: portable.Runner(p, "onnx")),
        "LiteRT (ai_edge_litert)": ("m.tflite", lambda p: portable.write_litert(model, p, tuple(recipe.input_shape)), lambda p: portable.Runner(p, "litert")),
        "LiteRT int8": ("q.tflite", lambda p: portable.write_litert(model, p, tuple(recipe.input_shape), quantize="int8",
                                                                    representative=lambda: ([x[i : i + 1]] for i in range(100))),
                        lambda p: portable.Runner(p, "litert")),
    }
    rows = []
    for label, (filename, save, load) in formats.items():
        if label == "legacy .h5" and recipe.style == "subclassed":
            rows.append({"recipe": recipe_name, "style": recipe.style, "format": label, "note": "cannot hold a subclassed model"})
            continue
        path = tmp / f"{recipe_name}-{filename}"
        saves, loads = [], []
        for _ in range(repeats):
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                save(path)
            saves.append(time.perf_counter() - start)
            start = time.perf_counter()
            loaded = load(path)
            loads.append(time.perf_counter() - start)
        if label == "SavedModel":
            [out] = loaded.signatures["serving_default"](tf.constant(batch)).values()
            got, optimizer = out.numpy(), "no"
        elif isinstance(loaded, portable.Runner):
            got, optimizer = loaded.predict(batch), "no"
        else:
            got = loaded.predict(batch, verbose=0)
            opt = getattr(loaded, "optimizer", None)
            optimizer = "yes" if opt is not None and int(opt.iterations) > 0 else "no"
        size, files = _size(path)
        rows.append({
            "recipe": recipe_name, "style": recipe.style, "format": label, "bytes": size, "files": files,
            "save_ms": 1000 * statistics.median(saves), "load_ms": 1000 * statistics.median(loads),
            "optimizer": optimizer, "max_diff": float(np.max(np.abs(got - expected))),
        })
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| recipe (style) | format | bytes | files | save ms | load ms | optimizer kept | max \\|Δ\\| predictions |",
             "|---|---|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        if "note" in r:
            lines.append(f"| {r['recipe']} ({r['style']}) | {r['format']} | - | - | - | - | - | {r['note']} |")
        else:
            lines.append(f"| {r['recipe']} ({r['style']}) | {r['format']} | {r['bytes']:,} | {r['files']} | {r['save_ms']:.0f} | "
                         f"{r['load_ms']:.0f} | {r['optimizer']} | {r['max_diff']:.1e} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/formats.md alone")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="zoo-formats-") as tmp:
        os.environ.setdefault("ZOO_HOME", str(Path(tmp) / "home"))
        rows = [r for name in ("digits-mlp", "digits-cnn", "mnist-lenet", "shapes-yolo") for r in measure(name, args.repeats, Path(tmp))]
    text = table(rows) + f"\n\nMedians of {args.repeats} runs, measured by `benchmarks/formats.py` on a 2-core CPU machine (TensorFlow CPU).\n"
    print(text)
    if not args.no_write:
        doc = DOC.read_text()
        DOC.write_text(re.sub(f"{re.escape(BEGIN)}.*?{re.escape(END)}", f"{BEGIN}\n{text}{END}", doc, flags=re.S))


if __name__ == "__main__":
    main()
