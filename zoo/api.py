"""The Python API, re-exported from ``zoo``. The CLI calls these functions and nothing deeper.

Heavy modules (numpy, TensorFlow) are imported inside the functions that need them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from zoo.catalog import list_models
from zoo.registry import get_recipe, list_recipes, register_recipe

if TYPE_CHECKING:
    from zoo import manifest as mf
    from zoo.comparison import Comparison
    from zoo.exporting import ExportResult
    from zoo.predicting import Prediction
    from zoo.hub import FetchedFile
    from zoo.publishing import PublishResult
    from zoo.training import TrainResult


def get_manifest(name: str, revision: str | None = None) -> "mf.Manifest":
    """The manifest of a bundled model, ``ORG/NAME``, ``hf://ORG/NAME@REV`` or a run directory."""
    from zoo.hub import get_manifest as _get

    return _get(name, revision)


def fetch(
    name: str,
    epochs: Iterable[int | str] | int | str | None = None,
    *,
    revision: str | None = None,
    all_epochs: bool = False,
    include_resume: bool = False,
    dry_run: bool = False,
    recipe: str | None = None,
    allow_unsafe: bool = False,
) -> list["FetchedFile"]:
    """Download (or find in the HF cache) and verify epoch files; returns their local paths.

    ``name`` may be a local model or weights file: it then gets the same checks as a Hub
    file (loading it into ``recipe``'s architecture) and is returned as it is."""
    from zoo.hub import FetchedFile
    from zoo.hub import fetch as _fetch

    if Path(name).is_file() and not name.endswith(".json"):
        from zoo.fileio import sha256_file
        from zoo.loading import load_file

        load_file(Path(name), recipe, allow_unsafe=allow_unsafe)
        path = Path(name).resolve()
        return [FetchedFile(0, "file", path.name, path, path.stat().st_size, sha256_file(path), True)]

    manifest = get_manifest(name, revision)
    if all_epochs:
        entries = list(manifest.epochs)
    else:
        specs = [epochs] if epochs is None or isinstance(epochs, (int, str)) else list(epochs)
        entries = list({e.epoch: e for e in (manifest.resolve_epoch(s) for s in specs)}.values())
    roles = ("weights", "resume") if include_resume else ("weights",)
    return _fetch(manifest, entries, roles=roles, dry_run=dry_run)


def load_pretrained(
    name: str,
    epoch: int | str | None = None,
    revision: str | None = None,
    *,
    compile: bool = False,
    recipe: str | None = None,
    allow_unsafe: bool = False,
) -> Any:
    """A ready ``keras.Model`` with ``epoch``'s weights (see ``zoo.loading.load_pretrained``).

    ``name`` may also be a local ``.weights.h5``/``.h5``/``.keras`` file; ``recipe`` then
    names the architecture, and ``allow_unsafe`` is the explicit opt-in for Lambda layers."""
    from zoo.loading import load_pretrained as _load

    return _load(name, epoch, revision, compile=compile, recipe=recipe, allow_unsafe=allow_unsafe)


def predict(
    name: str,
    images: Iterable[Path | str],
    epoch: int | str | None = None,
    revision: str | None = None,
    *,
    top: int = 3,
    out: Path | str | None = None,
    score_threshold: float = 0.3,
) -> list["Prediction"]:
    """Run an epoch on image files: top classes for a classifier, boxes for a detector
    (drawn into ``out`` as PNG when given)."""
    from zoo.predicting import predict as _predict

    return _predict(name, list(images), epoch, revision, top=top, out=Path(out) if out else None, score_threshold=score_threshold)


def export(name: str, epoch: int | str | None, format: str, out: Path | str, *, force: bool = False, revision: str | None = None) -> "ExportResult":
    """Write an epoch as .keras, legacy .h5, .weights.h5 or a SavedModel, verified by reloading it."""
    from zoo.exporting import export as _export

    return _export(name, epoch, format, out, force=force, revision=revision)


def evaluate(name: str, epoch: int | str | None = None, revision: str | None = None, *, split: str = "test") -> dict[str, Any]:
    """Measure an epoch on the recipe's split, beside its published metrics."""
    from zoo.loading import evaluate as _evaluate

    return _evaluate(name, epoch, revision, split=split)


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
) -> "Comparison":
    """Evaluate chosen epochs of one or more models beside their published metrics (see ``zoo.comparison``).

    ``show``: an image on which a detector's boxes are drawn per epoch, side by side, into ``show_out``."""
    from zoo.comparison import compare as _compare

    names = [names] if isinstance(names, str) else list(names)
    return _compare(names, epochs, all_epochs=all_epochs, split=split, metrics=metrics, revision=revision, show=show, show_out=show_out)


def train(
    recipe: str,
    *,
    epochs: int | None = None,
    save_at: Iterable[int] | None = None,
    out: Path | str | None = None,
    resume: bool = False,
    start_from: str | None = None,
    progress: bool = True,
) -> "TrainResult":
    """Train ``recipe`` deterministically into a run directory (see ``zoo.training``).

    ``start_from="NAME@50"`` continues from a published epoch instead of from scratch."""
    from zoo.training import train as _train

    return _train(recipe, epochs=epochs, save_at=save_at, out=out, resume=resume, start_from=start_from, progress=progress)


def publish(
    run_dir: Path | str,
    repo_id: str,
    *,
    hub_dir: Path | str | None = None,
    name: str | None = None,
    manifests_dir: Path | str | None = None,
    include_resume: bool = True,
) -> "PublishResult":
    """Publish a run as one commit to a local hub dir or the Hub, and pin a manifest to it."""
    from zoo.publishing import publish as _publish

    return _publish(run_dir, repo_id, hub_dir=hub_dir, name=name, manifests_dir=manifests_dir, include_resume=include_resume)


__all__ = [
    "compare", "evaluate", "export", "predict", "fetch", "get_manifest", "get_recipe", "list_models", "list_recipes",
    "load_pretrained", "publish", "register_recipe", "train",
]
