"""Recipes: code that builds an architecture and knows how to train and evaluate it.

A recipe is registered with ``@register_recipe`` on its builder function, like timm's
``@register_model``. Third-party packages add theirs through the ``zoo.recipes``
entry-point group. Registering imports no TensorFlow: builders import Keras when
they are called, so ``zoo list`` stays fast.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Callable

from zoo.errors import ArchitectureMismatchError, UnknownModelError, UsageError
from zoo.formats.manifest import KERAS_CONFIG_RECIPE, InputSpec, TrainConfig

ENTRY_POINT_GROUP = "zoo.recipes"


@dataclass(frozen=True)
class Splits:
    """Preprocessed arrays for the fixed train/val/test splits of a dataset."""

    train: tuple[Any, Any]
    val: tuple[Any, Any]
    test: tuple[Any, Any]

    def get(self, split: str) -> tuple[Any, Any]:
        if split not in ("train", "val", "test"):
            raise UsageError(f"unknown split {split!r}", hint="Use one of: train, val, test.")
        return getattr(self, split)


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset that works offline: where it comes from, how it is split, how to load it."""

    name: str
    splits: dict[str, str]
    load: Callable[[], Splits]


@dataclass(frozen=True)
class Recipe:
    name: str
    version: int
    description: str
    builder: Callable[..., Any]
    builder_kwargs: dict[str, Any]
    input_shape: tuple[int, ...]
    dataset: DatasetSpec
    train: TrainConfig
    loss: Any = "sparse_categorical_crossentropy"  # a Keras loss name or a loss callable
    metrics: tuple[str, ...] = ("accuracy",)
    # Optional custom evaluation (e.g. mAP for a detector): (model, x, y) -> {"map50": …}.
    # Without it, ``model.evaluate`` gives the loss and ``metrics``.
    evaluator: Callable[[Any, Any, Any], dict[str, float]] | None = None
    # For ``zoo predict``: an RGB image (H, W, 3) in [0, 1] -> one model input; and, for a
    # detector, (model, batch) -> per image a list of (box xyxy, score, class index).
    preprocess: Callable[[Any], Any] | None = None
    detect: Callable[[Any, Any], list] | None = None
    selection_metric: str = "val/accuracy"
    selection_mode: str = "max"
    task: str = "classification"
    class_names: tuple[str, ...] = ()
    license: str = "apache-2.0"
    save_at: tuple[int, ...] = (10, 50, 100)
    style: str = ""  # "sequential" | "functional" | "subclassed": how the model is made
    # The input contract, for users without zoo: value range, and in words what
    # ``preprocess`` does to an image (the shape is ``input_shape``, the dtype float32).
    input_range: tuple[float, float] = (0.0, 1.0)
    input_description: str = ""
    # What builder kwargs a manifest may ask for (a JSON Schema of the kwargs object), and
    # the most parameters a model of this recipe may have: a manifest is checked against
    # both before anything is built. Without a schema, only the recipe's own kwargs pass.
    kwargs_schema: dict[str, Any] | None = None
    max_params: int = 500_000_000
    # For exports that take raw pixels: the uint8 image shape, and a Keras function that
    # turns a batch of such images into the model's input (``preprocess`` in the graph).
    raw_shape: tuple[int, ...] | None = None
    raw_input: Callable[[Any], Any] | None = None
    # Where the backbone ends: the names of the head's layers, re-initialised when the
    # model is fine-tuned for other classes (the builder takes ``num_classes``).
    head: tuple[str, ...] = ()
    # Trained and published by the reference zoo's build (the main job); a recipe that is
    # only for measuring at scale says False.
    reference: bool = True

    @property
    def input(self) -> InputSpec:
        return InputSpec(shape=tuple(self.input_shape), dtype="float32", range=tuple(self.input_range), preprocessing=self.input_description)

    def build(self, **overrides: Any) -> Any:
        """A fresh, built, uncompiled model: the architecture the weights belong to."""
        from zoo.tf import keras

        kwargs = {**self.builder_kwargs, **overrides}
        try:
            inspect.signature(self.builder).bind(**kwargs)
        except TypeError as exc:
            raise ArchitectureMismatchError(
                f"builder kwargs {sorted(kwargs)} do not fit recipe {self.name} v{self.version} ({exc})",
                hint=f"It accepts: {', '.join(inspect.signature(self.builder).parameters)}. Check the manifest's recipe name and kwargs.",
            ) from None
        model = self.builder(**kwargs)
        if not model.built:
            model(keras.ops.zeros((1, *self.input_shape)))  # subclassed models build on first call
        return model

    def compile(self, model: Any) -> Any:
        """Compile with the recipe's optimizer, loss and metrics (for training and evaluation)."""
        from zoo.tf import keras

        optimizer = keras.optimizers.get(
            # An explicit name: Keras would number it (adam_1, …) per process, changing the resume bytes.
            {"class_name": self.train.optimizer, "config": {"learning_rate": self.train.learning_rate, "name": "optimizer"}}
        )
        model.compile(optimizer=optimizer, loss=self.loss, metrics=list(self.metrics))
        return model


_RECIPES: dict[str, Recipe] = {}


def register_recipe(
    *,
    name: str,
    version: int,
    description: str,
    input_shape: tuple[int, ...],
    dataset: DatasetSpec,
    train: TrainConfig,
    builder_kwargs: dict[str, Any] | None = None,
    **options: Any,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register ``builder`` as recipe ``name``. Returns the builder unchanged."""

    def decorator(builder: Callable[..., Any]) -> Callable[..., Any]:
        if name == KERAS_CONFIG_RECIPE:
            raise UsageError(f"recipe name {name!r} is reserved for models without a recipe", hint="Give your recipe another name.")
        existing = _RECIPES.get(name)
        if existing is not None and _where(existing.builder) != _where(builder):
            raise UsageError(
                f"recipe {name!r} is registered twice: by {_where(existing.builder)} and by {_where(builder)}",
                hint="Recipe names are global: give the new recipe another name (or bump the version of your own).",
            )
        _RECIPES[name] = Recipe(
            name=name,
            version=version,
            description=description,
            builder=builder,
            builder_kwargs=dict(builder_kwargs or {}),
            input_shape=tuple(input_shape),
            dataset=dataset,
            train=train,
            **options,
        )
        return builder

    return decorator


def _where(builder: Callable[..., Any]) -> str:
    """Where a builder is defined: a re-import of the same module registers the same recipe."""
    return f"{builder.__module__}.{builder.__qualname__}"


@functools.cache
def _discover() -> None:
    """Import the built-in recipes and every ``zoo.recipes`` entry point, once."""
    importlib.import_module("zoo.recipes")
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.value != "zoo.recipes":
            ep.load()


def list_recipes() -> list[Recipe]:
    _discover()
    return [_RECIPES[k] for k in sorted(_RECIPES)]


def get_recipe(name: str) -> Recipe:
    _discover()
    try:
        return _RECIPES[name]
    except KeyError:
        raise UnknownModelError(f"no recipe named {name!r}", hint=suggest(name, list(_RECIPES))) from None


def suggest(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.5)
    if close:
        return f"Did you mean: {', '.join(close)}? ('zoo list' shows everything.)"
    return "Run 'zoo list' to see the available names."
