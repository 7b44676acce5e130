"""Publish → fetch → load against a real olah process, a real git-lfs repo and the real
huggingface_hub client; huggingface_hub's own ``hf`` CLI and plain Keras read what zoo wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import runner, tree_digest

import zoo
from zoo.cli import app
from zoo.formats import manifest as mf
from zoo.constants import user_manifests_dir
from zoo.hub.git_publisher import repo_dir

RECIPES = ["digits-mlp", "digits-cnn", "mnist-lenet", "shapes-yolo"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.mark.parametrize("name", RECIPES)
def test_publish_fetch_load_round_trip(name, hub, small_runs):
    """The loaded model is the trained one: same predictions as the run's own weights file."""
    model = zoo.load_pretrained(name, epoch=1)
    recipe = zoo.get_recipe(name)
    by_hand = recipe.build()
    by_hand.load_weights(small_runs[name] / "epochs/e001/model.weights.h5")
    x = recipe.dataset.load().test[0][:16]
    np.testing.assert_array_equal(model.predict(x, verbose=0), by_hand.predict(x, verbose=0))


def test_published_repo_is_a_commit_per_epoch_with_tags_card_and_lfs(hub_dir, small_runs):
    repo = repo_dir(hub_dir, "zoo/digits-cnn")
    head = git(repo, "rev-parse", "main")
    first = git(repo, "rev-parse", "epoch-1^{commit}")
    assert git(repo, "rev-list", "main").split() == [head, first]
    assert git(repo, "tag", "--list").split() == ["epoch-1", "epoch-2"] and git(repo, "rev-parse", "epoch-2^{commit}") == head
    root = ["README.md", "config.json", "metadata.json", "model.weights.h5", "resume.keras", "zoo.json"]
    for commit in (first, head):  # each commit holds its epoch alone, at the root
        assert sorted(git(repo, "ls-tree", "--name-only", commit).split()) == [".gitattributes", *root]
        assert sorted(git(repo, "lfs", "ls-files", "--name-only", commit).split()) == ["model.weights.h5", "resume.keras"]
    run = mf.load(small_runs["digits-cnn"] / "zoo.json")
    for commit, epoch in ((first, run.epochs[0]), (head, run.epochs[1])):
        pointer = git(repo, "show", f"{commit}:model.weights.h5")
        assert f"oid sha256:{epoch.weights.sha256}" in pointer
    staged = mf.loads(git(repo, "show", "main:zoo.json"))
    assert staged.hub == mf.HubRef("zoo/digits-cnn", None) and staged.epoch_numbers == [1, 2]
    assert [e.commit for e in staged.epochs] == [first, None]  # a commit cannot know its own sha
    assert mf.loads(git(repo, "show", f"{first}:zoo.json")).epoch_numbers == [1]
    card = git(repo, "show", "main:README.md")
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["library_name"] == "keras"
    metrics = {m["name"]: m["value"] for r in meta["model-index"][0]["results"] for m in r["metrics"]}
    run = mf.load(small_runs["digits-cnn"] / "zoo.json")
    assert metrics["val/accuracy @ epoch 2"] == pytest.approx(run.epochs[1].metrics["val/accuracy"], abs=1e-6)
    assert "| 2 | `epoch-2` |" in card and "keras.saving.load_model(\"hf://zoo/digits-cnn\")" in card
    pinned = mf.load(user_manifests_dir() / "digits-cnn.json")
    assert pinned.hub == mf.HubRef("zoo/digits-cnn", head) and [e.commit for e in pinned.epochs] == [first, head]


def test_republishing_the_same_run_is_a_no_op(hub_dir, small_runs, tmp_path):
    repo = repo_dir(hub_dir, "zoo/digits-mlp")
    before = git(repo, "rev-parse", "main")
    tags = git(repo, "show-ref", "--tags")
    result = zoo.publish(small_runs["digits-mlp"], "zoo/digits-mlp", hub_dir=hub_dir, manifests_dir=tmp_path)
    assert result.commit == before and result.published == [] and git(repo, "rev-list", "--count", "main") == "2"
    assert git(repo, "show-ref", "--tags") == tags


