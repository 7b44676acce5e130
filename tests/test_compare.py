"""Epoch comparison against the real local hub: values, verification, plots, errors."""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pytest
from conftest import runner

import zoo
from zoo.formats import manifest as mf
from zoo.cli import app
from zoo.constants import user_manifests_dir



def test_measured_values_equal_model_evaluate_for_the_same_weights(hub):
    result = zoo.compare("digits-cnn", [1, 2])
    [model] = result.models
    assert [e.epoch for e in model.epochs] == [1, 2]
    x, y = zoo.get_recipe("digits-cnn").dataset.load().test
    for e in model.epochs:
        m = zoo.load_pretrained("digits-cnn", epoch=e.epoch, compile=True)
        expected = m.evaluate(x, y, verbose=0, return_dict=True)
        assert e.measured["test/accuracy"] == pytest.approx(expected["accuracy"], abs=1e-6)
        assert e.measured["test/loss"] == pytest.approx(expected["loss"], rel=1e-5)
        assert e.published["test/accuracy"] == pytest.approx(e.measured["test/accuracy"], abs=1e-6)
        assert e.file_size > 0 and e.eval_seconds > 0
    assert [e.best for e in model.epochs].count(True) == 1


def test_several_models_in_one_call_and_json(hub):
    out = runner.invoke(app, ["compare", "digits-mlp", "digits-cnn", "--epochs", "1,2", "--metric", "accuracy", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert [m["name"] for m in data["models"]] == ["digits-mlp", "digits-cnn"]
    assert data["metrics"] == ["test/accuracy"]
    assert all(set(e["measured"]) == {"test/accuracy"} for m in data["models"] for e in m["epochs"])
    table = runner.invoke(app, ["compare", "digits-mlp", "digits-cnn", "--all"])
    assert table.exit_code == 0 and "digits-cnn" in table.stdout and "best" in table.stdout


def test_verify_passes_when_published_numbers_reproduce(hub):
    out = runner.invoke(app, ["compare", "digits-mlp", "--verify", "--split", "val"])
    assert out.exit_code == 0, out.output


def test_verify_catches_a_published_vs_measured_mismatch(hub, monkeypatch, tmp_path):
    m = mf.load(user_manifests_dir() / "digits-mlp.json")
    e = m.epochs[1]
    inflated = dataclasses.replace(e, metrics={**e.metrics, "test/accuracy": e.metrics["test/accuracy"] + 0.05})
    directory = tmp_path / "manifests"
    directory.mkdir()
    mf.write(m.replace(name="inflated", epochs=(m.epochs[0], inflated)), directory / "inflated.json")
    monkeypatch.setenv("ZOO_MANIFESTS_DIR", str(directory))
    out = runner.invoke(app, ["compare", "inflated", "--verify"])
    assert out.exit_code == 17
    assert "inflated epoch 2 test/accuracy" in out.stderr
    with pytest.raises(zoo.ReproducibilityError):
        zoo.compare("inflated").verify(1e-4)


def test_plot_is_a_sensible_non_blank_png(hub, tmp_path):
    import matplotlib.image

    path = tmp_path / "epochs.png"
    out = runner.invoke(app, ["compare", "digits-mlp", "digits-cnn", "--plot", str(path)])
    assert out.exit_code == 0, out.output
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(path)
    height, width = image.shape[:2]
    assert 300 <= height <= 2000 and 600 <= width <= 4000
    rgb = image[..., :3]
    assert (rgb < 0.9).any(axis=-1).mean() > 0.01, "the plot is blank"
    assert np.unique(rgb.reshape(-1, 3), axis=0).shape[0] > 10


def test_a_missing_epoch_lists_the_available_ones(hub):
    out = runner.invoke(app, ["compare", "digits-mlp", "--epochs", "1,5"])
    assert out.exit_code == 4
    assert "no epoch 5" in out.stderr and "1, 2" in out.stderr


def test_an_unknown_metric_or_split_is_a_usage_error(hub):
    assert runner.invoke(app, ["compare", "digits-mlp", "--metric", "f1"]).exit_code == 2
    assert runner.invoke(app, ["compare", "digits-mlp", "--split", "holdout"]).exit_code == 2


def test_compare_a_local_run_directory(small_runs):
    result = zoo.compare(str(small_runs["digits-mlp"]))
    assert [e.epoch for e in result.models[0].epochs] == [1, 2]
