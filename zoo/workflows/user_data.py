"""Your own data as a recipe's dataset: a folder with one sub-folder per class (the
convention of ``keras.utils.image_dataset_from_directory``), or an ``.npz`` with ``x`` and
``y`` (and optionally ``classes``).

Every image is turned into the recipe's input by the recipe's own ``preprocess`` (what
``zoo predict`` does), so training, prediction and the published input contract agree.
The split is drawn per file from a hash of the seed and the file's path, so it is the
same in every run and a file added elsewhere never moves another file between splits.
Everything is checked before anything is written: bad data is a ``DataError`` that names
the folder or file and says what to do.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from zoo.errors import DataError, UsageError
from zoo.fileio import sha256_file
from zoo.registry import DatasetSpec, Recipe, Splits
from zoo.workflows.predicting import load_image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
VAL_FRACTION, TEST_FRACTION = 0.1, 0.1


@dataclass(frozen=True)
class UserData:
    """The data a user brought: classes in label order, the splits, and what identifies it."""

    name: str
    classes: tuple[str, ...]
    counts: dict[str, int]
    fingerprint: str  # sha256 over the sorted (file, sha256) list
    splits: Splits

    def spec(self, seed: int) -> DatasetSpec:
        described = {split: f"{self.counts[split]} examples of {self.name}, files assigned by sha256(seed {seed}, path)" for split in self.counts}
        return DatasetSpec(name=self.name, splits=described, load=lambda: self.splits)


def _split_of(seed: int, key: str) -> str:
    u = int(hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()[:8], 16) / 2**32
    return "test" if u < TEST_FRACTION else "val" if u < TEST_FRACTION + VAL_FRACTION else "train"


def load(path: Path | str, recipe: Recipe, *, seed: int) -> UserData:
    """A folder of class sub-folders, or an ``.npz``, as ``recipe``'s input."""
    if recipe.preprocess is None or recipe.task != "classification":
        raise UsageError(f"recipe {recipe.name} does not train on labelled images (it is a {recipe.task} recipe)",
                         hint="Your own data needs a classification recipe, e.g. mnist-lenet.")
    data = read(path, recipe.preprocess, tuple(recipe.input_shape), seed=seed)
    if data.counts["train"] < recipe.train.batch_size:
        raise DataError(f"{path}: {data.counts['train']} training examples are fewer than one batch ({recipe.train.batch_size})",
                        hint="Add images, or choose a recipe with a smaller batch.")
    return data