def test_every_manifest_written_by_the_build_fetches_and_verifies(hub, hub_dir):
    """The choice for 'every manifest is true': publish writes the manifests, pinned to the
    commit it made, so each entry's epochs fetch and verify from the hub it built."""
    names = [m.name for m in zoo.list_models()]
    assert set(RECIPES) <= set(names)
    for name in RECIPES:
        files = zoo.fetch(name, all_epochs=True, include_resume=True)
        assert [(f.epoch, f.role) for f in files] == [(1, "weights"), (1, "resume"), (2, "weights"), (2, "resume")]
        for f in files:
            assert f.local_path.stat().st_size == f.size


def test_bundled_manifests_match_the_recipe_code():
    """Every manifest shipped in manifests/ loads into the architecture the code builds today."""
    from zoo.constants import bundled_manifests_dir
    from zoo.formats.fingerprint import architecture_sha256, layout_sha256, model_layout

    for path in sorted(bundled_manifests_dir().glob("*.json")):
        if path.name == "schema.json":
            continue
        m = mf.load(path)
        recipe = zoo.get_recipe(m.recipe.name)
        model = recipe.build(**m.recipe.builder_kwargs)
        assert (recipe.version, m.hub.revision is not None) == (m.recipe.version, True), path
        assert architecture_sha256(model) == m.compat.architecture_sha256, path
        assert layout_sha256(model_layout(model)) == m.compat.layout_sha256, path


def test_fetch_by_repo_and_tag_reads_the_repos_own_manifest(hub, hub_dir):
    head = git(repo_dir(hub_dir, "zoo/digits-mlp"), "rev-parse", "main")
    m = zoo.get_manifest("hf://zoo/digits-mlp@epoch-2")
    assert m.hub == mf.HubRef("zoo/digits-mlp", head)
    assert zoo.get_manifest("zoo/digits-mlp").hub.revision == head
    first = zoo.get_manifest("hf://zoo/digits-mlp@epoch-1")
    assert first.epoch_numbers == [1] and first.hub.revision == git(repo_dir(hub_dir, "zoo/digits-mlp"), "rev-parse", "epoch-1^{commit}")
    [f] = zoo.fetch("zoo/digits-mlp", "best")
    assert f.epoch == m.best_epoch and f.local_path.is_file()


def test_hf_download_and_plain_keras_read_what_zoo_published(hub, hub_dir, tmp_path):
    """Interoperability: huggingface_hub's own CLI fetches the files, Keras loads them, and
    ``hf cache ls`` lists the repo."""
    head = git(repo_dir(hub_dir, "zoo/digits-cnn"), "rev-parse", "main")
    env = {**os.environ, "HF_ENDPOINT": hub.endpoint}
    hf = str(Path(sys.executable).with_name("hf"))
    out = subprocess.run([hf, "download", "zoo/digits-cnn", "model.weights.h5", "--revision", head],
                         env=env, capture_output=True, text=True, check=True)
    path = Path(out.stdout.strip().splitlines()[-1].strip().removeprefix("path:").strip())
    assert path.is_file() and path.stat().st_size > 10_000
    import keras

    from zoo.recipes.digits_cnn import build

    plain = build(filters=[32, 64], dropout=0.3)
    plain.load_weights(str(path))
    ours = zoo.load_pretrained("digits-cnn", epoch=2)  # same cache: no second download
    x = zoo.get_recipe("digits-cnn").dataset.load().test[0][:8]
    np.testing.assert_array_equal(plain.predict(x, verbose=0), ours.predict(x, verbose=0))
    assert isinstance(plain, keras.Model)
    listing = subprocess.run([hf, "cache", "ls"], env=env, capture_output=True, text=True, check=True).stdout
    assert "zoo/digits-cnn" in listing


