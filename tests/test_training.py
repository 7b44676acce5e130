"""Deterministic per-epoch training, exact resume, and refusals that never damage a run dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import tree_digest

import zoo

from zoo.formats import manifest as mf
from zoo.errors import ArchitectureMismatchError, IntegrityError, RunDirError, UsageError
from zoo.workflows.training import plan_save_at, train
from zoo.registry import get_recipe


def _weights(run: Path) -> dict[int, bytes]:
    m = mf.load(run / "zoo.json")
    return {e.epoch: (run / e.weights.path).read_bytes() for e in m.epochs}


def test_plan_save_at_always_keeps_the_last_epoch():
    recipe = get_recipe("digits-mlp")
    assert plan_save_at(None, 100, recipe) == [10, 50, 100]
    assert plan_save_at(None, 3, recipe) == [3]
    assert plan_save_at([1, 5, 2], 4, recipe) == [1, 2, 4]
    with pytest.raises(UsageError):
        plan_save_at([0], 4, recipe)


def test_run_dir_has_weights_resume_state_metrics_and_manifest(small_runs):
    run = small_runs["digits-cnn"]
    m = mf.load(run / "zoo.json")
    assert m.epoch_numbers == [1, 2] and m.default_epoch == 2 and m.hub is None
    assert m.selection["best"].metric == "val/accuracy" and m.selection["best"].epoch in (1, 2)
    for e in m.epochs:
        assert {f.role for f in e.files} == {"weights", "config", "metadata", "resume"}
        for split in ("train", "val", "test"):
            assert 0.0 <= e.metrics[f"{split}/accuracy"] <= 1.0 and e.metrics[f"{split}/loss"] > 0
        for f in e.files:
            assert (run / f.path).stat().st_size == f.size
    import h5py

    with h5py.File(run / m.epochs[0].weights.path) as h5:
        assert "optimizer" not in h5, "published weights must not carry optimizer state"
    assert m.compat.param_count == 19466 and m.recipe.train_config.epochs == 2
    assert m.classes == tuple("0123456789") and m.input.shape == (8, 8, 1) and m.input.range == (0.0, 1.0)


@pytest.mark.parametrize("name", ["digits-mlp", "digits-cnn", "mnist-lenet", "shapes-yolo"])
def test_every_epoch_directory_is_a_keras_model_directory(name, small_runs):
    """config.json + model.weights.h5: plain Keras loads an epoch directory as it is."""
    import numpy as np

    from zoo.tf import keras

    run = small_runs[name]
    model = keras.saving.load_model(run / "epochs/e002")
    recipe = zoo.get_recipe(name)
    ours = recipe.build()
    ours.load_weights(run / "epochs/e002/model.weights.h5")
    batch = recipe.dataset.load().test[0][:4]
    np.testing.assert_array_equal(model.predict(batch, verbose=0), ours.predict(batch, verbose=0))
    assert "compile_config" not in (run / "epochs/e002/config.json").read_text()


def test_recorded_metrics_are_what_plain_keras_evaluate_reports(small_runs):
    """The run's metrics come from reused tf.data pipelines; they must equal Keras's own
    ``evaluate`` on the numpy arrays, to the last bit."""
    run = small_runs["digits-cnn"]
    m, recipe = mf.load(run / "zoo.json"), get_recipe("digits-cnn")
    model = recipe.build()
    model.load_weights(str(run / m.epochs[-1].weights.path))
    recipe.compile(model)
    splits = recipe.dataset.load()
    for split in ("train", "val", "test"):
        x, y = splits.get(split)
        keras_says = model.evaluate(x, y, batch_size=256, verbose=0, return_dict=True)
        assert {f"{split}/{k}": float(v) for k, v in keras_says.items()} == {k: v for k, v in m.epochs[-1].metrics.items() if k.startswith(split)}


def test_run_dirs_are_byte_identical_across_processes(small_runs, tmp_path):
    """A second, separate process with the same recipe and seed writes the same bytes:
    weights, resume state (Keras's save time and object ids normalised) and manifest."""
    out = tmp_path / "again"
    code = f"from zoo.workflows.training import train; train('digits-cnn', epochs=2, save_at=[1, 2], out={str(out)!r}, progress=False)"
    subprocess.run([sys.executable, "-c", code], check=True, env=os.environ.copy())
    assert _weights(out) == _weights(small_runs["digits-cnn"])
    assert tree_digest(out) == tree_digest(small_runs["digits-cnn"])


@pytest.mark.parametrize("name", ["digits-cnn", "mnist-lenet"])  # both have Dropout
def test_resume_is_byte_identical_to_an_uninterrupted_run(name, small_runs, tmp_path):
    run = tmp_path / "run"
    train(name, epochs=1, save_at=[1], out=run, progress=False)
    result = train(name, epochs=2, out=run, resume=True, progress=False)
    assert result.trained_epochs == [2]
    assert _weights(run) == _weights(small_runs[name])
    assert mf.load(run / "zoo.json").epoch_numbers == [1, 2]


def test_resume_refuses_a_run_of_another_recipe(small_runs):
    run = small_runs["digits-mlp"]
    before = tree_digest(run)
    with pytest.raises(ArchitectureMismatchError, match="belong to recipe digits-mlp"):
        train("digits-cnn", epochs=3, out=run, resume=True, progress=False)
    assert tree_digest(run) == before


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_resume_refuses_a_corrupted_run_and_changes_nothing(damage, small_runs, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(small_runs["digits-mlp"], run)
    target = run / "epochs/e002/resume.keras"
    data = bytearray(target.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0xFF
        target.write_bytes(bytes(data))
    elif damage == "truncate":
        target.write_bytes(bytes(data[:100]))
    else:
        target.unlink()
    before = tree_digest(run)
    with pytest.raises((IntegrityError, RunDirError), match="resume.keras"):
        train("digits-mlp", epochs=3, out=run, resume=True, progress=False)
    assert tree_digest(run) == before


def test_resume_refuses_a_damaged_run_manifest(small_runs, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(small_runs["digits-mlp"], run)
    (run / "zoo.json").write_text('{"schema_version": 1, "name": ')
    before = tree_digest(run)
    with pytest.raises(RunDirError, match="damaged"):
        train("digits-mlp", epochs=3, out=run, resume=True, progress=False)
    assert tree_digest(run) == before


def test_training_into_a_non_empty_dir_without_resume_is_refused(small_runs):
    run = small_runs["digits-mlp"]
    before = tree_digest(run)
    with pytest.raises(RunDirError, match="resume=True"):
        train("digits-mlp", epochs=2, out=run, progress=False)
    assert tree_digest(run) == before


def test_resume_with_nothing_left_to_train_is_a_usage_error(small_runs):
    with pytest.raises(UsageError, match="already holds epoch 2"):
        train("digits-mlp", epochs=2, out=small_runs["digits-mlp"], resume=True, progress=False)


def test_resume_without_a_run_is_refused(tmp_path):
    with pytest.raises(RunDirError, match="nothing to resume"):
        train("digits-mlp", epochs=2, out=tmp_path / "none", resume=True, progress=False)


def test_a_run_killed_before_its_first_record_starts_over_with_resume(tmp_path):
    run = tmp_path / "run"
    (run / "epochs" / "e001").mkdir(parents=True)
    (run / "epochs" / "e001" / "config.json").write_text("{}")
    (run / "epochs" / "e001" / ".model.weights.h5.x1y2.tmp.weights.h5").write_bytes(b"half")
    with pytest.raises(RunDirError, match="killed before it recorded its first epoch") as info:
        train("digits-mlp", epochs=1, out=run, progress=False)
    assert "resume=True" in info.value.hint
    result = train("digits-mlp", epochs=1, out=run, resume=True, progress=False)
    assert result.manifest.epoch_numbers == [1]
    assert not (run / "epochs" / "e001" / ".model.weights.h5.x1y2.tmp.weights.h5").exists()


def test_resume_never_clears_a_directory_holding_anything_else(tmp_path):
    run = tmp_path / "run"
    (run / "epochs" / "e001").mkdir(parents=True)
    (run / "notes.txt").write_text("mine")
    before = tree_digest(run)
    with pytest.raises(RunDirError, match="nothing to resume"):
        train("digits-mlp", epochs=1, out=run, resume=True, progress=False)
    assert tree_digest(run) == before


def test_a_full_disk_while_training_is_a_clear_error_and_the_run_stays_resumable(tmp_path):
    """RLIMIT_FSIZE makes every write past 150 kB fail with EFBIG, as a full disk fails with
    ENOSPC: the weights fit, the resume state does not."""
    import subprocess
    import sys

    run = tmp_path / "run"
    code = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            "resource.setrlimit(resource.RLIMIT_FSIZE, (150_000, 150_000)); "
            f"from zoo.cli import app; sys.argv = ['zoo', 'train', 'digits-mlp', '--epochs', '1', '--out', {str(run)!r}]; app()")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 27, proc.stderr[-2000:]
    assert "cannot write" in proc.stderr and "Traceback" not in proc.stderr
    assert not (run / "zoo.json").exists() and not [p for p in run.rglob("*") if ".tmp" in p.name]
    assert train("digits-mlp", epochs=1, out=run, resume=True, progress=False).manifest.epoch_numbers == [1]
