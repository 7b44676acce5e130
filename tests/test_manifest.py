"""Manifest v1: the schema accepts good manifests, rejects bad ones naming the field, and round-trips."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest

from zoo.formats import manifest as mf
from zoo.constants import bundled_manifests_dir
from zoo.errors import ManifestError, UnknownEpochError, UnsafePathError, UsageError

H = "ab" * 32

pytestmark = pytest.mark.fast


def good() -> dict:
    def epoch(n, acc):
        return {
            "epoch": n,
            "files": [
                {"path": f"epochs/e{n:03d}/model.weights.h5", "sha256": H, "size": 1234, "role": "weights"},
                {"path": f"epochs/e{n:03d}/resume.keras", "sha256": H, "size": 4321, "role": "resume", "optional": True},
            ],
            "metrics": {"val/accuracy": acc, "train/loss": 1.0 - acc},
            "created_at": "2026-11-25T10:00:00Z",
            "yanked": None,
            "commit": None,
        }

    return {
        "schema_version": 2,
        "name": "digits-cnn",
        "description": "test",
        "license": "apache-2.0",
        "recipe": {
            "name": "digits-cnn",
            "version": 1,
            "builder_kwargs": {"filters": [32, 64]},
            "dataset": {"name": "sklearn-digits", "splits": {"train": "a", "val": "b", "test": "c"}},
            "train_config": {"optimizer": "adam", "learning_rate": 0.001, "batch_size": 32, "epochs": 100, "seed": 0},
        },
        "input": {"shape": [8, 8, 1], "dtype": "float32", "range": [0.0, 1.0], "preprocessing": "grey digits / 16"},
        "classes": [str(i) for i in range(10)],
        "compat": {"format": "keras.weights.h5", "keras": "3.15.1", "tensorflow": "2.21.0", "param_count": 10, "layout_sha256": H, "architecture_sha256": H},
        "hub": {"repo_id": "zoo/digits-cnn", "revision": "0" * 40},
        "default_epoch": 100,
        "selection": {"best": {"metric": "val/accuracy", "mode": "max", "epoch": 50}},
        "epochs": [epoch(10, 0.8), epoch(50, 0.95), epoch(100, 0.94)],
    }


def test_the_schema_file_is_a_valid_json_schema():
    schema = json.loads((bundled_manifests_dir() / "schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(good(), schema)


def test_good_manifest_parses_and_round_trips():
    m = mf.parse(good())
    assert m.epoch_numbers == [10, 50, 100] and m.best_epoch == 50 and m.last_epoch == 100
    assert m.to_dict() == good()
    assert mf.loads(m.dumps()) == m
    assert m.dumps() == mf.loads(m.dumps()).dumps()


def test_unpublished_run_manifest_has_null_hub():
    data = good()
    data["hub"] = None
    assert mf.parse(data).hub is None
    data["hub"] = {"repo_id": "zoo/x", "revision": None}
    assert mf.parse(data).hub.revision is None


def test_epoch_resolution():
    m = mf.parse(good())
    assert m.resolve_epoch(None).epoch == 100
    assert m.resolve_epoch("best").epoch == 50
    assert m.resolve_epoch("last").epoch == 100
    assert m.resolve_epoch("10").epoch == 10
    with pytest.raises(UnknownEpochError, match="no epoch 7") as info:
        m.resolve_epoch(7)
    assert "10, 50, 100" in info.value.hint
    with pytest.raises(UsageError, match="'first' is not an epoch"):
        m.resolve_epoch("first")


def _mutate(path, value):
    data = good()
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


BAD = [
    (("name",), KeyError, r"'name' is a required property"),
    (("name",), "Has Spaces", r"\$\.name"),
    (("recipe", "version"), "1", r"\$\.recipe\.version"),
    (("recipe", "train_config", "learning_rate"), 0, r"\$\.recipe\.train_config\.learning_rate"),
    (("compat", "layout_sha256"), "xyz", r"\$\.compat\.layout_sha256"),
    (("compat", "format"), "pickle", r"\$\.compat\.format"),
    (("hub", "revision"), "main", r"\$\.hub"),
    (("epochs", 0, "files", 0, "size"), -1, r"\$\.epochs\[0\]\.files\[0\]\.size"),
    (("epochs", 0, "files", 0, "role"), "code", r"\$\.epochs\[0\]\.files\[0\]\.role"),
    (("epochs", 0, "metrics", "val/accuracy"), "high", r"\$\.epochs\[0\]\.metrics"),
    (("epochs", 1, "created_at"), "yesterday", r"\$\.epochs\[1\]\.created_at"),
    (("epochs",), [], r"\$\.epochs"),
    (("default_epoch",), 7, r"default_epoch: 7 is not one of the epochs"),
    (("selection", "best", "epoch"), 7, r"selection\.best\.epoch"),
    (("extra",), 1, r"Additional properties"),
]


@pytest.mark.parametrize("path,value,message", BAD, ids=[".".join(map(str, p)) for p, _, _ in BAD])
def test_bad_manifests_are_rejected_naming_the_field(path, value, message):
    with pytest.raises(ManifestError, match=message):
        mf.parse(_mutate(path, value), source="m.json")


@pytest.mark.parametrize("path,value,message", BAD[:4], ids=[".".join(map(str, p)) for p, _, _ in BAD[:4]])
def test_texts_are_checked_each_time_they_are_read(path, value, message):
    """loads remembers only texts that passed the schema: a bad one fails every time,
    and a good one read before does not make a different, bad one pass."""
    good_text = json.dumps(good())
    mf.loads(good_text)
    bad_text = json.dumps(_mutate(path, value))
    for _ in range(2):
        with pytest.raises(ManifestError, match=message):
            mf.loads(bad_text, source="m.json")
    assert mf.loads(good_text) == mf.parse(good())


@pytest.mark.parametrize(
    "path",
    ["../escape.h5", "/etc/passwd", "epochs\\e010\\w.h5", "", "epochs/../../x", "epochs//x", "./x", "c:/x", "epochs/e010/", "a/\x00b"],
)
def test_unsafe_file_paths_are_refused(path):
    data = good()
    data["epochs"][0]["files"][0]["path"] = path
    with pytest.raises(ManifestError) as info:
        mf.parse(data)
    assert "$.epochs[0].files[0].path" in str(info.value)
    with pytest.raises(UnsafePathError):
        mf.check_relpath(path)


def test_duplicate_and_decreasing_epochs_are_refused():
    data = good()
    data["epochs"][1]["epoch"] = 10
    with pytest.raises(ManifestError, match=r"duplicate epoch 10"):
        mf.parse(data)
    data = good()
    data["epochs"] = [data["epochs"][1], data["epochs"][0], data["epochs"][2]]
    with pytest.raises(ManifestError, match=r"non-increasing epoch 10 after 50"):
        mf.parse(data)


def test_an_epoch_needs_exactly_one_weights_file():
    data = good()
    data["epochs"][0]["files"][1]["role"] = "weights"
    with pytest.raises(ManifestError, match="exactly one file with role 'weights'"):
        mf.parse(data)


def test_the_same_path_twice_is_refused():
    data = good()
    data["epochs"][1]["files"][0]["path"] = data["epochs"][0]["files"][0]["path"]
    with pytest.raises(ManifestError, match="listed twice"):
        mf.parse(data)


@pytest.mark.parametrize("text", ["", "{", "[1, 2]", '"a"', "null", "\xff"])
def test_not_a_manifest_at_all(text):
    with pytest.raises(ManifestError):
        mf.loads(text.encode("latin-1"))


@pytest.mark.parametrize("version", [0, 3, "2", None])
def test_unknown_schema_version_says_what_to_do(version):
    data = good()
    data["schema_version"] = version
    with pytest.raises(ManifestError, match="unknown schema_version") as info:
        mf.parse(data)
    assert "Upgrade zoo" in info.value.hint


def test_a_version_1_manifest_is_refused_saying_what_it_is_and_what_to_do():
    data = good()
    data["schema_version"] = 1
    with pytest.raises(ManifestError, match="a version 1 manifest .*every epoch in one commit.*reads version 2") as info:
        mf.parse(data)
    assert "publish it again" in info.value.hint


def test_a_manifest_read_from_a_commit_pins_the_epoch_that_does_not_know_its_commit():
    data = good()
    data["epochs"][0]["commit"] = "1" * 40
    data["epochs"][1]["commit"] = "2" * 40
    m = mf.parse(data).pinned("zoo/digits-cnn", "3" * 40)
    assert [e.commit for e in m.epochs] == ["1" * 40, "2" * 40, "3" * 40] and m.hub.revision == "3" * 40
    assert m.epoch_at("3" * 40).epoch == 100 and m.epoch_at("4" * 40) is None
    data["epochs"][2]["commit"] = "1" * 40
    with pytest.raises(ManifestError, match="commit 1{40} holds two epochs"):
        mf.parse(data)


def test_parsing_does_not_mutate_its_input():
    data = good()
    snapshot = copy.deepcopy(data)
    mf.parse(data)
    assert data == snapshot
