"""``zoo predict``: run an epoch on image files. Classifiers give their top classes; a
detector gives boxes, labels and scores, drawn onto the image when asked."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo import compat
from zoo.errors import FileFormatError, UsageError
from zoo.resolve import FileSource, resolve
from zoo.workflows import visualize
from zoo.workflows.loading import load_epoch


@dataclass
class Prediction:
    image: str
    top: list[tuple[str, float]] = field(default_factory=list)  # classifiers: (class, probability)
    boxes: list[dict[str, Any]] = field(default_factory=list)  # detectors: box, score, label
    drawn: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def load_image(path: Path):
    """An RGB array in [0, 1] from any format Pillow reads."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    if not Path(path).is_file():
        raise UsageError(f"{path}: no such file", hint="Check the image path.")
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"), dtype="float32") / 255.0
    except (UnidentifiedImageError, OSError) as exc:
        raise FileFormatError(f"{path}: not a readable image ({exc.__class__.__name__})", hint="Pass an image Pillow reads (PNG, JPEG, BMP, …).") from None


def predict(name: str, images: list[Path | str], epoch: int | str | None = None, revision: str | None = None,
            *, top: int = 3, out: Path | str | None = None, score_threshold: float = 0.3) -> list[Prediction]:
    """Run an epoch on image files: top classes for a classifier, boxes for a detector
    (drawn into ``out`` as PNG when given)."""
    import numpy as np

    if not images:
        raise UsageError("name at least one image file")
    out = Path(out) if out is not None else None
    source = resolve(name, revision)
    if isinstance(source, FileSource):
        raise UsageError(f"{name} is a model file: predict needs a published model or a run directory")
    manifest = source.manifest
    recipe = compat.recipe_for(manifest.recipe)
    if recipe.preprocess is None:
        raise UsageError(f"recipe {recipe.name} does not say how to prepare an image for prediction")
    pixels = [load_image(Path(p)) for p in images]
    batch = np.stack([recipe.preprocess(image) for image in pixels])
    model = load_epoch(source, source.entry(epoch))
    results = []
    if recipe.detect is not None:
        for i, (path, detections) in enumerate(zip(images, recipe.detect(model, batch))):
            kept = [d for d in detections if d[1] >= score_threshold]
            pred = Prediction(str(path), boxes=[{"box": [round(float(v), 1) for v in box], "score": float(score), "label": _label(manifest.classes, cls)}
                                                for box, score, cls in kept])
            if out is not None:
                target = out if len(images) == 1 else out.with_name(f"{out.stem}-{i}{out.suffix}")
                visualize.draw_detections(batch[i], kept, manifest.classes, target)
                pred.drawn = str(target)
            results.append(pred)
        return results
    probabilities = np.asarray(model.predict(batch, verbose=0))
    for path, probs in zip(images, probabilities):
        order = np.argsort(probs)[::-1][:top]
        results.append(Prediction(str(path), top=[(_label(manifest.classes, i), float(probs[i])) for i in order]))
    return results


def _label(classes: tuple[str, ...], index: Any) -> str:
    """The class name the manifest gives output ``index`` (the index itself where it names none)."""
    return classes[int(index)] if 0 <= int(index) < len(classes) else str(int(index))
