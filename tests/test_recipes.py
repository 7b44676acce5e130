"""Every recipe builds, and each Keras model style round-trips through Keras's own save APIs."""

from __future__ import annotations

import numpy as np
import pytest

from zoo.registry import get_recipe, list_recipes

STYLES = {"digits-mlp": "sequential", "digits-cnn": "functional", "mnist-lenet": "subclassed"}


def test_registry_lists_the_three_styles():
    recipes = {r.name: r for r in list_recipes()}
    assert {name: recipes[name].style for name in STYLES} == STYLES
    assert recipes["shapes-yolo"].task == "detection"


@pytest.mark.parametrize("name", sorted(STYLES))
def test_recipe_builds_and_predicts(name):
    recipe = get_recipe(name)
    model = recipe.build()
    x, _ = recipe.dataset.load().test
    probs = np.asarray(model.predict(x[:4], verbose=0))
    assert probs.shape == (4, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert model.count_params() > 1000


@pytest.mark.parametrize("name", sorted(STYLES))
def test_recipe_declares_everything_a_run_needs(name):
    recipe = get_recipe(name)
    splits = recipe.dataset.load()
    for split in ("train", "val", "test"):
        x, y = splits.get(split)
        assert x.shape[1:] == recipe.input_shape and len(x) == len(y) > 100
    assert set(recipe.dataset.splits) == {"train", "val", "test"}
    assert recipe.version >= 1 and recipe.train.seed == 0 and recipe.selection_metric == "val/accuracy"


def test_dataset_splits_are_fixed_across_loads():
    from zoo.recipes import datasets

    first = datasets._digits()
    datasets._digits.cache_clear()
    again = datasets._digits()
    assert first is not again
    assert sum(len(again.get(s)[0]) for s in ("train", "val", "test")) == 1797
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(first.get(split)[0], again.get(split)[0])
        np.testing.assert_array_equal(first.get(split)[1], again.get(split)[1])


@pytest.mark.parametrize("name", sorted(STYLES))
def test_save_weights_load_weights_round_trip(name, tmp_path):
    recipe = get_recipe(name)
    x = recipe.dataset.load().test[0][:8]
    trained = recipe.build()
    trained.set_weights([w + 0.01 * (i + 1) for i, w in enumerate(trained.get_weights())])
    trained.save_weights(tmp_path / "w.weights.h5")
    fresh = recipe.build()
    assert not np.allclose(fresh.predict(x, verbose=0), trained.predict(x, verbose=0))
    fresh.load_weights(tmp_path / "w.weights.h5")
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), trained.predict(x, verbose=0))


@pytest.mark.parametrize("name", sorted(STYLES))
def test_save_and_load_model_round_trip(name, tmp_path):
    import keras

    recipe = get_recipe(name)
    x, y = recipe.dataset.load().test
    x, y = x[:32], y[:32]
    model = recipe.compile(recipe.build())
    model.fit(x, y, epochs=1, verbose=0)  # builds the optimizer state that .keras carries
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(loaded).__name__ == type(model).__name__
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.optimizer.__class__ is model.optimizer.__class__
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) == 1


@pytest.mark.parametrize("name", sorted(STYLES) + ["shapes-yolo"])
def test_the_recorded_model_layout_is_the_layout_keras_writes(name, tmp_path):
    from zoo.formats.checkpoint import save_weights
    from zoo.formats.fingerprint import model_layout, read_layout

    recipe = get_recipe(name)
    model = recipe.compile(recipe.build())
    save_weights(model, tmp_path / "w.weights.h5")
    assert model_layout(model) == read_layout(tmp_path / "w.weights.h5")
    assert len(model_layout(model)) >= 2 * len([l for l in model.layers if l.weights])
