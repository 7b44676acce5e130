"""A seeded synthetic detection dataset: coloured circles, squares and triangles on noise.

Every 64x64 RGB image holds 1 to 3 non-overlapping shapes, 10 to 24 px wide, each
with an integer pixel box and a random colour that differs from the background by at
least 0.5 in one channel (the colour says nothing about the class; the shape does).
Every split is drawn by its own ``np.random.default_rng([SEED, split])``, so the
arrays are the same in every process, and no download is needed.

``x``: float32 ``(N, 64, 64, 3)`` in [0, 1]. ``y``: the dense float32 grid target
``(N, 8, 8, 8)`` that ``model.fit`` consumes, laid out as ``zoo.recipes.detection`` documents
(objectness, cx, cy, w, h, one-hot class). Placement keeps at most one object centre
per grid cell, so ``zoo.recipes.detection.decode_grid`` gives the boxes back exactly.

numpy is imported inside the functions: ``zoo list`` imports this module.
"""

from __future__ import annotations

import functools

from zoo.registry import DatasetSpec, Splits

SEED = 20240605
IMAGE_SIZE = 64
GRID_SIZE = 8
CLASS_NAMES = ("circle", "square", "triangle")
SPLIT_SIZES = {"train": 1000, "val": 200, "test": 200}
MIN_SIZE, MAX_SIZE = 10, 24  # box side in pixels, inclusive
MAX_OBJECTS = 3
NOISE = 0.08


def _shape_mask(kind: int, size: int):
    """A ``size x size`` boolean mask of the shape filling that box (pixel centres tested)."""
    import numpy as np

    y, x = (np.arange(size) + 0.5)[:, None], (np.arange(size) + 0.5)[None, :]  # pixel centres
    half = size / 2
    if kind == 0:  # circle inscribed in the box
        return (x - half) ** 2 + (y - half) ** 2 <= half**2
    if kind == 1:  # square filling the box
        return np.ones((size, size), dtype=bool)
    return np.abs(x - half) <= y / 2  # triangle: apex at the top centre, base along the bottom


def _place(rng, taken_cells: set, boxes: list):
    """One random box that overlaps no other box (1 px gap) and whose centre cell is free, or None."""
    cell = IMAGE_SIZE // GRID_SIZE
    for _ in range(50):
        size = int(rng.integers(MIN_SIZE, MAX_SIZE + 1))
        x1, y1 = (int(v) for v in rng.integers(0, IMAGE_SIZE - size + 1, size=2))
        box = (x1, y1, x1 + size, y1 + size)
        centre_cell = (int((y1 + size / 2) // cell), int((x1 + size / 2) // cell))
        if centre_cell in taken_cells:
            continue
        if any(box[0] < b[2] + 1 and b[0] < box[2] + 1 and box[1] < b[3] + 1 and b[1] < box[3] + 1 for b in boxes):
            continue
        taken_cells.add(centre_cell)
        return box
    return None


def generate(n: int, seed) -> tuple:
    """``n`` images with their boxes: ``(images, [(boxes (k, 4) int, classes (k,) int), ...])``."""
    import numpy as np

    rng = np.random.default_rng(seed)
    images = np.empty((n, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.float32)
    annotations = []
    for i in range(n):
        background = rng.uniform(0.0, 1.0, size=3)
        image = np.broadcast_to(background, (IMAGE_SIZE, IMAGE_SIZE, 3)).copy()
        boxes, classes, taken = [], [], set()
        for _ in range(int(rng.integers(1, MAX_OBJECTS + 1))):
            box = _place(rng, taken, boxes)
            if box is None:
                break
            kind = int(rng.integers(len(CLASS_NAMES)))
            colour = rng.uniform(0.0, 1.0, size=3)
            channel = int(rng.integers(3))
            colour[channel] = background[channel] + (0.5 if background[channel] < 0.5 else -0.5)
            x1, y1, x2, y2 = box
            mask = _shape_mask(kind, x2 - x1)
            image[y1:y2, x1:x2][mask] = colour
            boxes.append(box)
            classes.append(kind)
        image += rng.normal(0.0, NOISE, size=image.shape)
        images[i] = np.clip(image, 0.0, 1.0)
        annotations.append((np.asarray(boxes, dtype=np.int64).reshape(-1, 4), np.asarray(classes, dtype=np.int64)))
    return images, annotations


def targets(annotations):
    """The ``(N, S, S, 5 + C)`` grid targets for ``generate``'s annotations."""
    import numpy as np

    from zoo.recipes.detection import encode_grid

    return np.stack([
        encode_grid(boxes, classes, grid_size=GRID_SIZE, image_size=IMAGE_SIZE, num_classes=len(CLASS_NAMES))
        for boxes, classes in annotations
    ])


def _split(name: str) -> tuple:
    images, annotations = generate(SPLIT_SIZES[name], [SEED, list(SPLIT_SIZES).index(name)])
    return images, targets(annotations)


@functools.cache
def load() -> Splits:
    """The three fixed splits (about 1 s to generate; cached per process)."""
    return Splits(train=_split("train"), val=_split("val"), test=_split("test"))


def _describe(name: str) -> str:
    index = list(SPLIT_SIZES).index(name)
    return (f"{SPLIT_SIZES[name]} synthetic 64x64 images, 1-{MAX_OBJECTS} shapes each, "
            f"generated with numpy default_rng([{SEED}, {index}])")


SHAPES = DatasetSpec(name="zoo-shapes-64", splits={name: _describe(name) for name in SPLIT_SIZES}, load=load)
