"""Transfer learning's one operation: a recipe's model with a new head for other classes,
every backbone weight taken from a published epoch.

A recipe declares where its backbone ends (``Recipe.head``: the names of the head's
layers) and its builder takes ``num_classes``. The published epoch is loaded first with
every usual check (recipe, architecture fingerprint, layout), so the backbone weights
copied here are exactly the published ones; the head's variables are the only fresh ones,
and their paths are reported so a user can see what was re-initialised (timm's
``num_classes``, KerasHub's ``from_preset(..., num_classes=…)``).
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

from zoo import compat
from zoo.errors import ArchitectureMismatchError, UsageError
from zoo.registry import Recipe


def check_num_classes(recipe: Recipe, num_classes: Any) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise UsageError(f"`num_classes` must be an integer of at least 2, got {num_classes!r}")
    if not recipe.head:
        raise UsageError(f"recipe {recipe.name} declares no head, so it cannot take other classes",
                         hint="A recipe declares its head's layer names (`head=`) and its builder takes `num_classes` (docs/recipes.md).")
    return num_classes


def with_new_head(published: Any, recipe: Recipe, builder_kwargs: dict[str, Any], num_classes: int) -> tuple[Any, tuple[str, ...]]:
    """``recipe``'s model for ``num_classes`` classes: the backbone of ``published`` (an
    already checked and loaded model), a freshly initialised head. Returns the model and
    the paths of the head's variables."""
    check_num_classes(recipe, num_classes)
    kwargs = {**builder_kwargs, "num_classes": num_classes}
    compat.check_builder_kwargs(recipe, kwargs)
    model = recipe.build(**kwargs)
    source_layers = {layer.name: layer for layer in published.layers}
    head_paths: list[str] = []
    for layer in model.layers:
        if layer.name in recipe.head:
            head_paths += [v.path for v in layer.weights]
            continue
        source = source_layers.get(layer.name)
        if source is None or [w.shape for w in source.weights] != [w.shape for w in layer.weights]:
            raise ArchitectureMismatchError(
                f"recipe {recipe.name}: backbone layer {layer.name} does not match the published model's",
                hint="The recipe's `head` must name every layer that depends on `num_classes`.",
            )
        for target, value in zip(layer.weights, source.weights):
            target.assign(value)
    missing = set(recipe.head) - {layer.name for layer in model.layers}
    if missing:
        raise ArchitectureMismatchError(f"recipe {recipe.name} names head layers its model lacks: {', '.join(sorted(missing))}")
    return model, tuple(head_paths)


def set_backbone_trainable(model: Any, recipe: Recipe, trainable: bool) -> None:
    """Freeze or unfreeze every layer outside the head (recompile afterwards: Keras fixes
    the trainable set when it compiles)."""
    for layer in model.layers:
        if layer.name not in recipe.head:
            layer.trainable = trainable


@contextlib.contextmanager
def all_trainable(model: Any) -> Iterator[None]:
    """Every layer trainable for the duration: what a frozen backbone writes into its
    config and its architecture fingerprint must be the published architecture, not the
    training state (a plain ``keras.saving.load_model`` should not come back frozen)."""
    frozen = [layer for layer in model.layers if not layer.trainable]
    for layer in frozen:
        layer.trainable = True
    try:
        yield
    finally:
        for layer in frozen:
            layer.trainable = False


def check_cuttable(recipe: Recipe) -> None:
    """Refuse ``features_only`` for a recipe whose model cannot be cut at its head."""
    if not recipe.head:
        raise UsageError(f"recipe {recipe.name} declares no head: there is no backbone to return")
    if recipe.style not in ("functional", "sequential"):
        raise UsageError(f"recipe {recipe.name} builds a subclassed model, whose graph cannot be cut at the head",
                         hint="Load it with `num_classes` instead, or use a Functional/Sequential recipe for `features_only`.")


def features_only(model: Any, recipe: Recipe) -> Any:
    """The backbone as a model of its own: the input up to the head's input.

    Needs a Functional or Sequential model (a subclassed model's ``call`` has no graph to
    cut); for those, load with ``num_classes`` and call the backbone layers yourself."""
    from zoo.tf import keras

    check_cuttable(recipe)
    first_head = next(layer for layer in model.layers if layer.name in recipe.head)
    return keras.Model(model.inputs, first_head.input, name=f"{model.name}_backbone")
