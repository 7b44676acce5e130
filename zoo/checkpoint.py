"""The one place that writes and reads checkpoint files.

* ``model.weights.h5``: weights only, no optimizer state. It is what gets
  published: numeric arrays, no code, loads into a freshly built model.
* ``resume.keras``: the full Keras archive with optimizer state, to continue training.

Loading always checks the file's weight layout against the model first, because
Keras assigns matching layers before it notices a mismatch, and accepts several
wrong files silently (DESIGN.md). ``skip_mismatch`` is never used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.errors import ArchitectureMismatchError, FileFormatError
from zoo.fileio import atomic_path
from zoo.fingerprint import Layout, layout_diff, layout_sha256, model_layout, read_layout

WEIGHTS_FILENAME = "model.weights.h5"
RESUME_FILENAME = "resume.keras"


def save_weights(model: Any, path: Path) -> None:
    """Atomically write weights only (the optimizer is skipped, halving the file)."""
    from keras.src.saving import saving_lib

    skip = [model.optimizer] if getattr(model, "optimizer", None) is not None else None
    with atomic_path(path, suffix=".weights.h5") as tmp:
        saving_lib.save_weights_only(model, str(tmp), objects_to_skip=skip)


def save_resume_state(model: Any, path: Path) -> None:
    """Atomically write the full ``.keras`` archive: config, weights and optimizer state."""
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(str(tmp))


def load_resume_state(model: Any, path: Path) -> None:
    """Load weights and optimizer state from ``resume.keras`` into a compiled model."""
    import zipfile

    model.optimizer.build(model.trainable_variables)
    try:
        model.load_weights(str(path))
    except (zipfile.BadZipFile, OSError, KeyError) as exc:
        raise FileFormatError(f"{path}: unreadable resume state ({exc})", hint="The file is damaged; resume from an earlier epoch.") from None


def check_weights_fit(model: Any, path: Path, *, what: str | None = None, expected_layout: Layout | None = None) -> None:
    """Refuse a weights file whose layout differs from the model's, listing the first differences.

    ``expected_layout`` lets a caller that swaps many files into one model compute it once."""
    expected, actual = expected_layout or model_layout(model), read_layout(path)
    if layout_sha256(expected) != layout_sha256(actual):
        raise ArchitectureMismatchError(
            f"{what or path}: the weights do not fit the architecture built from the recipe:\n" + "\n".join(layout_diff(expected, actual)),
            hint="Pin the revision or recipe version the weights were published with, or fetch weights made for this recipe version.",
        )


def load_weights(model: Any, path: Path, *, what: str | None = None, expected_layout: Layout | None = None) -> Any:
    """Check the layout, then load with Keras. Returns the model."""
    from keras.src.saving import saving_lib

    check_weights_fit(model, path, what=what, expected_layout=expected_layout)
    skip = [model.optimizer] if getattr(model, "optimizer", None) is not None else None
    try:  # a compiled model keeps its optimizer state: published files carry none
        saving_lib.load_weights_only(model, str(path), objects_to_skip=skip)
    except ValueError as exc:  # Keras found a mismatch the layout check could not see
        raise ArchitectureMismatchError(f"{what or path}: Keras refused the weights: {exc}") from None
    return model
