"""Your own training loop: ``zoo.keras.EpochCheckpoint`` in a plain ``model.fit``, and models
that no recipe builds, published, fetched and loaded back through their Keras config."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import runner, tree_digest


def digits():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return (x / 16).astype("float32"), y


def functional_mlp(seed: int = 0):
    """A Functional model that no recipe builds."""
    from zoo.tf import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((64,), name="pixels")
    hidden = keras.layers.Dense(24, activation="relu", name="hidden")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="digit")(hidden), name="my_mlp")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def fit(model, checkpoint, epochs: int, initial_epoch: int = 0):
    x, y = digits()
    model.fit(x[:1200], y[:1200], epochs=epochs, initial_epoch=initial_epoch, batch_size=64, validation_data=(x[1200:], y[1200:]),
              callbacks=[checkpoint], verbose=0, shuffle=False)


def test_a_functional_model_from_your_own_fit_publishes_fetches_and_loads_back_with_identical_predictions(hub, hub_dir, tmp_path):
    import zoo
    import zoo.keras
    from zoo.cli.app import app

    model = functional_mlp()
    checkpoint = zoo.keras.EpochCheckpoint(tmp_path / "mine", save_at=[1, 3], name="own-mlp", publish="me/own-mlp", hub_dir=hub_dir,
                                           input_range=(0, 1), preprocessing="8x8 digit pixels divided by 16", monitor="val_accuracy", mode="max")
    fit(model, checkpoint, epochs=3)

    run = checkpoint.published.manifest
    assert run.recipe.from_keras_config and run.epoch_numbers == [1, 3]
    assert {"train/loss", "train/accuracy", "val/loss", "val/accuracy"} <= set(run.epochs[-1].metrics)
    assert run.selection["best"].metric == "val/accuracy" and run.classes == tuple("0123456789")
    config = (tmp_path / "mine" / "epochs" / "e003" / "config.json").read_bytes()
    assert run.recipe.builder_kwargs["config_sha256"] == run.epochs[-1].file("config").sha256

    x, _ = digits()
    loaded = zoo.load_pretrained("me/own-mlp", epoch=3)  # from olah, built from the published config
    assert np.array_equal(loaded.predict(x[:64], verbose=0), model.predict(x[:64], verbose=0))
    assert loaded.zoo.commit == run.epochs[-1].commit and loaded.name == "my_mlp"
    first = zoo.load_pretrained("own-mlp", epoch=1)  # the catalog entry the publish wrote
    from_run = zoo.load_pretrained(str(tmp_path / "mine"), epoch=1)
    assert all(np.array_equal(a, b) for a, b in zip(first.get_weights(), from_run.get_weights()))
    assert not all(np.array_equal(a, b) for a, b in zip(first.get_weights(), loaded.get_weights()))
    [fetched] = zoo.fetch("me/own-mlp", 3)
    assert fetched.sha256 == run.epochs[-1].weights.sha256
    from huggingface_hub import hf_hub_download

    plain = hf_hub_download("me/own-mlp", "config.json", revision="epoch-3", endpoint=hub.endpoint, cache_dir=tmp_path / "hf-plain")
    assert Path(plain).read_bytes() == config
    # Plain Keras, in a process that never imports zoo, loads main (epoch 3) from hf://.
    np.save(tmp_path / "batch.npy", x[:64])
    code = ("import sys, keras, numpy as np\nmodel = keras.saving.load_model('hf://me/own-mlp')\n"
            "np.save('plain.npy', model.predict(np.load('batch.npy'), verbose=0))\nassert not any(m.startswith('zoo') for m in sys.modules)\n")
    env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_HOME": str(tmp_path / "tools-hf"), "HF_HUB_DISABLE_TELEMETRY": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    np.testing.assert_array_equal(np.load(tmp_path / "plain.npy"), model.predict(x[:64], verbose=0))

    info = runner.invoke(app, ["info", "own-mlp"])
    assert info.exit_code == 0 and "no recipe: built by Keras from its config.json" in info.output, info.output
    image = tmp_path / "digit.png"
    from PIL import Image

    Image.fromarray(np.zeros((8, 8), dtype="uint8")).save(image)
    refused = runner.invoke(app, ["predict", "own-mlp", str(image)])
    assert refused.exit_code == 2 and "published without a recipe" in refused.output and "Traceback" not in refused.output
    with pytest.raises(zoo.UsageError, match="without a recipe"):
        zoo.load_pretrained("own-mlp", num_classes=3)


def test_restore_continues_a_run_with_its_optimizer_and_an_unrestored_fit_is_refused_with_the_run_untouched(tmp_path):
    import zoo
    import zoo.keras

    first = functional_mlp()
    fit(first, zoo.keras.EpochCheckpoint(tmp_path / "run"), epochs=2)
    before = tree_digest(tmp_path / "run")

    again = functional_mlp(seed=1)
    with pytest.raises(zoo.RunDirError, match="already holds epoch 2"):
        fit(again, zoo.keras.EpochCheckpoint(tmp_path / "run"), epochs=3)
    assert tree_digest(tmp_path / "run") == before

    checkpoint = zoo.keras.EpochCheckpoint(tmp_path / "run")
    assert checkpoint.restore(again) == 2
    assert int(again.optimizer.iterations) == int(first.optimizer.iterations) > 0
    assert all(np.array_equal(a, b) for a, b in zip(again.get_weights(), first.get_weights()))
    fit(again, checkpoint, epochs=3, initial_epoch=2)
    manifest = zoo.get_manifest(str(tmp_path / "run"))
    assert manifest.epoch_numbers == [1, 2, 3] and manifest.recipe.train_config.epochs == 3
    assert zoo.keras.EpochCheckpoint(tmp_path / "elsewhere").restore(functional_mlp()) == 0


def test_models_a_config_cannot_describe_are_refused_with_how_and_a_recipe_names_the_architecture(tmp_path):
    import zoo
    import zoo.keras
    from zoo.tf import keras

    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(10)

        def call(self, x):
            return self.dense(x)

    model = Subclassed()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(zoo.UsageError, match="subclassed model") as info:
        fit(model, zoo.keras.EpochCheckpoint(tmp_path / "sub"), epochs=1)
    assert "recipe" in info.value.hint and not (tmp_path / "sub").exists()

    @keras.saving.register_keras_serializable(package="mine")
    class Doubled(keras.layers.Layer):
        def call(self, x):
            return x * 2

    inputs = keras.Input((64,))
    custom = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(Doubled()(inputs)))
    custom.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(zoo.UnsafeFileError, match="outside Keras"):
        fit(custom, zoo.keras.EpochCheckpoint(tmp_path / "custom"), epochs=1)

    with pytest.raises(zoo.ArchitectureMismatchError, match="not what recipe digits-mlp"):
        fit(functional_mlp(), zoo.keras.EpochCheckpoint(tmp_path / "wrong", recipe="digits-mlp"), epochs=1)
    recipe = zoo.get_recipe("digits-mlp")
    built = recipe.compile(recipe.build())
    fit(built, zoo.keras.EpochCheckpoint(tmp_path / "recipe", recipe="digits-mlp"), epochs=1)
    manifest = zoo.get_manifest(str(tmp_path / "recipe"))
    assert (manifest.recipe.name, manifest.recipe.dataset.name) == ("digits-mlp", recipe.dataset.name)
    assert manifest.recipe.train_config.batch_size is None
    loaded = zoo.load_pretrained(str(tmp_path / "recipe"))  # built from the recipe code, no config probe
    x, _ = digits()
    assert np.array_equal(loaded.predict(x[:16], verbose=0), built.predict(x[:16], verbose=0))


def _hostile_repo(run: Path, stage: Path, config: dict, *, pin: bool = True) -> None:
    """The run's last epoch as a Hub commit, with ``config`` as its config.json and every
    file hash in the manifest agreeing with it, as a careful attacker would make it; with
    ``pin``, the recipe's config pin too."""
    import hashlib

    from zoo.formats import manifest as mf

    manifest = mf.load(run / "zoo.json")
    entry = manifest.epochs[-1]
    stage.mkdir()
    for f in entry.files:
        shutil.copyfile(run / f.path, stage / Path(f.path).name)
    text = json.dumps(config).encode()
    (stage / "config.json").write_bytes(text)
    sha = hashlib.sha256(text).hexdigest()
    files = tuple(mf.FileEntry(Path(f.path).name, sha if f.role == "config" else f.sha256, len(text) if f.role == "config" else f.size, f.role, f.optional)
                  for f in entry.files)
    recipe = manifest.recipe if not pin else mf.RecipeRef(**{**manifest.recipe.__dict__, "builder_kwargs": {"config_sha256": sha}})
    hostile = manifest.replace(name="hostile", recipe=recipe, hub=mf.HubRef("evil/hostile", None)).with_epochs(
        [mf.EpochEntry(entry.epoch, files, entry.metrics, entry.created_at)])
    (stage / "zoo.json").write_text(hostile.dumps())


