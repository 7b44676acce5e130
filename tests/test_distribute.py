"""Training under tf.distribute: MirroredStrategy over two logical CPU devices, byte-identical
across runs and on resume, published, fetched and loaded like any run.

TensorFlow splits its CPU into logical devices only before its first op, so each
distributed run is a ``zoo train`` process of its own, as a user would start it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from zoo.formats import manifest as mf


def zoo_cli(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "zoo.cli", *args], capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "200"})
    return done


def files_of(run: Path) -> list[tuple[str, str]]:
    return [(f.path, f.sha256) for e in mf.load(run / "zoo.json").epochs for f in e.files]


def test_mirrored_over_two_cpu_replicas_is_byte_identical_resumes_exactly_and_loads_like_any_run(hub, hub_dir, tmp_path):
    import zoo
    from zoo.constants import user_manifests_dir

    train = ["train", "digits-cnn", "--strategy", "mirrored", "--replicas", "2", "--save-at", "1,3"]
    for name in ("a", "b"):
        done = zoo_cli(*train, "--epochs", "3", "--out", str(tmp_path / name))
        assert done.returncode == 0, done.stderr
    assert files_of(tmp_path / "a") == files_of(tmp_path / "b")
    manifest = mf.load(tmp_path / "a" / "zoo.json")
    assert manifest.recipe.train_config.distribution == mf.Distribution("mirrored", 2, "ReductionToOneDevice", "cpu")
    assert manifest.recipe.train_config.batch_size == zoo.get_recipe("digits-cnn").train.batch_size  # the global batch

    # Killed after epoch 1, resumed on the same topology: the uninterrupted run's bytes.
    assert zoo_cli(*train, "--epochs", "1", "--out", str(tmp_path / "part")).returncode == 0
    resumed = zoo_cli(*train, "--epochs", "3", "--resume", "--out", str(tmp_path / "part"))
    assert resumed.returncode == 0 and "warning" not in resumed.stderr, resumed.stderr
    assert files_of(tmp_path / "part") == files_of(tmp_path / "a")

    # On another topology it goes on, and says the bytes will differ.
    assert zoo_cli(*train, "--epochs", "1", "--out", str(tmp_path / "moved")).returncode == 0
    moved = zoo_cli("train", "digits-cnn", "--epochs", "3", "--save-at", "1,3", "--resume", "--out", str(tmp_path / "moved"))
    assert moved.returncode == 0, moved.stderr
    assert "warning: resuming" in moved.stderr and "mirrored over 2 CPU replica(s) and resumes on one device" in moved.stderr
    assert "Traceback" not in moved.stderr and "TopologyWarning" not in moved.stderr
    assert mf.load(tmp_path / "moved" / "zoo.json").recipe.train_config.distribution is None

    # Published, fetched and loaded like any run (no strategy needed to load it).
    zoo.publish(tmp_path / "a", "me/digits-mirrored", hub_dir=hub_dir, manifests_dir=user_manifests_dir())
    loaded = zoo.load_pretrained("digits-mirrored", epoch=3)
    from_run = zoo.load_pretrained(str(tmp_path / "a"), epoch=3)
    x = zoo.get_recipe("digits-cnn").dataset.load().test[0][:32]
    assert np.array_equal(loaded.predict(x, verbose=0), from_run.predict(x, verbose=0))


def test_a_strategy_is_refused_clearly_when_it_cannot_mean_anything(tmp_path):
    import zoo
    from zoo.tf import tf

    tf.constant(1.0)  # TensorFlow has set up its one CPU device in this process
    with pytest.raises(zoo.UsageError, match="splits its CPU only before its first use") as info:
        zoo.train("digits-mlp", epochs=1, out=tmp_path / "run", strategy="mirrored", replicas=3, progress=False)
    assert "zoo train" in info.value.hint and not (tmp_path / "run").exists()
    with pytest.raises(zoo.UsageError, match="unknown strategy 'ring'"):
        zoo.train("digits-mlp", epochs=1, out=tmp_path / "run", strategy="ring")
    with pytest.raises(zoo.UsageError, match="pass `strategy='mirrored'` too"):
        zoo.train("digits-mlp", epochs=1, out=tmp_path / "run", replicas=2)
    done = zoo_cli("train", "digits-mlp", "--replicas", "2", "--out", str(tmp_path / "cli"))
    assert done.returncode == 2 and "--strategy" in done.stderr and "Traceback" not in done.stderr