def read(path: Path | str, preprocess: Callable[[Any], Any], input_shape: tuple[int, ...], *, seed: int) -> UserData:
    """A folder of class sub-folders, or an ``.npz``, through ``preprocess`` (an RGB image
    in [0, 1] -> one model input), split by hash."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such folder or file", hint="Give a folder with one sub-folder of images per class, or an .npz with x and y.")
    classes, x_rows, labels, keys, digests = _npz(path, preprocess, input_shape) if path.is_file() else _folder(path, preprocess)
    import numpy as np

    if len(classes) < 2:
        raise DataError(f"{path}: only one class ({classes[0] if classes else 'none'}); a classifier needs at least two",
                        hint="Add a sub-folder of images for each class.")
    assignment = [_split_of(seed, key) for key in keys]
    parts = {}
    for split in ("train", "val", "test"):
        chosen = [i for i, s in enumerate(assignment) if s == split]
        if not chosen:
            raise DataError(f"{path}: {len(keys)} examples leave the {split} split empty", hint="Add images: about ten per class at the least.")
        parts[split] = (np.stack([x_rows[i] for i in chosen]).astype("float32"), np.asarray([labels[i] for i in chosen], dtype="int32"))
    fingerprint = hashlib.sha256("\n".join(f"{k}\t{d}" for k, d in sorted(zip(keys, digests))).encode()).hexdigest()
    kind = "npz" if path.is_file() else "folder"
    return UserData(f"{kind}:{path.name}", tuple(classes), {s: len(parts[s][0]) for s in parts}, fingerprint, Splits(**parts))


def folder_dataset(name: str, path: Callable[[], Path] | Path | str, preprocess: Callable[[Any], Any], input_shape: tuple[int, ...],
                   *, seed: int = 0) -> DatasetSpec:
    """A recipe's own dataset read from an image folder (class sub-folders), for recipes in
    your own package: the same reader, split and checks as ``zoo train --data``. ``path``
    may be a function, called when the data is first needed (e.g. to write the folder)."""
    described = {split: f"{share} of the images of each class folder, by sha256(seed {seed}, path)"
                 for split, share in (("train", f"{1 - VAL_FRACTION - TEST_FRACTION:.0%}"), ("val", f"{VAL_FRACTION:.0%}"), ("test", f"{TEST_FRACTION:.0%}"))}
    return DatasetSpec(name=name, splits=described, load=lambda: read(path() if callable(path) else path, preprocess, input_shape, seed=seed).splits)


def _folder(path: Path, preprocess: Callable[[Any], Any]) -> tuple[list[str], list[Any], list[int], list[str], list[str]]:
    if not path.is_dir():
        raise DataError(f"{path} is neither a folder nor an .npz file")
    classes = sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"{path} holds no class folders", hint="Put the images of each class in a sub-folder named after the class.")
    x, y, keys, digests = [], [], [], []
    for label, name in enumerate(classes):
        files = sorted(p for p in (path / name).rglob("*") if p.is_file() and not p.name.startswith("."))
        images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
        for other in files:
            if other.suffix.lower() not in IMAGE_SUFFIXES:
                raise DataError(f"{other} is not an image file", hint=f"Class folders hold images only ({', '.join(IMAGE_SUFFIXES)}); move it out.")
        if not images:
            raise DataError(f"class folder {path / name} holds no images", hint="Add its images, or remove the folder.")
        for image in images:
            try:
                pixels = load_image(image)
            except Exception as exc:  # noqa: BLE001 - any unreadable image is named
                raise DataError(f"{image} is not a readable image ({getattr(exc, 'message', exc.__class__.__name__)})",
                                hint="Remove or replace it.") from None
            x.append(preprocess(pixels))
            y.append(label)
            keys.append(image.relative_to(path).as_posix())
            digests.append(sha256_file(image))
    return classes, x, y, keys, digests


def _npz(path: Path, preprocess: Callable[[Any], Any], input_shape: tuple[int, ...]) -> tuple[list[str], list[Any], list[int], list[str], list[str]]:
    import numpy as np

    if path.suffix != ".npz":
        raise DataError(f"{path} is neither a folder nor an .npz file")
    try:
        with np.load(path, allow_pickle=False) as data:
            x, y = np.asarray(data["x"]), np.asarray(data["y"])
            names = [str(c) for c in data["classes"]] if "classes" in data.files else None
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"{path}: not an .npz with arrays x and y ({exc.__class__.__name__}: {exc})") from None
    if len(x) != len(y) or not len(x):
        raise DataError(f"{path}: x has {len(x)} examples and y {len(y)}", hint="Give one label per example.")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
        raise DataError(f"{path}: y must hold class indices (0, 1, 2, …), not {y.dtype}")
    classes = names or [str(i) for i in range(int(y.max()) + 1)]
    if int(y.max()) >= len(classes):
        raise DataError(f"{path}: y holds class {int(y.max())}, but only {len(classes)} classes are named")
    if tuple(x.shape[1:]) == input_shape and np.issubdtype(x.dtype, np.floating):
        rows = list(x.astype("float32"))
    else:  # images: through the recipe's preprocessing, as zoo predict would
        if x.ndim not in (3, 4):
            raise DataError(f"{path}: x of shape {x.shape} is neither the recipe's input {input_shape} nor images")
        images = x.astype("float32") / (255.0 if np.issubdtype(x.dtype, np.integer) else 1.0)
        images = images[..., None].repeat(3, -1) if images.ndim == 3 else images
        rows = [preprocess(image) for image in images]
    keys = [f"{i}" for i in range(len(x))]
    digests = [hashlib.sha256(np.ascontiguousarray(x[i]).tobytes() + str(int(y[i])).encode()).hexdigest() for i in range(len(x))]
    return classes, rows, [int(v) for v in y], keys, digests


def recipe_for_data(recipe: Recipe, data: UserData) -> Recipe:
    """``recipe`` retargeted at ``data``: its dataset, its class names, one output per class."""
    import dataclasses

    from zoo.transfer import check_num_classes

    check_num_classes(recipe, len(data.classes))
    return dataclasses.replace(recipe, dataset=data.spec(recipe.train.seed), class_names=tuple(data.classes),
                               builder_kwargs={**recipe.builder_kwargs, "num_classes": len(data.classes)})
