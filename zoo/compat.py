"""One compatibility check: do these weights belong in the architecture this code builds?

Load, publish, resume and training from a published epoch all ask the same three
questions, in this order, and get the same answers (``ArchitectureMismatchError``):

1. **the recipe**: the code has the recipe the weights were trained with, at the same
   version (``recipe_for``);
2. **the architecture**: the model the recipe builds has the manifest's architecture
   fingerprint (``build_checked``), checked before anything is downloaded;
3. **the layout**: the file's weight datasets are the model's (``check_layout``), checked
   before Keras assigns a single weight, because Keras assigns matching layers before it
   notices a mismatch and accepts several wrong files silently.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from zoo.errors import ArchitectureMismatchError, UsageError
from zoo.fileio import sha256_file
from zoo.formats import checkpoint, keras_config, sharded
from zoo.formats.fingerprint import (architecture_sha256, layout_diff, layout_sha256, model_layout, model_layout_sha256, model_layout_with_names,
                                    read_layer_names, read_layout)
from zoo.formats.manifest import WEIGHTS_FORMAT, Compat, Manifest, RecipeRef
from zoo.integrity import IdentityMemo, file_identity
from zoo.registry import Recipe, get_recipe


def recipe_for(ref: RecipeRef) -> Recipe:
    """The recipe code that builds ``ref``'s architecture, at the version it was trained with."""
    if ref.from_keras_config:
        raise UsageError(
            "this model was published without a recipe (Keras builds it from its config.json), and this needs what only a recipe knows: "
            "its dataset, preprocessing, loss or head",
            hint="Load it with zoo.load_pretrained(NAME) and use it as any Keras model; to get the rest, publish it with a recipe (docs/recipes.md).",
        )
    recipe = get_recipe(ref.name)
    if recipe.version != ref.version:
        raise ArchitectureMismatchError(
            f"the weights were trained with recipe {ref.name} v{ref.version}, but this zoo has v{recipe.version}",
            hint=f"Install the zoo release that ships {ref.name} v{ref.version}, or pick weights published for v{recipe.version}.",
        )
    return recipe


def recipe_with_its_dataset(manifest: Manifest) -> Recipe:
    """``recipe_for``, for measuring ``manifest``'s epochs on the recipe's own dataset:
    refused for a model trained on a user's data (other classes, other labels), whose
    scores on the recipe's dataset would be meaningless."""
    recipe = recipe_for(manifest.recipe)
    data = manifest.recipe.dataset
    if data.fingerprint is not None:
        raise UsageError(
            f"{manifest.name} was trained on data of its own ({data.name}, {len(manifest.classes)} classes), not on recipe {recipe.name}'s dataset",
            hint="Its published metrics ('zoo info') were measured on that data's test split; 'zoo predict' runs it on your images.",
        )
    return recipe


def check_builder_kwargs(recipe: Recipe, kwargs: dict[str, Any], param_count: int | None = None) -> None:
    """Refuse, before anything is built, kwargs the recipe does not declare (a hostile
    manifest's ``{"hidden": [10000000]}`` would take gigabytes and minutes) and a parameter
    count past the recipe's bound."""
    if recipe.kwargs_schema is None:
        if kwargs != recipe.builder_kwargs:
            raise ArchitectureMismatchError(
                f"builder kwargs {_short(kwargs)} are not recipe {recipe.name} v{recipe.version}'s {_short(recipe.builder_kwargs)}, and it declares no others",
                hint="A recipe that takes other kwargs declares them (kwargs_schema); pick weights made with this recipe's own.",
            )
    else:
        import jsonschema

        problem = next(iter(jsonschema.Draft202012Validator(recipe.kwargs_schema).iter_errors(kwargs)), None)
        if problem is not None:
            where = ".".join(str(p) for p in problem.absolute_path) or "kwargs"
            raise ArchitectureMismatchError(
                f"builder kwargs of recipe {recipe.name} v{recipe.version}: {where}: {problem.message[:200]}",
                hint="The manifest asks for an architecture the recipe does not build; nothing was built.",
            )
    if param_count is not None and not 0 <= param_count <= recipe.max_params:
        raise ArchitectureMismatchError(f"{param_count:,} parameters is more than recipe {recipe.name} builds (at most {recipe.max_params:,})")


def _short(kwargs: dict[str, Any]) -> str:
    text = json.dumps(kwargs, sort_keys=True)
    return text if len(text) <= 120 else text[:119] + "…"


def check_same_recipe(ref: RecipeRef, recipe: Recipe) -> None:
    """Weights of ``ref`` are to continue training under ``recipe``: same name, version and kwargs."""
    if (ref.name, ref.version) != (recipe.name, recipe.version):
        raise ArchitectureMismatchError(
            f"these weights belong to recipe {ref.name} v{ref.version}, not {recipe.name} v{recipe.version}",
            hint=f"Continue them with recipe {ref.name}.",
        )
    if ref.builder_kwargs != recipe.builder_kwargs:
        raise ArchitectureMismatchError(
            f"these weights were built with kwargs {ref.builder_kwargs}, recipe {recipe.name} v{recipe.version} builds {recipe.builder_kwargs}",
        )


def describe(model: Any) -> Compat:
    """What weights saved from ``model`` need from an architecture, for its manifest."""
    from zoo.tf import keras, tf

    return Compat(format=WEIGHTS_FORMAT, keras=keras.__version__, tensorflow=tf.__version__, param_count=int(model.count_params()),
                  layout_sha256=layout_sha256(model_layout(model)), architecture_sha256=architecture_sha256(model))


