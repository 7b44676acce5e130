"""Sharded checkpoints: above ``shard_size`` an epoch's weights are Keras sharded weights
(``model.weights.json`` + ``model_NNNNN.weights.h5``), listed shard by shard in the manifest,
and every path (train, resume, publish, fetch, load, compare, export) handles them. A tiny
threshold on digits-mlp (its largest weight is 32 KB) makes two shards per epoch."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import NO_ZOO, run_python, runner, tree_digest

import zoo
from zoo.cli import app
from zoo.errors import FileFormatError, IntegrityError, ManifestError, UsageError
from zoo.fileio import sha256_file
from zoo.formats import manifest as mf, sharded
from zoo.hub.git_publisher import repo_dir
from zoo.workflows.training import train

SHARD = 40_000  # bytes: digits-mlp's 68 KB of weights in two shards
REPO = "zoo/digits-mlp-sharded"


@pytest.fixture(scope="module")
def sharded_run(tmp_path_factory):
    return train("digits-mlp", epochs=2, save_at=[1, 2], out=tmp_path_factory.mktemp("sharded") / "run", progress=False, shard_size=SHARD).run_dir


@pytest.fixture(scope="module")
def published(sharded_run, hub_dir):
    from zoo.constants import user_manifests_dir
    from zoo.workflows.publishing import publish

    return publish(sharded_run, REPO, hub_dir=hub_dir, manifests_dir=user_manifests_dir()).manifest


def _batch():
    return zoo.get_recipe("digits-mlp").dataset.load().test[0][:32]


def test_weights_above_the_shard_size_are_keras_sharded_weights_listed_in_the_manifest(sharded_run, small_runs):
    from zoo.formats.fingerprint import read_layout

    run = mf.load(sharded_run / "zoo.json")
    for e in run.epochs:
        assert e.weights.path == f"epochs/e{e.epoch:03d}/{sharded.INDEX_FILENAME}"
        assert [s.path.rsplit("/", 1)[1] for s in e.shards] == ["model_00000.weights.h5", "model_00001.weights.h5"]
        for f in (e.weights, *e.shards):
            assert (f.size, f.sha256) == ((sharded_run / f.path).stat().st_size, sha256_file(sharded_run / f.path))
        assert all(sharded.weights_bytes(read_layout(sharded_run / s.path))[0] <= SHARD for s in e.shards)
    # The same training, unsharded: the same layout fingerprint and, loaded, the same weights.
    single = mf.load(small_runs["digits-mlp"] / "zoo.json")
    assert run.compat == single.compat and not single.epochs[0].shards
    assert "shard_size" not in json.loads((small_runs["digits-mlp"] / "zoo.json").read_text())["recipe"]["train_config"]  # the default is not written
    ours, theirs = zoo.load_pretrained(str(sharded_run), epoch=2), zoo.load_pretrained(str(small_runs["digits-mlp"]), epoch=2)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert ours.zoo.weights_sha256 == run.epochs[1].weights_sha256 != run.epochs[0].weights_sha256  # the index alone is the same every epoch
    # A sharded file from outside the zoo loads like a .weights.h5, into the recipe named.
    local = zoo.load_pretrained(str(sharded_run / "epochs/e002" / sharded.INDEX_FILENAME), recipe="digits-mlp")
    np.testing.assert_array_equal(local.predict(_batch(), verbose=0), ours.predict(_batch(), verbose=0))
    # Plain Keras reads the index too.
    from zoo.tf import keras

    plain = keras.models.model_from_json((sharded_run / "epochs/e002/config.json").read_text())
    plain.load_weights(str(sharded_run / "epochs/e002" / sharded.INDEX_FILENAME))
    np.testing.assert_array_equal(plain.predict(_batch(), verbose=0), ours.predict(_batch(), verbose=0))


def test_resuming_a_sharded_run_keeps_its_shard_size_and_gives_the_bytes_of_an_uninterrupted_one(sharded_run, tmp_path):
    out = tmp_path / "resumed"
    train("digits-mlp", epochs=1, save_at=[1], out=out, progress=False, shard_size=SHARD)
    train("digits-mlp", epochs=2, save_at=[1, 2], out=out, progress=False, resume=True)  # the run's own shard size
    whole, resumed = mf.load(sharded_run / "zoo.json"), mf.load(out / "zoo.json")
    assert whole.recipe.train_config.shard_size == resumed.recipe.train_config.shard_size == SHARD
    assert [[(f.path, f.sha256) for f in e.files] for e in resumed.epochs] == [[(f.path, f.sha256) for f in e.files] for e in whole.epochs]


def test_a_sharded_model_round_trips_through_publish_fetch_load_compare_and_export(published, sharded_run, hub, tmp_path):
    last = published.epochs[-1]
    assert {f.path for f in last.files} >= {sharded.INDEX_FILENAME, "model_00000.weights.h5", "model_00001.weights.h5"}
    fetched = zoo.fetch("digits-mlp-sharded", epochs="last")
    assert sorted((f.role, f.path_in_repo) for f in fetched) == [
        ("weights", sharded.INDEX_FILENAME), ("weights-shard", "model_00000.weights.h5"), ("weights-shard", "model_00001.weights.h5")]
    assert len({f.local_path.parent for f in fetched}) == 1 and not any(f.cached for f in fetched)
    assert all(sha256_file(f.local_path) == f.sha256 for f in fetched)

    info = runner.invoke(app, ["info", "digits-mlp-sharded"])
    assert info.exit_code == 0 and "in 2 shards" in info.output

    model = zoo.load_pretrained("digits-mlp-sharded")
    expected = zoo.load_pretrained(str(sharded_run), epoch=2).predict(_batch(), verbose=0)
    np.testing.assert_array_equal(model.predict(_batch(), verbose=0), expected)
    assert model.zoo.weights_sha256 == last.weights_sha256

    comparison = zoo.compare("digits-mlp-sharded", all_epochs=True)
    for row, entry in zip(comparison.models[0].epochs, published.epochs):
        assert row.measured["test/accuracy"] == pytest.approx(entry.metrics["test/accuracy"], abs=1e-6)
        assert row.file_size == entry.weights_size

    for fmt, out in (("keras", tmp_path / "m.keras"), ("onnx", tmp_path / "m.onnx")):
        result = zoo.export("digits-mlp-sharded", None, fmt, out)
        assert result.max_abs_diff < 1e-4 and out.exists()


def test_a_corrupted_or_missing_shard_is_refused_by_name(published, hub_dir, hub, sharded_run, tmp_path):
    shard = published.epochs[0].shards[1]
    lfs = repo_dir(hub_dir, REPO) / ".git" / "lfs" / "objects" / shard.sha256[:2] / shard.sha256[2:4] / shard.sha256
    good = lfs.read_bytes()
    try:
        lfs.write_bytes(good[:-100] + bytes(100))  # same size, other bytes
        with pytest.raises(IntegrityError, match="model_00001.weights.h5"):
            zoo.load_pretrained("digits-mlp-sharded", epoch=1)
        result = runner.invoke(app, ["fetch", "digits-mlp-sharded", "--epoch", "1"])
        assert result.exit_code == 7 and "model_00001.weights.h5" in result.output and "Traceback" not in result.output
    finally:
        lfs.write_bytes(good)

    run = tmp_path / "run"
    shutil.copytree(sharded_run, run)
    (run / "epochs/e001/model_00000.weights.h5").unlink()
    with pytest.raises(IntegrityError, match="model_00000.weights.h5"):
        zoo.load_pretrained(str(run), epoch=1)


def test_an_index_naming_a_shard_the_manifest_does_not_list_is_refused_before_keras_opens_it(sharded_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(sharded_run, run)
    epoch = run / "epochs/e002"
    index = json.loads((epoch / sharded.INDEX_FILENAME).read_text())
    index["weight_map"]["/layers/dense_2/vars"] = ["model_00007.weights.h5"]
    (epoch / sharded.INDEX_FILENAME).write_text(json.dumps(index))
    shutil.copy(epoch / "model_00001.weights.h5", epoch / "model_00007.weights.h5")  # present, but never verified
    m = mf.load(run / "zoo.json")
    files = tuple(mf.FileEntry(f.path, sha256_file(run / f.path), (run / f.path).stat().st_size, f.role, f.optional) if f.role == "weights" else f
                  for f in m.epochs[1].files)
    mf.write(m.with_epochs([m.epochs[0], mf.EpochEntry(2, files, m.epochs[1].metrics, m.epochs[1].created_at)]), run / "zoo.json")
    before = tree_digest(run)
    with pytest.raises(FileFormatError, match="does not list: model_00007.weights.h5"):
        zoo.load_pretrained(str(run), epoch=2)
    result = runner.invoke(app, ["publish", str(run), "--repo", "zoo/never", "--hub-dir", str(tmp_path / "hub")])
    assert result.exit_code == 16 and "model_00007.weights.h5" in result.output
    assert tree_digest(run) == before


@pytest.mark.fast
@pytest.mark.parametrize("weight_map, problem", [
    ({"/vars": ["../model_00000.weights.h5"]}, "is not a list of shard files"),
    ({"/vars": "model_00001.weights.h5"}, "names no model_00000.weights.h5"),
    ({"/vars": []}, "is not a list of shard files"),
    ({"vars": ["model_00000.weights.h5"]}, "is not a list of shard files"),
    ({}, "no 'weight_map'"),
])
def test_read_index_refuses_what_keras_never_writes(tmp_path, weight_map, problem):
    index = tmp_path / sharded.INDEX_FILENAME
    index.write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    with pytest.raises(FileFormatError, match=problem):
        sharded.read_index(index)


@pytest.mark.fast
def test_read_index_refuses_json_too_deep_or_too_large_to_be_one(tmp_path):
    index = tmp_path / sharded.INDEX_FILENAME
    index.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(FileFormatError, match="nested too deep"):
        sharded.read_index(index)
    index.write_text(json.dumps({"weight_map": {"/vars": ["model_00000.weights.h5"]}, "pad": "x" * sharded.MAX_INDEX_BYTES}))
    with pytest.raises(FileFormatError, match="larger than a sharded weights index may be"):
        sharded.read_index(index)


def test_a_shard_holding_a_group_the_index_maps_elsewhere_is_refused(sharded_run, tmp_path):
    from zoo.formats.fingerprint import read_layout

    epoch = tmp_path / "e"
    shutil.copytree(sharded_run / "epochs/e001", epoch)
    index = json.loads((epoch / sharded.INDEX_FILENAME).read_text())
    index["weight_map"]["/layers/dense_2/vars"] = ["model_00000.weights.h5"]
    (epoch / sharded.INDEX_FILENAME).write_text(json.dumps(index))
    with pytest.raises(FileFormatError, match="does not map /layers/dense_2/vars to this shard"):
        read_layout(epoch / sharded.INDEX_FILENAME)


def _first_shard_renamed(files, path):
    next(f for f in files if f["role"] == "weights-shard")["path"] = path


@pytest.mark.parametrize("change, problem", [
    (lambda files: _first_shard_renamed(files, "elsewhere/model_00000.weights.h5"), "beside"),
    (lambda files: _first_shard_renamed(files, "epochs/e001/weights0.weights.h5"), "must be named"),
    (lambda files: [f.update(role="config") for f in files if f["role"] == "weights-shard"], "no file has role 'weights-shard'"),
    (lambda files: files[0].update(path=files[0]["path"].replace(".weights.json", ".weights.h5")), "is a single weights file, yet 2 shard"),
])
def test_a_manifest_keeps_shards_beside_their_index(sharded_run, change, problem):
    data = json.loads((sharded_run / "zoo.json").read_text())
    change(data["epochs"][0]["files"])  # files[0] is the index
    with pytest.raises(ManifestError, match=problem):
        mf.parse(data)


@pytest.mark.fast
@pytest.mark.parametrize("text, size", [("500MB", 500 * 10**6), ("2GiB", 2 * 2**30), ("1.5 kb", 1500), ("40000", 40_000), (None, sharded.DEFAULT_SHARD_SIZE)])
def test_shard_sizes_are_read_as_users_write_them(text, size):
    assert sharded.parse_size(text) == size


@pytest.mark.fast
@pytest.mark.parametrize("text", ["10", "lots", "-5MB", "5 PB", True])
def test_a_shard_size_that_is_not_one_is_a_usage_error(text):
    with pytest.raises(UsageError):
        sharded.parse_size(text)


def test_a_shard_size_below_the_largest_weight_is_refused_before_training(tmp_path):
    result = runner.invoke(app, ["train", "digits-mlp", "--epochs", "1", "--out", str(tmp_path / "r"), "--shard-size", "20000"])
    assert result.exit_code == 2 and "--shard-size" in result.output and "32,768 bytes" in result.output
    assert not (tmp_path / "r").exists()


def test_the_card_of_a_sharded_epoch_loads_it_without_zoo(published, tools_env, tmp_path):
    """`keras.saving.load_model` reads only model.weights.h5: the card says so and gives
    the two lines that do load a sharded epoch; they run as written, without zoo."""
    import os
    import re
    import subprocess
    import sys
    from pathlib import Path

    from huggingface_hub import hf_hub_download

    card = Path(hf_hub_download(REPO, "README.md", revision="epoch-2", endpoint=tools_env["HF_ENDPOINT"], cache_dir=tmp_path / "c")).read_text()
    assert "keras.saving.load_model` does not read" in card and 'load_model("hf://' not in card
    blocks = re.findall(r"```(python|bash)\n(.*?)```", card, re.S)
    assert [kind for kind, _ in blocks] == ["python", "bash", "python"]
    env = {**tools_env, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    subprocess.run(blocks[1][1].strip().split(), env=env, cwd=tmp_path, check=True, capture_output=True)
    code = f"import numpy as np\n{blocks[2][1]}{NO_ZOO}np.save('plain.npy', model.predict(np.load('batch.npy'), verbose=0))\n"
    np.save(tmp_path / "batch.npy", _batch())
    run_python(code, env, tmp_path)
    np.testing.assert_array_equal(np.load(tmp_path / "plain.npy"), zoo.load_pretrained("digits-mlp-sharded").predict(_batch(), verbose=0))


def test_your_own_fit_saves_sharded_weights_and_restores_from_them(tmp_path):
    """``EpochCheckpoint(shard_size=…)`` on a model no recipe builds (7.2 KB of weights)."""
    import zoo.keras
    from test_own_loop import digits, fit, functional_mlp

    model = functional_mlp()
    fit(model, zoo.keras.EpochCheckpoint(tmp_path / "run", shard_size=7000), epochs=2)
    run = mf.load(tmp_path / "run" / "zoo.json")
    assert all(len(e.shards) == 2 for e in run.epochs)
    x = digits()[0][:32]
    np.testing.assert_array_equal(zoo.load_pretrained(str(tmp_path / "run")).predict(x, verbose=0), model.predict(x, verbose=0))
    assert run.recipe.train_config.shard_size == 7000
    again = functional_mlp(seed=1)
    checkpoint = zoo.keras.EpochCheckpoint(tmp_path / "run")  # no shard_size: the run's own
    assert checkpoint.restore(again) == 2
    for a, b in zip(again.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    fit(again, checkpoint, epochs=3, initial_epoch=2)
    resumed = mf.load(tmp_path / "run" / "zoo.json")
    assert len(resumed.epochs[-1].shards) == 2 and resumed.recipe.train_config.shard_size == 7000
