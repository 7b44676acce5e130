"""Every use of Keras's private API, in one place, checked against the shapes zoo was built on.

zoo needs three things public Keras does not offer:

* save and load weights while skipping the optimizer (``saving_lib.save_weights_only`` /
  ``load_weights_only`` with ``objects_to_skip``): a published file carries no optimizer
  state, and a compiled model keeps its own when weights are swapped in;
* the weight layout Keras *would* write, without writing it (``saving_lib._save_state``
  walked with a recording ``H5IOStore``), to compare with a file before loading it;
* every layer, nested ones included (``Model._flatten_layers``), for the architecture
  fingerprint.

Before first use, ``check()`` compares each name's signature with the one this module was
written against, and refuses with a ``DependencyError`` that names what changed: a Keras
upgrade that moved them fails loudly here, never as a wrong layout or a wrong model.
``tests/test_keras_internals.py`` runs the same check.
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Any, Callable

from zoo.errors import DependencyError

# name -> the parameters it had in Keras 3.15 (what the code below calls it with).
EXPECTED = {
    "saving_lib.save_weights_only": ["model", "filepath", "max_shard_size", "objects_to_skip"],
    "saving_lib.load_weights_only": ["model", "filepath", "skip_mismatch", "objects_to_skip"],
    "saving_lib._save_state": ["saveable", "weights_store", "assets_store", "inner_path", "visited_saveables"],
    "saving_lib.H5IOStore.make": ["self", "path", "metadata"],
    "saving_lib.H5IOStore.__setitem__": ["self", "key", "value"],
    "Model._flatten_layers": ["self", "include_self", "recursive"],
}


def _resolve(name: str) -> Callable[..., Any]:
    import keras
    from keras.src.saving import saving_lib

    roots = {"saving_lib": saving_lib, "Model": keras.Model}
    head, *rest = name.split(".")
    obj: Any = roots[head]
    for part in rest:
        obj = getattr(obj, part)
    return obj


@functools.cache
def check() -> None:
    """Refuse to go on if a private Keras name zoo relies on is gone or changed shape."""
    import keras

    problems = []
    for name, parameters in EXPECTED.items():
        try:
            actual = list(inspect.signature(_resolve(name)).parameters)
        except (AttributeError, ImportError) as exc:
            problems.append(f"{name} is gone ({exc.__class__.__name__})")
            continue
        if actual != parameters:
            problems.append(f"{name}{tuple(actual)} was {tuple(parameters)}")
    if problems:
        raise DependencyError(
            f"Keras {keras.__version__} changed private functions zoo relies on: " + "; ".join(problems),
            hint="Install the Keras version this zoo was tested with (keras>=3.15,<3.16), or a zoo release made for yours.",
        )


def _skipped(model: Any) -> list[Any] | None:
    return [model.optimizer] if getattr(model, "optimizer", None) is not None else None


def save_weights_only(model: Any, path: Path, max_shard_size: float | None = None) -> None:
    """``model.save_weights`` without the optimizer's variables (half the file, no state);
    with ``max_shard_size`` (GiB), sharded: ``path`` is the ``.weights.json`` index."""
    check()
    from keras.src.saving import saving_lib

    saving_lib.save_weights_only(model, str(path), max_shard_size=max_shard_size, objects_to_skip=_skipped(model))


def load_weights_only(model: Any, path: Path) -> None:
    """``model.load_weights`` (a ``.weights.h5``, or a sharded ``.weights.json`` index),
    leaving a compiled model's optimizer state as it is."""
    check()
    from keras.src.saving import saving_lib

    saving_lib.load_weights_only(model, str(path), objects_to_skip=_skipped(model))


def flatten_layers(model: Any) -> list[Any]:
    """Every layer under ``model``, nested ones included, in Keras's own order."""
    check()
    return list(model._flatten_layers(include_self=False, recursive=True))


def record_layout(model: Any, excluded_top_groups: tuple[str, ...]) -> tuple[dict[str, tuple[tuple[int, ...], str]], dict[str, str]]:
    """The ``{dataset path: (shape, dtype)}`` a ``.weights.h5`` of ``model`` would hold, and
    each weight group's layer name, from Keras's own saving walk with nothing written."""
    check()
    import keras
    from keras.src.saving import saving_lib

    class LayoutRecorder(saving_lib.H5IOStore):
        def __init__(self) -> None:  # no HDF5 file: nothing is written
            self.layout: dict[str, tuple[tuple[int, ...], str]] = {}
            self.names: dict[str, str] = {}
            self._path = ""

        def __bool__(self) -> bool:
            return True

        def make(self, path: str, metadata: Any = None) -> "LayoutRecorder":
            self._path = path
            if metadata and "name" in metadata:
                self.names[path] = metadata["name"]
            return self

        def __setitem__(self, key: str, value: Any) -> None:
            name = f"{self._path}/vars/{key}" if self._path else f"vars/{key}"
            if name.split("/", 1)[0] not in excluded_top_groups:
                self.layout[name] = (tuple(int(d) for d in value.shape), keras.backend.standardize_dtype(value.dtype))

        def close(self) -> None:
            pass

    store = LayoutRecorder()
    skip = _skipped(model) or []
    saving_lib._save_state(model, weights_store=store, assets_store=None, inner_path="", visited_saveables={id(o) for o in skip})
    return store.layout, store.names