def test_zoo_json_at_the_repo_root_is_a_valid_manifest(hub):
    from huggingface_hub import hf_hub_download

    pinned = zoo.get_manifest("mnist-lenet")
    path = hf_hub_download("zoo/mnist-lenet", "zoo.json", revision=pinned.hub.revision, endpoint=hub.endpoint, cache_dir=os.environ["HF_HOME"])
    assert mf.load(Path(path)).pinned("zoo/mnist-lenet", pinned.hub.revision).epochs == pinned.epochs


def test_fetch_dry_run_downloads_nothing(hub):
    files = zoo.fetch("digits-mlp", [1, "last"], dry_run=True)
    assert [(f.epoch, f.local_path, f.cached) for f in files] == [(1, None, False), (2, None, False)]
    assert not (Path(os.environ["HF_HOME"]) / "hub").exists() or not any((Path(os.environ["HF_HOME"]) / "hub").rglob("*.h5"))


def test_evaluate_reproduces_the_published_metrics(hub):
    result = zoo.evaluate("digits-mlp", epoch=2)
    for key, value in result.measured.items():
        assert value == pytest.approx(result.published[key], abs=1e-6)


# -- publishing refusals: nothing leaves the machine, the hub repo is unchanged -----------
def _copy_run(small_runs, tmp_path, name="digits-mlp"):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(small_runs[name], run)
    return run


def test_publish_refuses_a_corrupted_file(small_runs, hub_dir, tmp_path):
    run = _copy_run(small_runs, tmp_path)
    weights = run / "epochs/e002/model.weights.h5"
    data = bytearray(weights.read_bytes())
    data[-100] ^= 1
    weights.write_bytes(bytes(data))
    before = tree_digest(hub_dir)
    with pytest.raises(zoo.IntegrityError, match="sha256 mismatch"):
        zoo.publish(run, "zoo/corrupted", hub_dir=hub_dir, manifests_dir=tmp_path / "m")
    assert tree_digest(hub_dir) == before and not (tmp_path / "m").exists()


def test_publish_refuses_byte_identical_epochs(small_runs, hub_dir, tmp_path):
    run = _copy_run(small_runs, tmp_path)
    m = mf.load(run / "zoo.json")
    (run / "epochs/e002/model.weights.h5").write_bytes((run / "epochs/e001/model.weights.h5").read_bytes())
    first = m.epochs[0].weights
    second = m.epochs[1]
    files = (first.__class__(second.weights.path, first.sha256, first.size, "weights"),) + second.files[1:]
    mf.write(m.replace(epochs=(m.epochs[0], mf.EpochEntry(2, files, second.metrics, second.created_at))), run / "zoo.json")
    with pytest.raises(zoo.PublishError, match="epochs 1 and 2 have byte-identical weights"):
        zoo.publish(run, "zoo/new-model", hub_dir=hub_dir, manifests_dir=tmp_path / "m")
    assert not repo_dir(hub_dir, "zoo/new-model").exists()


def test_publish_refuses_weights_that_do_not_fit_the_recipe(small_runs, hub_dir, tmp_path):
    run = _copy_run(small_runs, tmp_path)
    m = mf.load(run / "zoo.json")
    mf.write(m.replace(recipe=m.recipe.__class__(**{**m.recipe.__dict__, "name": "digits-cnn"})), run / "zoo.json")
    with pytest.raises(zoo.ArchitectureMismatchError, match=r"builder kwargs of recipe digits-cnn.*'hidden' was unexpected"):
        zoo.publish(run, "zoo/new-model", hub_dir=hub_dir, manifests_dir=tmp_path / "m")
    cnn = mf.load(small_runs["digits-cnn"] / "zoo.json")
    mf.write(m.replace(recipe=cnn.recipe), run / "zoo.json")  # right recipe and kwargs, wrong weights
    with pytest.raises(zoo.ArchitectureMismatchError, match="architecture fingerprints do not match recipe digits-cnn"):
        zoo.publish(run, "zoo/new-model", hub_dir=hub_dir, manifests_dir=tmp_path / "m")
    assert not repo_dir(hub_dir, "zoo/new-model").exists()


