"""The seed's formats: .keras, legacy .h5, .weights.h5 and SavedModel exports across the
three model styles, imports of files from outside the zoo, and resuming from a published epoch."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import runner

import zoo
from zoo.formats import manifest as mf
from zoo.cli import app
from zoo.constants import user_manifests_dir

STYLES = ["digits-mlp", "digits-cnn", "mnist-lenet"]


def _batch(name):
    return zoo.get_recipe(name).dataset.load().test[0][:16]


@pytest.mark.parametrize("fmt", ["keras", "h5", "weights", "savedmodel"])
@pytest.mark.parametrize("name", STYLES)
def test_every_format_round_trips_for_every_model_style(name, fmt, hub, tmp_path):
    import keras
    import tensorflow as tf

    suffix = {"keras": ".keras", "h5": ".h5", "weights": ".weights.h5", "savedmodel": ""}[fmt]
    out = tmp_path / f"model{suffix}"
    if (name, fmt) == ("mnist-lenet", "h5"):  # legacy HDF5 cannot hold a subclassed model
        with pytest.raises(zoo.ExportError, match="subclassed keras.Model"):
            zoo.export(name, 2, fmt, out)
        assert not out.exists()
        return
    result = zoo.export(name, 2, fmt, out)
    assert out.exists() and result.size > 1000 and result.max_abs_diff <= 1e-5
    x = _batch(name)
    expected = zoo.load_pretrained(name, epoch=2).predict(x, verbose=0)
    # Independently of the zoo's own check: load it back the plain way.
    if fmt == "savedmodel":
        serve = tf.saved_model.load(str(out)).signatures["serving_default"]
        [got] = serve(tf.constant(x)).values()
        got = got.numpy()
    elif fmt == "weights":
        model = zoo.get_recipe(name).build()
        model.load_weights(str(out))
        got = model.predict(x, verbose=0)
    else:
        model = zoo.get_recipe(name).build()
        got = keras.models.load_model(str(out), compile=False, custom_objects={type(model).__name__: type(model)}).predict(x, verbose=0)
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_keras_export_carries_the_optimizer_state_of_the_resume_file(hub, tmp_path):
    import keras

    result = zoo.export("digits-cnn", 2, "keras", tmp_path / "m.keras")
    assert result.with_optimizer
    loaded = keras.models.load_model(str(tmp_path / "m.keras"))
    steps_per_epoch = int(np.ceil(1257 / 32))
    assert int(loaded.optimizer.iterations) == 2 * steps_per_epoch


def test_exporting_over_an_existing_path_needs_force(hub, tmp_path):
    out = tmp_path / "m.weights.h5"
    out.write_bytes(b"precious")
    result = runner.invoke(app, ["export", "digits-mlp", "--epoch", "1", "--format", "weights", "--out", str(out)])
    assert result.exit_code == 2 and "--force" in result.stderr and out.read_bytes() == b"precious"
    result = runner.invoke(app, ["export", "digits-mlp", "--epoch", "1", "--format", "weights", "--out", str(out), "--force"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() != b"precious"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no staging leftovers"


def test_wrong_suffix_or_format_is_a_usage_error(hub, tmp_path):
    assert runner.invoke(app, ["export", "digits-mlp", "-f", "weights", "--out", str(tmp_path / "x.h5")]).exit_code == 2
    assert runner.invoke(app, ["export", "digits-mlp", "-f", "tflite", "--out", str(tmp_path / "x.tflite")]).exit_code == 2  # the format is litert


# -- imports from outside the zoo -------------------------------------------------------------
def _tf_keras_mlp(hidden=(128, 64)):
    import tf_keras

    layers = [tf_keras.Input((64,))]
    layers += [tf_keras.layers.Dense(w, activation="relu", name=f"hidden_{i}") for i, w in enumerate(hidden)]
    layers.append(tf_keras.layers.Dense(10, activation="softmax", name="classes"))
    return tf_keras.Sequential(layers)


def test_keras2_hdf5_weights_load_into_the_recipe_architecture(tmp_path):
    old = _tf_keras_mlp()
    rng = np.random.default_rng(0)
    old.set_weights([rng.normal(size=w.shape).astype("float32") for w in old.get_weights()])
    old.save_weights(str(tmp_path / "legacy.h5"))  # Keras 2's HDF5 weights format
    x = _batch("digits-mlp")
    model = zoo.load_pretrained(str(tmp_path / "legacy.h5"), recipe="digits-mlp")
    np.testing.assert_allclose(model.predict(x, verbose=0), old.predict(x, verbose=0), atol=1e-5)
    [f] = zoo.fetch(str(tmp_path / "legacy.h5"), recipe="digits-mlp")
    assert f.local_path == (tmp_path / "legacy.h5").resolve()


def test_keras2_weights_of_another_architecture_are_refused(tmp_path):
    _tf_keras_mlp(hidden=(100, 64)).save_weights(str(tmp_path / "other.h5"))
    with pytest.raises(zoo.ArchitectureMismatchError, match=r"hidden_0: model expects \[\[64, 128\], \[128\]\], file layer hidden_0 has \[\[64, 100\], \[100\]\]"):
        zoo.load_pretrained(str(tmp_path / "other.h5"), recipe="digits-mlp")
    result = runner.invoke(app, ["fetch", str(tmp_path / "other.h5"), "--recipe", "digits-mlp"])
    assert result.exit_code == 8


def test_a_weights_file_without_a_recipe_is_a_usage_error(tmp_path):
    _tf_keras_mlp().save_weights(str(tmp_path / "w.h5"))
    with pytest.raises(zoo.UsageError, match="say which recipe"):
        zoo.load_pretrained(str(tmp_path / "w.h5"))


def test_a_keras_file_with_a_lambda_layer_is_refused_unless_opted_in(tmp_path):
    import keras

    inputs = keras.Input((64,))
    outputs = keras.layers.Lambda(lambda t: t * 2.0, name="doubles")(inputs)
    keras.Model(inputs, outputs).save(tmp_path / "lambda.keras")
    with pytest.raises(zoo.UnsafeFileError, match="Lambda layer"):
        zoo.load_pretrained(str(tmp_path / "lambda.keras"))
    result = runner.invoke(app, ["fetch", str(tmp_path / "lambda.keras")])
    assert result.exit_code == 16 and "--allow-unsafe" in result.stderr
    model = zoo.load_pretrained(str(tmp_path / "lambda.keras"), allow_unsafe=True)
    np.testing.assert_allclose(model.predict(np.ones((1, 64), "float32"), verbose=0), 2.0)


def test_a_keras_file_is_checked_against_the_recipe_it_claims(hub, tmp_path):
    zoo.export("digits-cnn", 2, "keras", tmp_path / "cnn.keras")
    loaded = zoo.load_pretrained(str(tmp_path / "cnn.keras"), recipe="digits-cnn")
    batch = np.random.default_rng(0).random((4, 8, 8, 1), dtype="float32")
    np.testing.assert_allclose(loaded.predict(batch, verbose=0), zoo.load_pretrained("digits-cnn", epoch=2).predict(batch, verbose=0), atol=1e-6)
    with pytest.raises(zoo.ArchitectureMismatchError, match="differs from recipe digits-mlp"):
        zoo.load_pretrained(str(tmp_path / "cnn.keras"), recipe="digits-mlp")


# -- resuming from a published epoch ------------------------------------------------------------
def test_train_from_a_published_epoch_reproduces_the_published_later_epoch(hub, tmp_path):
    out = tmp_path / "continued"
    result = runner.invoke(app, ["train", "digits-cnn", "--from", "digits-cnn@1", "--epochs", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    run = mf.load(out / "zoo.json")
    published = mf.load(user_manifests_dir() / "digits-cnn.json")
    assert run.epoch_numbers == [1, 2]
    assert run.epochs[1].weights.sha256 == published.epochs[1].weights.sha256


def test_train_from_refuses_another_recipe_and_a_non_empty_dir(hub, tmp_path):
    result = runner.invoke(app, ["train", "digits-mlp", "--from", "digits-cnn@1", "--epochs", "2", "--out", str(tmp_path / "a")])
    assert result.exit_code == 8 and "belong to recipe digits-cnn v1, not digits-mlp v1" in " ".join(result.stderr.split())
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "keep.txt").write_text("mine")
    result = runner.invoke(app, ["train", "digits-cnn", "--from", "digits-cnn@1", "--out", str(tmp_path / "b")])
    assert result.exit_code == 6 and (tmp_path / "b" / "keep.txt").read_text() == "mine"
