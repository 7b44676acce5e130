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

# Public name -> the module that owns it (imported on first use, like torchvision's
# lazy model registry), so ``import zoo`` costs no TensorFlow.
_API = {
    "compare": "zoo.workflows.comparison",
    "compare_transfer": "zoo.workflows.transfer_study",
    "evaluate": "zoo.workflows.loading",
    "export": "zoo.workflows.exporting",
    "fetch": "zoo.workflows.fetching",
    "folder_dataset": "zoo.workflows.user_data",
    "get_manifest": "zoo.resolve",
    "get_recipe": "zoo.registry",
    "lineage": "zoo.resolve",
    "list_models": "zoo.catalog",
    "list_recipes": "zoo.registry",
    "load_pretrained": "zoo.workflows.loading",
    "predict": "zoo.workflows.predicting",
    "publish": "zoo.workflows.publishing",
    "register_recipe": "zoo.registry",
    "resolve": "zoo.resolve",
    "train": "zoo.workflows.training",
}


def __getattr__(name: str) -> Any:
    if name == "keras":  # zoo.keras: EpochCheckpoint for your own model.fit (imports TensorFlow)
        return importlib.import_module("zoo.keras")
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API) | {"keras"})
