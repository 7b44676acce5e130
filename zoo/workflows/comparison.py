"""Epoch comparison: how good is a model at epoch 10, 50, 100, without training it.

Per model the architecture is built and checked ONCE; each epoch's weights are then
swapped in and evaluated, while the next epochs download in a background thread.
So comparing N epochs costs about one build plus N evaluations.
"""

from __future__ import annotations

import math
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from zoo import compat
from zoo.errors import ReproducibilityError, UsageError
from zoo.formats.fingerprint import model_layout_sha256
from zoo.resolve import FileSource, HubSource, RunSource, resolve
from zoo.workflows import visualize
from zoo.workflows.evaluation import SplitEvaluator
from zoo.workflows.predicting import load_image


EXPORTS = ("onnx", "litert", "litert-float16", "litert-dynamic-int8", "litert-int8")


@dataclass
class ExportMeasure:
    """One epoch in one deployment format, measured in that format's own runtime."""

    format: str
    measured: dict[str, float]
    difference: dict[str, float]  # measured here minus measured in Keras, per metric
    size: int
    ms_per_batch: float  # median time of one batch of BATCH inputs


@dataclass
class EpochResult:
    epoch: int
    measured: dict[str, float]
    published: dict[str, float]
    eval_seconds: float
    load_seconds: float
    file_size: int
    best: bool = False
    detections: list | None = None  # with ``show``: (box, score, class) on the shown image
    selection: float | None = None  # the published value of the metric that picks the best epoch
    exports: list[ExportMeasure] = field(default_factory=list)


@dataclass
class ModelComparison:
    name: str
    origin: str  # where the weights came from: a repo pinned to a commit, or a run directory
    split: str
    selection_metric: str | None
    class_names: list[str] = field(default_factory=list)
    epochs: list[EpochResult] = field(default_factory=list)
    build_seconds: float = 0.0


@dataclass
class Comparison:
    models: list[ModelComparison]
    split: str
    metrics: list[str]
    shown_image: Any = None  # with ``show``: the image the detections were drawn on

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["shown_image"]
        return data

    def mismatches(self, tolerance: float) -> list[str]:
        """Every measured metric that does not reproduce its published value within
        ``tolerance``; a published value that is missing or not a finite number fails too."""
        found = []
        for model in self.models:
            for e in model.epochs:
                for key, value in e.measured.items():
                    where = f"{model.name} epoch {e.epoch} {key}"
                    published = e.published.get(key)
                    if published is None:
                        found.append(f"{where}: measured {value:.6f}, nothing published")
                    elif not math.isfinite(published) or not math.isfinite(value):
                        found.append(f"{where}: measured {value}, published {published}: not a finite number")
                    elif abs(value - published) > tolerance:
                        found.append(f"{where}: measured {value:.6f}, published {published:.6f}")
        return found

    def largest_difference(self) -> float:
        """The largest |measured - published| over every metric compared (0 when none)."""
        diffs = [abs(v - e.published[k]) for m in self.models for e in m.epochs for k, v in e.measured.items() if k in e.published]
        return max(diffs, default=0.0)

    def verify(self, tolerance: float) -> None:
        """Raise ``ReproducibilityError`` unless every published number reproduces."""
        found = self.mismatches(tolerance)
        if found:
            raise ReproducibilityError(
                f"{len(found)} metric(s) do not reproduce within {tolerance:g}:\n  " + "\n  ".join(found[:10]),
                hint="The published numbers do not reproduce here: check the revision, the recipe version and the framework versions in the manifest.",
            )

    def plot(self, path: Path | str) -> Path:
        """A PNG of each metric against the epoch, a line per model (``visualize.plot_comparison``)."""
        return visualize.plot_comparison(self, path)

    def draw_shown(self, path: Path | str, score_threshold: float = 0.3) -> Path:
        """With ``show``: the image with each epoch's detections, side by side, as PNG."""
        if self.shown_image is None:
            raise UsageError("nothing was shown: pass `show` (an image file) to compare")
        model = self.models[0]
        panels = [(f"epoch {e.epoch}", [d for d in e.detections if d[1] >= score_threshold]) for e in model.epochs]
        return visualize.draw_side_by_side(self.shown_image, panels, model.class_names, path)


BATCH = 32


def _measure_exports(model: Any, recipe: Any, formats: list[str], x: Any, y: Any, keras_measured: dict[str, float], split: str) -> list[ExportMeasure]:
    """Each format written from ``model`` (Keras's own export), then evaluated on the split
    in its own runtime, beside Keras's numbers: what shipping this epoch this way costs."""
    from zoo.formats import portable

    train_x = np.asarray(recipe.dataset.load().train[0][:100], dtype="float32")
    rows = []
    with tempfile.TemporaryDirectory(prefix="zoo-exports-") as tmp:
        for fmt in formats:
            base, _, quantize = fmt.partition("-")
            path = Path(tmp) / f"model-{fmt}.{'onnx' if base == 'onnx' else 'tflite'}"
            if base == "onnx":
                portable.write_onnx(model, path, tuple(recipe.input_shape))
            else:
                portable.write_litert(model, path, tuple(recipe.input_shape), quantize=quantize or None,
                                      representative=lambda: ([train_x[i : i + 1]] for i in range(len(train_x))))
            runner = portable.Runner(path, base)
            measured = {f"{split}/{k}": float(v) for k, v in runtime_metrics(recipe, runner, x, y).items()}
            batch = np.asarray(x[:BATCH], dtype="float32")
            runner.predict(batch)
            times = []
            for _ in range(5):
                start = time.perf_counter()
                runner.predict(batch)
                times.append(time.perf_counter() - start)
            diff = {k: v - keras_measured[k] for k, v in measured.items() if k in keras_measured}
            rows.append(ExportMeasure(fmt, measured, diff, path.stat().st_size, 1000 * float(np.median(times))))
    return rows