def test_publish_checks_the_recipe_code_again_once_it_changed(small_runs, hub_dir, tmp_path, monkeypatch):
    """The recipe check is remembered per builder (publishing while training asks after every
    epoch); a builder that changes (a new activation, the same shapes) is checked afresh."""
    import dataclasses

    from zoo import registry
    from zoo.tf import keras

    zoo.publish(small_runs["digits-mlp"], "zoo/recipe-changes", hub_dir=tmp_path / "hub", manifests_dir=tmp_path / "m")
    recipe = registry.get_recipe("digits-mlp")

    def tanh_mlp(hidden=(128, 64), num_classes=10):
        model = recipe.builder(hidden=hidden, num_classes=num_classes)
        for layer in model.layers[:-1]:
            layer.activation = keras.activations.tanh
        return model

    monkeypatch.setitem(registry._RECIPES, "digits-mlp", dataclasses.replace(recipe, builder=tanh_mlp))
    with pytest.raises(zoo.ArchitectureMismatchError, match="architecture fingerprints do not match recipe digits-mlp"):
        zoo.publish(small_runs["digits-mlp"], "zoo/recipe-changes-again", hub_dir=tmp_path / "hub", manifests_dir=tmp_path / "m")


# -- the CLI over the same hub ---------------------------------------------------------------
@pytest.mark.parametrize("repo", ["digits-cnn", "hf://zoo/digits-cnn", "zoo/digits-cnn@main", "a/b/c"])
def test_publish_refuses_a_repo_that_is_not_org_slash_name(repo, small_runs, tmp_path):
    with pytest.raises(zoo.UsageError, match="`repo_id` must be ORG/NAME") as info:
        zoo.publish(small_runs["digits-cnn"], repo, hub_dir=tmp_path / "hub", manifests_dir=tmp_path / "m")
    assert isinstance(info.value, zoo.UsageError) and "e.g. my-org/digits-cnn" in info.value.hint
    assert not (tmp_path / "hub").exists() and not (tmp_path / "m").exists()


@pytest.mark.parametrize("repo,name", [("Org/Digits_CNN", None), ("zoo/digits-cnn", "Has Spaces"), ("zoo/" + "x" * 70, None)])
def test_publish_refuses_a_bad_model_name_in_a_sentence(repo, name, small_runs, hub_dir, tmp_path):
    
    from zoo.cli import app

    out = runner.invoke(app, ["publish", str(small_runs["digits-cnn"]), "--repo", repo, "--hub-dir", str(tmp_path / "hub"),
                              *(["--name", name] if name else []), "--manifests-dir", str(tmp_path / "m")])
    text = " ".join(out.output.split())
    assert out.exit_code == 2, out.output
    assert "is not allowed: use lower-case letters" in text and "Name it --name " in text and "Traceback" not in text
    assert not (tmp_path / "hub").exists() and not (tmp_path / "m").exists()


def test_a_repo_id_in_mixed_case_publishes_with_a_lower_case_name(small_runs, tmp_path):
    """What the hint above says works: the Hub repo id keeps its spelling, --name is the zoo's."""
    result = zoo.publish(small_runs["digits-cnn"], "Org/Digits_CNN", name="digits-cnn-org", hub_dir=tmp_path / "hub", manifests_dir=tmp_path / "m")
    assert mf.load(tmp_path / "m" / "digits-cnn-org.json").hub == mf.HubRef("Org/Digits_CNN", result.commit)


