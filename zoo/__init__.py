"""zoo: a pretrained-checkpoint zoo for TensorFlow/Keras, with a real epoch axis.

    import zoo
    model = zoo.load_pretrained("digits-cnn", epoch=50)

Attributes are imported on first use, so ``import zoo`` does not import TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any

from zoo.errors import *  # noqa: F401,F403  (the typed error hierarchy is part of the API)

__version__ = "0.1.0"

_API = {"compare", "evaluate", "export", "fetch", "get_manifest", "get_recipe", "list_models", "list_recipes", "load_pretrained", "predict", "publish", "register_recipe", "train"}


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module("zoo.api"), name)
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _API)
