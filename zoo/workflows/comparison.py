"""Epoch comparison: how good is a model at epoch 10, 50, 100, without training it.

Per model the architecture is built and checked ONCE; each epoch's weights are then
swapped in and evaluated, while the next epochs download in a background thread.
So comparing N epochs costs about one build plus N evaluations.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from zoo.formats import manifest as mf
from zoo.errors import ReproducibilityError, UsageError


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


@dataclass
class ModelComparison:
    name: str
    repo_id: str | None
    revision: str | None
    split: str
    selection_metric: str | None
    epochs: list[EpochResult] = field(default_factory=list)
    build_seconds: float = 0.0


@dataclass
class Comparison:
    models: list[ModelComparison]
    split: str
    metrics: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def mismatches(self, tolerance: float) -> list[str]:
        """Measured values that differ from the published ones by more than ``tolerance``."""
        found = []
        for model in self.models:
            for e in model.epochs:
                for key, value in e.measured.items():
                    published = e.published.get(key)
                    if published is not None and abs(value - published) > tolerance:
                        found.append(f"{model.name} epoch {e.epoch} {key}: measured {value:.6f}, published {published:.6f}")
        return found

    def verify(self, tolerance: float) -> None:
        found = self.mismatches(tolerance)
        if found:
            raise ReproducibilityError(
                f"{len(found)} measured metric(s) differ from the published values by more than {tolerance:g}:\n  " + "\n  ".join(found[:10]),
                hint="The published numbers do not reproduce here: check the revision, the recipe version and the framework versions in the manifest.",
            )


def _entries(manifest: mf.Manifest, epochs: Iterable[int | str] | None, all_epochs: bool) -> list[mf.EpochEntry]:
    if all_epochs or epochs is None:
        return list(manifest.epochs)
    chosen = {e.epoch: e for e in (manifest.resolve_epoch(spec) for spec in epochs)}
    return [chosen[n] for n in sorted(chosen)]


def _compare_one(
    name: str,
    manifest: mf.Manifest,
    epochs: Iterable[int | str] | None,
    *,
    all_epochs: bool,
    split: str,
    show: Any,
) -> ModelComparison:
    """One model (``name`` as the user gave it, ``manifest`` as resolved for it)."""
    from zoo.formats.checkpoint import load_weights
    from zoo.workflows.evaluation import SplitEvaluator
    from zoo.formats.fingerprint import model_layout_sha256
    from zoo.hub.client import fetch_files
    from zoo.workflows.loading import build_checked, recipe_for

    entries = _entries(manifest, epochs, all_epochs)
    recipe = recipe_for(manifest)
    evaluate = SplitEvaluator(recipe.dataset.load(), recipe.evaluator)
    evaluate.splits.get(split)  # refuse an unknown split before downloading anything

    start = time.perf_counter()
    model = recipe.compile(build_checked(manifest))
    layout = model_layout_sha256(model, manifest.compat.architecture_sha256)
    result = ModelComparison(
        name=manifest.name,
        repo_id=manifest.hub.repo_id if manifest.hub else None,
        revision=manifest.hub.revision if manifest.hub else None,
        split=split,
        selection_metric=manifest.selection["best"].metric if "best" in manifest.selection else None,
        build_seconds=time.perf_counter() - start,
    )
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="zoo-fetch") as pool:
        if manifest.hub is None:
            from zoo.workflows.loading import weights_path

            paths = [pool.submit(weights_path, manifest, e, name) for e in entries]
        else:
            paths = [pool.submit(lambda e=e: fetch_files(manifest, [e])[0].local_path) for e in entries]
        for entry, future in zip(entries, paths):
            path = future.result()
            t0 = time.perf_counter()
            load_weights(model, path, what=f"{manifest.name} epoch {entry.epoch}", expected_sha256=layout)
            t1 = time.perf_counter()
            measured = evaluate(model, [split])
            t2 = time.perf_counter()
            published = {k: v for k, v in entry.metrics.items() if k in measured}
            shown = recipe.detect(model, show[None])[0] if show is not None and recipe.detect else None
            result.epochs.append(EpochResult(entry.epoch, measured, published, t2 - t1, t1 - t0, entry.weights.size, entry.epoch == manifest.best_epoch, shown))
    return result


def compare(
    names: Iterable[str] | str,
    epochs: Iterable[int | str] | None = None,
    *,
    all_epochs: bool = False,
    split: str = "test",
    metrics: Iterable[str] | None = None,
    revision: str | None = None,
    show: str | None = None,
    show_out: str | None = None,
    score_threshold: float = 0.3,
) -> Comparison:
    """Evaluate the chosen epochs of one or more models on ``split``, beside their published metrics.

    ``show``: an image file; a detector's boxes on it are drawn side by side, one panel per
    epoch, into ``show_out`` (PNG)."""
    names = [names] if isinstance(names, str) else list(names)
    if not names:
        raise UsageError("name at least one model to compare")
    from zoo.hub.client import get_manifest

    manifests = [get_manifest(n, revision) for n in names]  # every name resolved once, before any work
    image = None
    if show is not None:
        from zoo.workflows.loading import recipe_for
        from zoo.workflows.predicting import load_image

        if len(names) != 1:
            raise UsageError("--show takes one model")
        recipe = recipe_for(manifests[0])
        if recipe.detect is None:
            raise UsageError(f"--show draws a detector's boxes; {recipe.name} is a {recipe.task} recipe", hint="Use 'zoo predict' for its top classes.")
        image = recipe.preprocess(load_image(show))
    models = [_compare_one(n, m, epochs, all_epochs=all_epochs, split=split, show=image) for n, m in zip(names, manifests)]
    if image is not None:
        from zoo.workflows.visualize import draw_side_by_side

        panels = [(f"epoch {e.epoch}", [d for d in e.detections if d[1] >= score_threshold]) for e in models[0].epochs]
        draw_side_by_side(image, panels, recipe.class_names, show_out or f"{Path(show).stem}-epochs.png")
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
    return Comparison(models=models, split=split, metrics=keys)


def plot(comparison: Comparison, path: str) -> None:
    """A PNG of each metric vs epoch: a line per model, published values overlaid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = comparison.metrics
    fig, axes = plt.subplots(1, len(keys), figsize=(5.5 * len(keys), 4.2), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for model in comparison.models:
            xs = [e.epoch for e in model.epochs]
            line, = ax.plot(xs, [e.measured.get(key) for e in model.epochs], marker="o", label=f"{model.name} (measured)")
            published = [(e.epoch, e.published[key]) for e in model.epochs if key in e.published]
            if published:
                ax.plot(*zip(*published), linestyle="--", marker="x", color=line.get_color(), alpha=0.7, label=f"{model.name} (published)")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.set_title(f"{key} by epoch")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