def test_cli_publish_fetch_and_dry_run(hub, small_runs, hub_dir, tmp_path):
    
    from zoo.cli import app

    out = runner.invoke(app, ["publish", str(small_runs["digits-cnn"]), "--repo", "zoo/digits-cnn", "--hub-dir", str(hub_dir),
                              "--manifests-dir", str(tmp_path), "--json"])
    assert out.exit_code == 0, out.output
    published = json.loads(out.stdout)
    assert published["commit"] == git(repo_dir(hub_dir, "zoo/digits-cnn"), "rev-parse", "main")
    assert Path(published["manifest_path"]) == tmp_path / "digits-cnn.json"

    dry = runner.invoke(app, ["fetch", "digits-cnn", "--all", "--dry-run"])
    assert dry.exit_code == 0 and dry.stdout.count("to download") == 2
    got = runner.invoke(app, ["fetch", "digits-cnn", "-e", "1", "-e", "last", "--with-resume", "--json"])
    files = json.loads(got.stdout)
    assert [(f["epoch"], f["role"]) for f in files] == [(1, "weights"), (1, "resume"), (2, "weights"), (2, "resume")]
    assert all(Path(f["local_path"]).is_file() for f in files)
    plain = runner.invoke(app, ["fetch", "digits-cnn", "--epoch", "best"])
    assert Path(plain.stdout.strip()).is_file()


def test_hub_serve_prints_the_endpoint_and_serves_until_stopped(hub_dir):
    import signal
    import urllib.request

    proc = subprocess.Popen([sys.executable, "-m", "zoo.cli", "hub", "serve", "--dir", str(hub_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("HF_ENDPOINT=http://127.0.0.1:")
        endpoint = line.split("=", 1)[1]
        with urllib.request.urlopen(f"{endpoint}/api/models/zoo/digits-mlp/revision/main", timeout=5) as response:
            assert json.loads(response.read())["id"] == "zoo/digits-mlp"
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130, err
    assert "Traceback" not in err


def test_publishing_a_users_run_never_writes_into_the_package(small_runs, tmp_path, monkeypatch):
    """A run published to myorg/digits-mlp lands in the user's catalog; the bundled manifests
    stay byte-identical, and the user's entry hides the bundled one only by name, as said."""
    from zoo.constants import bundled_manifests_dir

    catalog_dir = tmp_path / "catalog"
    monkeypatch.setenv("ZOO_MANIFESTS_DIR", str(catalog_dir))
    bundled = tree_digest(bundled_manifests_dir())
    result = zoo.publish(small_runs["digits-mlp"], "myorg/digits-mlp", hub_dir=tmp_path / "hub")
    assert tree_digest(bundled_manifests_dir()) == bundled
    assert result.manifest_path == catalog_dir / "digits-mlp.json" and result.shadows_bundled
    assert zoo.get_manifest("digits-mlp").hub.repo_id == "myorg/digits-mlp"


def test_a_loaded_model_says_which_epoch_and_commit_it_is(hub):
    m = zoo.get_manifest("digits-mlp")
    model = zoo.load_pretrained("digits-mlp", epoch="best")
    best = m.resolve_epoch("best")
    assert (model.zoo.epoch, model.zoo.commit, model.zoo.weights_sha256) == (best.epoch, best.commit, best.weights.sha256)
    assert model.zoo.origin == f"zoo/digits-mlp@{best.commit}"


def test_fetch_says_what_best_resolved_to_and_where_each_file_came_from(hub):
    first = runner.invoke(app, ["fetch", "digits-mlp", "--epoch", "best"])
    best = zoo.get_manifest("digits-mlp").best_epoch
    assert first.exit_code == 0 and f"epoch best → {best} weights: downloaded" in first.stderr
    again = runner.invoke(app, ["fetch", "digits-mlp", "--epoch", "best", "--json"])
    [f] = json.loads(again.stdout)
    assert f["asked"] == "best" and f["epoch"] == best and f["cached"] is True
    assert Path(first.stdout.strip()).is_file()