def runtime_metrics(recipe: Any, runner: Any, x: Any, y: Any) -> dict[str, float]:
    """A recipe's metrics for a model in another runtime: the recipe's own evaluator (it
    calls ``predict``), or a classifier's accuracy and cross-entropy loss."""
    if recipe.evaluator is not None:
        return recipe.evaluator(runner, x, y)
    probabilities = runner.predict(np.asarray(x, dtype="float32"))
    labels = np.asarray(y).astype(int)
    picked = np.clip(probabilities[np.arange(len(labels)), labels], 1e-7, 1.0)
    return {"accuracy": float(np.mean(np.argmax(probabilities, axis=1) == labels)), "loss": float(np.mean(-np.log(picked)))}


def _compare_one(source: HubSource | RunSource, epochs: Iterable[int | str] | None, *, all_epochs: bool, split: str, show: Any,
                 exports: list[str] = ()) -> ModelComparison:
    manifest = source.manifest
    entries = source.default_entries() if epochs is None and not all_epochs else source.entries(epochs, all_epochs=all_epochs)
    recipe = compat.recipe_with_its_dataset(manifest)
    evaluate = SplitEvaluator(recipe.dataset.load(), recipe.evaluator)
    evaluate.splits.get(split)  # refuse an unknown split before downloading anything

    start = time.perf_counter()
    model = recipe.compile(compat.build_checked(manifest))
    layout = model_layout_sha256(model, manifest.compat.architecture_sha256)
    result = ModelComparison(
        name=manifest.name,
        origin=source.origin,
        split=split,
        selection_metric=manifest.selection["best"].metric if "best" in manifest.selection else None,
        class_names=list(manifest.classes),
        build_seconds=time.perf_counter() - start,
    )
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="zoo-fetch") as pool:
        paths = [pool.submit(source.weights_path, e) for e in entries]
        for entry, future in zip(entries, paths):
            path = future.result()
            t0 = time.perf_counter()
            compat.load_checked(model, path, what=f"{manifest.name} epoch {entry.epoch}", expected_sha256=layout)
            t1 = time.perf_counter()
            measured = evaluate(model, [split])
            t2 = time.perf_counter()
            published = {k: v for k, v in entry.metrics.items() if k in measured}
            shown = recipe.detect(model, show[None])[0] if show is not None else None
            exported = _measure_exports(model, recipe, list(exports), *evaluate.splits.get(split), measured, split) if exports else []
            result.epochs.append(EpochResult(entry.epoch, measured, published, t2 - t1, t1 - t0, entry.weights_size, entry.epoch == manifest.best_epoch,
                                             shown, entry.metrics.get(result.selection_metric) if result.selection_metric else None, exported))
    return result


def compare(
    names: Iterable[str] | str,
    epochs: Iterable[int | str] | None = None,
    *,
    all_epochs: bool = False,
    split: str = "test",
    metrics: Iterable[str] | None = None,
    revision: str | None = None,
    show: str | Path | None = None,
    exports: Iterable[str] = (),
) -> Comparison:
    """Evaluate the chosen epochs (default: all) of one or more models on ``split``, beside
    their published metrics.

    ``show``: an image file; a detector's boxes on it are recorded per epoch, drawn with
    ``Comparison.draw_shown``. ``exports``: deployment formats (``onnx``, ``litert``,
    ``litert-float16``, ``litert-dynamic-int8``, ``litert-int8``), each epoch exported and
    measured in that format's own runtime beside Keras (the export extra)."""
    exports = list(exports)
    unknown = [f for f in exports if f not in EXPORTS]
    if unknown:
        raise UsageError(f"unknown export format(s) {unknown}", hint=f"Use: {', '.join(EXPORTS)}.")
    names = [names] if isinstance(names, str) else list(names)
    if not names:
        raise UsageError("name at least one model to compare")
    if epochs is not None and all_epochs:
        raise UsageError("pass `epochs` or `all_epochs=True`, not both")
    sources = [resolve(n, revision) for n in names]  # every name resolved once, before any work
    for name, source in zip(names, sources):
        if isinstance(source, FileSource):
            raise UsageError(f"{name} is a model file: compare needs a published model or a run directory")
    image = None
    if show is not None:
        if len(names) != 1:
            raise UsageError("`show` takes one model")
        recipe = compat.recipe_for(sources[0].manifest.recipe)
        if recipe.detect is None:
            raise UsageError(f"`show` draws a detector's boxes; {recipe.name} is a {recipe.task} recipe", hint="Use 'zoo predict' for its top classes.")
        image = recipe.preprocess(load_image(Path(show)))
    models = [_compare_one(s, epochs, all_epochs=all_epochs, split=split, show=image, exports=exports) for s in sources]
    measured_keys = sorted({k for m in models for e in m.epochs for k in e.measured})
    keys = measured_keys
    if metrics:
        wanted = [k if "/" in k else f"{split}/{k}" for k in metrics]
        unknown = [k for k in wanted if k not in measured_keys]
        if unknown:
            raise UsageError(f"unknown metric(s) {unknown}", hint=f"Measured here: {', '.join(measured_keys)}.")
        keys = wanted
        for m in models:
            for e in m.epochs:
                e.measured = {k: v for k, v in e.measured.items() if k in keys}
                e.published = {k: v for k, v in e.published.items() if k in keys}
    return Comparison(models=models, split=split, metrics=keys, shown_image=image)
