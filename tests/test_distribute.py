"""Training under tf.distribute: MirroredStrategy over two logical CPU devices, byte-identical
across runs and on resume, published, fetched and loaded like any run; and two
MultiWorkerMirroredStrategy workers on loopback, of which only the chief writes.

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


def test_a_strategy_is_refused_clearly_when_it_cannot_mean_anything(tmp_path, monkeypatch):
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
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(zoo.DistributedError, match="needs TF_CONFIG"):
        zoo.train("digits-mlp", epochs=1, out=tmp_path / "run", strategy="multiworker")
    with pytest.raises(zoo.UsageError, match="the workers TF_CONFIG names"):
        zoo.train("digits-mlp", epochs=1, out=tmp_path / "run", strategy="multiworker", replicas=2)
    assert not (tmp_path / "run").exists()
    done = zoo_cli("train", "digits-mlp", "--replicas", "2", "--out", str(tmp_path / "cli"))
    assert done.returncode == 2 and "--strategy" in done.stderr and "Traceback" not in done.stderr


# -- several workers ---------------------------------------------------------------------------
def start_workers(n: int, tmp_path: Path, *args: str, timeout_s: int = 20) -> list[subprocess.Popen]:
    """``n`` processes of one ``zoo train --strategy multiworker`` cluster on loopback ports,
    each with its own TMPDIR (to see that a worker leaves nothing behind)."""
    import json

    from zoo.hub.server import free_port

    cluster = [f"localhost:{free_port()}" for _ in range(n)]
    procs = []
    for i in range(n):
        (tmp_path / f"tmp{i}").mkdir()
        env = {**os.environ, "COLUMNS": "200", "TMPDIR": str(tmp_path / f"tmp{i}"), "ZOO_COLLECTIVE_TIMEOUT": str(timeout_s),
               "TF_CONFIG": json.dumps({"cluster": {"worker": cluster}, "task": {"type": "worker", "index": i}})}
        procs.append(subprocess.Popen([sys.executable, "-m", "zoo.cli", "train", "digits-mlp", "--strategy", "multiworker", "--out", str(tmp_path / f"out{i}"), *args],
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return procs


def test_two_workers_train_one_run_that_only_the_chief_writes_and_they_agree_on_the_weights(tmp_path):
    import json

    from zoo.integrity import verify_file

    procs = start_workers(2, tmp_path, "--epochs", "2", "--save-at", "1,2", "--json")
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in outputs]
    chief, other = (json.loads(out) for out, _ in outputs)
    assert chief["chief"] and not other["chief"] and other["run_dir"] is None

    run = tmp_path / "out0"
    manifest = mf.load(run / "zoo.json")
    for entry in manifest.epochs:
        for f in entry.files:
            verify_file(run / f.path, f)
    assert manifest.epoch_numbers == [1, 2]
    assert manifest.recipe.train_config.distribution == mf.Distribution("multiworker", 2, "RingAllReduce", "cpu")
    theirs = mf.parse(other["manifest"])
    assert [e.weights.sha256 for e in theirs.epochs] == [e.weights.sha256 for e in manifest.epochs]  # the same weights, bit for bit
    assert not (tmp_path / "out1").exists() and not any((tmp_path / "tmp1").iterdir())  # the worker wrote nothing, left nothing
    # Two workers of one replica each train exactly what one worker with two replicas does.
    assert zoo_cli("train", "digits-mlp", "--strategy", "mirrored", "--replicas", "2", "--epochs", "2", "--save-at", "1,2",
                   "--out", str(tmp_path / "mirrored")).returncode == 0
    assert [e.weights.sha256 for e in mf.load(tmp_path / "mirrored" / "zoo.json").epochs] == [e.weights.sha256 for e in manifest.epochs]


def test_a_worker_that_dies_fails_the_run_with_a_clear_error_instead_of_a_hang(tmp_path):
    import signal
    import time

    procs = start_workers(2, tmp_path, "--epochs", "400", "--save-at", "1,400", timeout_s=15)
    manifest = tmp_path / "out0" / "zoo.json"
    deadline = time.monotonic() + 240
    while not manifest.exists() and time.monotonic() < deadline and procs[0].poll() is None:
        time.sleep(0.5)
    assert manifest.exists(), procs[0].communicate(timeout=60)[1][-2000:]
    procs[1].send_signal(signal.SIGKILL)
    procs[1].communicate(timeout=30)
    started = time.monotonic()
    _, err = procs[0].communicate(timeout=180)
    assert procs[0].returncode == 29, err[-2000:]
    assert "another worker did not answer" in err and "--resume" in err and "Traceback" not in err
    assert time.monotonic() - started < 120
    assert mf.load(manifest).epoch_numbers == [1]  # what was recorded is kept, resumable