_FINGERPRINTS_BY_BUILD: dict[tuple, tuple[str, str]] = {}


def recipe_fingerprints(recipe: Recipe, kwargs: dict[str, Any], model: Any = None) -> tuple[str, str]:
    """The (architecture, layout) fingerprints of what ``recipe`` builds with ``kwargs``
    (``model``: one it just built). The same builder with the same kwargs builds the same
    model, so within a process each is built and walked once for this."""
    key = (recipe.name, recipe.version, recipe.builder, json.dumps(kwargs, sort_keys=True))
    if key not in _FINGERPRINTS_BY_BUILD:
        model = model if model is not None else recipe.build(**kwargs)
        architecture = architecture_sha256(model)
        _FINGERPRINTS_BY_BUILD[key] = (architecture, model_layout_sha256(model, architecture))
    return _FINGERPRINTS_BY_BUILD[key]


def build_checked(manifest: Manifest, *, config: Path | None = None, weights_bytes: int = 0) -> Any:
    """A fresh model for ``manifest``, refused if its architecture fingerprint differs.

    Its fingerprint is computed once per builder and kwargs in a process (``recipe_fingerprints``).

    A model without a recipe is built from ``config`` (its epoch's ``config.json``) once a
    child process has built it within what ``weights_bytes`` justify (``keras_config.probe``)."""
    if manifest.recipe.from_keras_config:
        if config is None:
            raise ValueError("a model without a recipe is built from its config.json: pass `config`")
        check_config(manifest, config, weights_bytes, what=f"{manifest.name}: config.json")
        return keras_config.build(config, what=f"{manifest.name}: config.json")
    recipe = recipe_for(manifest.recipe)
    check_builder_kwargs(recipe, manifest.recipe.builder_kwargs, manifest.compat.param_count)
    model = recipe.build(**manifest.recipe.builder_kwargs)
    actual, _ = recipe_fingerprints(recipe, manifest.recipe.builder_kwargs, model)
    if actual != manifest.compat.architecture_sha256:
        raise ArchitectureMismatchError(
            f"{manifest.name}: recipe {recipe.name} v{recipe.version} builds an architecture (fingerprint {actual[:12]}) "
            f"other than the one these weights were trained on ({manifest.compat.architecture_sha256[:12]})",
            hint="The recipe code changed without a version bump, or the manifest is wrong. Pin the revision or recipe version the weights were published with.",
        )
    return model


def check_config(manifest: Manifest, config: Path, weights_bytes: int, *, what: str) -> None:
    """``config`` is the one the manifest pins, and builds the manifest's model within
    ``weights_bytes`` of memory (in a child process: nothing is built here)."""
    pinned = manifest.recipe.builder_kwargs.get("config_sha256")
    if sha256_file(config) != pinned:
        raise ArchitectureMismatchError(f"{what} is not the config the manifest pins ({str(pinned)[:12]})",
                                        hint="The config and the manifest do not belong together; nothing was built.")
    found = keras_config.probe(config, sha256=pinned, budget_bytes=weights_bytes, what=what)
    keras_config.check_probe(found, param_count=manifest.compat.param_count, architecture_sha256=manifest.compat.architecture_sha256,
                             layout_sha256=manifest.compat.layout_sha256, what=what)


def check_layout(model: Any, path: Path, *, what: str | None = None, expected_sha256: str | None = None) -> None:
    """Refuse a weights file whose layout differs from the model's, listing the first differences.

    ``expected_sha256`` is the model's own layout fingerprint when the caller has it
    (``fingerprint.model_layout_sha256``, remembered per architecture): a matching file
    then needs no walk over the model. Only a mismatch pays for the model's full layout,
    to say which layers differ."""
    actual = read_layout(path)
    if expected_sha256 is not None and layout_sha256(actual) == expected_sha256:
        return
    expected, model_names = model_layout_with_names(model)
    if layout_sha256(expected) != layout_sha256(actual):
        raise ArchitectureMismatchError(
            f"{what or path}: the weights do not fit the architecture built from the recipe:\n"
            + "\n".join(layout_diff(expected, actual, model_names=model_names, file_names=read_layer_names(path))),
            hint="Pin the revision or recipe version the weights were published with, or fetch weights made for this recipe version.",
        )


def load_checked(model: Any, path: Path, *, what: str | None = None, expected_sha256: str | None = None) -> Any:
    """``check_layout``, then Keras loads the weights. Returns the model."""
    check_layout(model, path, what=what, expected_sha256=expected_sha256)
    identity = _identity(path)
    checkpoint.read_weights(model, path, what=what)
    if _FINITE.get(identity):  # these very bytes were loaded and found finite before (this process)
        return model
    bad = checkpoint.non_finite_variables(model)
    if bad:  # published files are checked; a run directory or a local file may not be
        warnings.warn(f"{what or path}: {len(bad)} weight(s) hold NaN or infinity ({', '.join(bad[:3])}): the model's outputs will be too",
                      NonFiniteWeightsWarning, stacklevel=2)
    elif identity == _identity(path):  # unchanged while it was read
        _FINITE.remember(identity)
    return model


_FINITE = IdentityMemo()  # identities of weights files (with every shard) found finite


def _identity(path: Path) -> tuple:
    """A weights file's identity, a sharded index's with every shard's."""
    return tuple(file_identity(p) for p in [path, *(sharded.shard_paths(path) if sharded.is_index(path) else [])])


class NonFiniteWeightsWarning(RuntimeWarning):
    """Loaded weights hold NaN or infinity (``NonFiniteWeightsError`` refuses them at publish)."""
