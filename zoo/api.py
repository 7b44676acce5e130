"""The Python API, re-exported from ``zoo``. The CLI calls these functions and nothing deeper.

Heavy modules (numpy, TensorFlow) are imported inside the functions that need them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from zoo.catalog import find_manifest as get_manifest
from zoo.catalog import list_models
from zoo.registry import get_recipe, list_recipes, register_recipe

if TYPE_CHECKING:
    from zoo.training import TrainResult


def train(
    recipe: str,
    *,
    epochs: int | None = None,
    save_at: Iterable[int] | None = None,
    out: Path | str | None = None,
    resume: bool = False,
    progress: bool = True,
) -> "TrainResult":
    """Train ``recipe`` deterministically into a run directory (see ``zoo.training``)."""
    from zoo.training import train as _train

    return _train(recipe, epochs=epochs, save_at=save_at, out=out, resume=resume, progress=progress)


__all__ = ["get_manifest", "get_recipe", "list_models", "list_recipes", "register_recipe", "train"]
