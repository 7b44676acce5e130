"""Weights files that pass sha256, layout and architecture checks but are not what they
seem: refused before Keras reads them, each with its own class. And manifests that cost
too much to read."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

import zoo
from zoo.formats import manifest as mf
from zoo.formats.fingerprint import read_layout

DENSE = "layers/dense/vars/0"  # digits-mlp's first kernel, (64, 128) float32


def _copy(small_runs, tmp_path: Path) -> Path:
    target = tmp_path / "w.weights.h5"
    shutil.copyfile(small_runs["digits-mlp"] / "epochs/e001/model.weights.h5", target)
    return target


def _rewrite(path: Path, name: str, **create) -> np.ndarray:
    with h5py.File(path, "r+") as h5:
        data = h5[name][()]
        del h5[name]
        h5.create_dataset(name, data=data, **create)
    return data


def test_the_reference_file_passes(small_runs, tmp_path):
    assert DENSE in read_layout(_copy(small_runs, tmp_path))


def test_a_decompression_bomb_is_refused_before_it_is_read(small_runs, tmp_path):
    """Every dataset chunked and gzip-compressed (how a bomb hides): refused unread."""
    path = _copy(small_runs, tmp_path)
    _rewrite(path, DENSE, chunks=(64, 128), compression="gzip")
    with pytest.raises(zoo.CompressedDataError, match="chunked or compressed"):
        zoo.load_pretrained(str(path), recipe="digits-mlp")


@pytest.mark.parametrize("kind", ["external-link", "soft-link", "virtual", "external-storage"])
def test_data_outside_the_file_is_refused(kind, small_runs, tmp_path):
    path = _copy(small_runs, tmp_path)
    outside = tmp_path / "outside.bin"
    with h5py.File(path, "r+") as h5:
        data = h5[DENSE][()]
        del h5[DENSE]
        if kind == "external-link":
            with h5py.File(tmp_path / "other.h5", "w") as other:
                other["kernel"] = data
            h5[DENSE] = h5py.ExternalLink(str(tmp_path / "other.h5"), "kernel")
        elif kind == "soft-link":
            h5["stash"] = data
            h5[DENSE] = h5py.SoftLink("/stash")
        elif kind == "virtual":
            with h5py.File(tmp_path / "source.h5", "w") as other:
                other["kernel"] = data
            layout = h5py.VirtualLayout(shape=data.shape, dtype=data.dtype)
            layout[:] = h5py.VirtualSource(str(tmp_path / "source.h5"), "kernel", shape=data.shape)
            h5.create_virtual_dataset(DENSE, layout)
        else:
            outside.write_bytes(data.tobytes())
            h5.create_dataset(DENSE, shape=data.shape, dtype=data.dtype, external=[(str(outside), 0, data.nbytes)])
    with pytest.raises(zoo.ExternalDataError):
        zoo.load_pretrained(str(path), recipe="digits-mlp")


def test_a_link_hidden_in_the_optimizer_group_is_refused_too(small_runs, tmp_path):
    path = _copy(small_runs, tmp_path)
    with h5py.File(path, "r+") as h5:
        h5["optimizer/vars/0"] = h5py.ExternalLink("/etc/passwd", "x")
    with pytest.raises(zoo.ExternalDataError, match="optimizer/vars/0"):
        read_layout(path)


def test_non_finite_weights_are_refused_at_publish_and_reported_at_load(small_runs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(small_runs["digits-mlp"], run)
    weights = run / "epochs/e002/model.weights.h5"
    with h5py.File(weights, "r+") as h5:
        kernel = h5[DENSE][()]
        kernel[0, 0] = np.nan
        h5[DENSE][...] = kernel
    m = mf.load(run / "zoo.json")
    import dataclasses
    import hashlib

    e = m.epochs[1]
    fixed = tuple(dataclasses.replace(f, sha256=hashlib.sha256(weights.read_bytes()).hexdigest()) if f.role == "weights" else f for f in e.files)
    mf.write(m.with_epochs([m.epochs[0], dataclasses.replace(e, files=fixed)]), run / "zoo.json")  # a consistent, lying run
    with pytest.raises(zoo.NonFiniteWeightsError, match="NaN or infinity"):
        zoo.publish(run, "zoo/nan", hub_dir=tmp_path / "hub", manifests_dir=tmp_path / "m")
    assert not (tmp_path / "hub" / "models" / "zoo" / "nan").exists()
    from zoo.compat import NonFiniteWeightsWarning

    with pytest.warns(NonFiniteWeightsWarning, match="NaN or infinity"):
        zoo.load_pretrained(str(run), epoch=2)


# -- manifests that cost too much ---------------------------------------------------------------
@pytest.mark.fast
@pytest.mark.parametrize("make", [
    lambda: "[" * 5000 + "]" * 5000,  # a RecursionError in json or jsonschema, unchecked
    lambda: json.dumps({"a": "x" * (mf.MAX_BYTES + 1)}),
])
def test_a_manifest_too_deep_or_too_large_is_refused_before_parsing(make):
    with pytest.raises(zoo.ManifestError, match="nested deeper|larger than a manifest"):
        mf.loads(make())


@pytest.mark.fast
def test_a_manifest_with_too_many_epochs_is_refused(small_runs):
    data = mf.load(small_runs["digits-mlp"] / "zoo.json").to_dict()
    one = data["epochs"][0]
    data["epochs"] = [{**one, "epoch": n + 1, "files": [{**f, "path": f"e{n}/{f['path'].rsplit('/', 1)[-1]}"} for f in one["files"]]} for n in range(mf.MAX_EPOCHS + 1)]
    data["default_epoch"] = mf.MAX_EPOCHS + 1
    with pytest.raises(zoo.ManifestError, match=r"\$\.epochs"):
        mf.parse(data)


@pytest.mark.fast
def test_deep_python_data_is_refused_without_recursion():
    deep: list = []
    for _ in range(10_000):
        deep = [deep]
    with pytest.raises(zoo.ManifestError, match="nested deeper"):
        mf.parse({"schema_version": 2, "deep": deep})


# -- builder kwargs from a manifest, checked before anything is built ------------------------------
@pytest.mark.fast
@pytest.mark.parametrize("kwargs", [{"hidden": [10_000_000]}, {"hidden": [128] * 20_000}, {"hidden": "x"}, {"hidden": None},
                                    {"hidden": [-1]}, {"hidden": [1.5]}, {"hidden": [64], "evil": True}])
def test_builder_kwargs_outside_the_recipes_declaration_are_refused_unbuilt(kwargs):
    import sys

    from zoo.compat import check_builder_kwargs

    recipe = zoo.get_recipe("digits-mlp")
    with pytest.raises(zoo.ArchitectureMismatchError, match="builder kwargs of recipe digits-mlp"):
        check_builder_kwargs(recipe, kwargs)
    assert "tensorflow" not in sys.modules or sys.modules["tensorflow"] is not None  # nothing needed TensorFlow


@pytest.mark.fast
def test_a_parameter_count_past_the_recipes_bound_is_refused():
    from zoo.compat import check_builder_kwargs

    recipe = zoo.get_recipe("digits-mlp")
    check_builder_kwargs(recipe, {"hidden": [128, 64]}, 17_226)
    with pytest.raises(zoo.ArchitectureMismatchError, match="more than recipe digits-mlp builds"):
        check_builder_kwargs(recipe, {"hidden": [128, 64]}, 10**12)


def test_a_hostile_manifests_kwargs_never_reach_the_builder(small_runs, monkeypatch, tmp_path):
    m = mf.load(small_runs["digits-mlp"] / "zoo.json")
    import dataclasses

    hostile = m.replace(recipe=dataclasses.replace(m.recipe, builder_kwargs={"hidden": [10_000_000]}))
    mf.write(hostile, tmp_path / "zoo.json")
    for f in (small_runs["digits-mlp"] / "epochs").iterdir():
        shutil.copytree(f, tmp_path / "epochs" / f.name)
    with pytest.raises(zoo.ArchitectureMismatchError, match=r"hidden\.0"):
        zoo.load_pretrained(str(tmp_path), epoch=1)