def test_a_hostile_config_is_built_only_in_a_bounded_child_and_refused(hub, scratch_repo, tmp_path):
    import zoo
    import zoo.keras

    fit(functional_mlp(), zoo.keras.EpochCheckpoint(tmp_path / "run"), epochs=1)
    honest = json.loads((tmp_path / "run" / "epochs" / "e001" / "config.json").read_text())

    # 64 → 40000 → 40000 units: 1.6 G parameters, 6.4 GB, from a 20 KB weights file.
    bomb = json.loads(json.dumps(honest).replace('"units": 24', '"units": 40000').replace('"units": 10', '"units": 40000').replace('[null, 24]', '[null, 40000]'))
    _hostile_repo(tmp_path / "run", tmp_path / "bomb", bomb)
    scratch_repo(tmp_path / "bomb", "evil/bomb")
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(zoo.UnsafeFileError, match="larger than its published weights"):
        zoo.load_pretrained("hf://evil/bomb")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 512 * 1024  # KB: nothing big was built here

    foreign = json.loads(json.dumps(honest).replace('"module": "keras.layers"', '"module": "os"', 1))
    _hostile_repo(tmp_path / "run", tmp_path / "foreign", foreign)
    scratch_repo(tmp_path / "foreign", "evil/foreign")
    with pytest.raises(zoo.UnsafeFileError, match="module 'os', outside Keras"):
        zoo.load_pretrained("hf://evil/foreign")

    swapped = json.loads(json.dumps(honest).replace('"activation": "relu"', '"activation": "tanh"'))
    _hostile_repo(tmp_path / "run", tmp_path / "swapped", swapped, pin=False)
    scratch_repo(tmp_path / "swapped", "evil/swapped")
    with pytest.raises(zoo.ArchitectureMismatchError, match="not the config the manifest pins"):
        zoo.load_pretrained("hf://evil/swapped")


@pytest.mark.fast
def test_a_config_nested_past_the_json_parsers_stack_is_a_file_format_error(tmp_path):
    from zoo.errors import FileFormatError
    from zoo.formats import keras_config

    path = tmp_path / "config.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(FileFormatError, match="nested deeper"):
        keras_config.read(path)
