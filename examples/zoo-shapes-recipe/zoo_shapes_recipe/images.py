"""The recipe's image folder: 60 PNG files per class, drawn from a fixed seed the first
time the data is needed, into ``$ZOO_HOME/datasets/zoo-shapes-folder-v1`` (a folder a
user could have made by hand; written atomically, so a killed write is redone)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

CLASSES = ("circle", "square", "triangle")
SIDE = 16
PER_CLASS = 60


def image_folder() -> Path:
    from zoo.constants import zoo_home

    root = zoo_home() / "datasets" / "zoo-shapes-folder-v1"
    if not root.is_dir():
        root.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=root.parent, prefix=".shapes-"))
        _draw_all(tmp)
        try:
            tmp.rename(root)
        except OSError:  # another process wrote it first: theirs is the same
            shutil.rmtree(tmp, ignore_errors=True)
    return root


def _draw_all(root: Path) -> None:
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(0)
    for name in CLASSES:
        (root / name).mkdir()
        for i in range(PER_CLASS):
            size = 64
            background = tuple(int(v) for v in rng.integers(0, 90, 3))
            colour = tuple(int(v) for v in rng.integers(140, 256, 3))
            image = Image.new("RGB", (size, size), background)
            draw = ImageDraw.Draw(image)
            r = int(rng.integers(14, 26))
            cx, cy = (int(v) for v in rng.integers(r + 2, size - r - 2, 2))
            if name == "circle":
                draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
            elif name == "square":
                draw.rectangle((cx - r, cy - r, cx + r, cy + r), fill=colour)
            else:
                draw.polygon(((cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)), fill=colour)
            image.save(root / name / f"{i:03d}.png")


def to_input(image):
    """An RGB image in [0, 1] -> this recipe's input: 16x16 RGB in [0, 1]."""
    import numpy as np
    from PIL import Image

    pixels = Image.fromarray((np.asarray(image, dtype="float32")[..., :3] * 255).astype("uint8"))
    return np.asarray(pixels.resize((SIDE, SIDE), Image.Resampling.BOX), dtype="float32") / 255.0
