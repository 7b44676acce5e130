"""Every error a fetch or load can meet gets its own type, its own CLI exit code and a
message that says what to do. All against the real olah hub."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import runner

import zoo
from zoo.formats import manifest as mf
from zoo.cli import app
from zoo.constants import user_manifests_dir
from zoo.hub.server import free_port



def _own_manifests(monkeypatch, tmp_path, **manifests: mf.Manifest) -> None:
    """Point the user manifest directory at a fresh one holding exactly ``manifests``."""
    directory = tmp_path / "manifests"
    directory.mkdir(parents=True)
    for name, m in manifests.items():
        mf.write(m.replace(name=name), directory / f"{name}.json")
    monkeypatch.setenv("ZOO_MANIFESTS_DIR", str(directory))


def _published(name: str) -> mf.Manifest:
    return mf.load(user_manifests_dir() / f"{name}.json")


def _cached_files(home: Path) -> list[Path]:
    return [p for p in (home / "hub").rglob("*") if p.is_file() and "blobs" in p.parts] if (home / "hub").exists() else []


def test_unknown_model_suggests_close_names(hub):
    with pytest.raises(zoo.UnknownModelError) as info:
        zoo.load_pretrained("digits-cn")
    assert "digits-cnn" in info.value.hint
    result = runner.invoke(app, ["fetch", "digits-cn"])
    assert result.exit_code == 3 and "Did you mean" in result.stderr


def test_unknown_epoch_lists_the_available_ones(hub):
    result = runner.invoke(app, ["fetch", "digits-mlp", "--epoch", "7"])
    assert result.exit_code == 4
    assert "no epoch 7" in result.stderr and "1, 2" in result.stderr


def test_repo_not_found(hub):
    result = runner.invoke(app, ["fetch", "hf://zoo/no-such-model"])
    assert result.exit_code == 10 and "zoo/no-such-model not found" in result.stderr


def test_revision_not_found(hub):
    with pytest.raises(zoo.RevisionNotFoundError, match="no revision 'no-such-branch'"):
        zoo.get_manifest("hf://zoo/digits-mlp@no-such-branch")
    result = runner.invoke(app, ["fetch", "hf://zoo/digits-mlp@no-such-branch"])
    assert result.exit_code == 11


def test_file_not_found(hub, monkeypatch, tmp_path):
    m = _published("digits-mlp")
    e = m.epochs[0]
    ghost = mf.FileEntry("missing.weights.h5", e.weights.sha256, e.weights.size, "weights")
    _own_manifests(monkeypatch, tmp_path, ghost=m.replace(epochs=(mf.EpochEntry(1, (ghost,), e.metrics, e.created_at, commit=e.commit),), default_epoch=1, selection={}))
    with pytest.raises(zoo.EntryNotFoundError, match="missing.weights.h5"):
        zoo.fetch("ghost", 1)
    assert runner.invoke(app, ["fetch", "ghost", "--epoch", "1"]).exit_code == 12


def test_offline_without_a_cache_fails_without_a_request(hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    before = len(hub.requests())
    with pytest.raises(zoo.OfflineError) as info:
        zoo.load_pretrained("digits-mlp", epoch=1)
    assert hub.requests()[before:] == []
    assert "HF_HUB_OFFLINE" in info.value.message and "unset HF_HUB_OFFLINE" in info.value.hint
    assert runner.invoke(app, ["fetch", "digits-mlp"]).exit_code == 13


def test_hub_down_without_a_cache_fails_on_the_first_connect(hub, monkeypatch):
    """The reachability probe answers, not huggingface_hub's ~23 s of retries."""
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(zoo.OfflineError, match="cannot reach the Hub .*Connection refused"):
        zoo.fetch("digits-mlp", 1)


def test_pinned_cached_epochs_load_offline_and_with_the_hub_down(hub, monkeypatch):
    import numpy as np

    online = zoo.load_pretrained("digits-mlp", epoch=1)
    batch = np.random.default_rng(0).random((4, 64), dtype="float32")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    np.testing.assert_array_equal(zoo.load_pretrained("digits-mlp", epoch=1).predict(batch, verbose=0), online.predict(batch, verbose=0))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    np.testing.assert_array_equal(zoo.load_pretrained("digits-mlp", epoch=1).predict(batch, verbose=0), online.predict(batch, verbose=0))


@pytest.mark.parametrize("what", ["sha256", "size"])
def test_checksum_mismatch_names_the_file_and_evicts_the_bad_copy(what, hub, monkeypatch, tmp_path):
    good = _published("digits-mlp")
    e = good.epochs[0]
    w = e.weights
    lie = mf.FileEntry(w.path, "0" * 64, w.size, "weights") if what == "sha256" else mf.FileEntry(w.path, w.sha256, w.size + 1, "weights")
    _own_manifests(monkeypatch, tmp_path, liar=good.replace(epochs=(mf.EpochEntry(1, (lie,), e.metrics, e.created_at, commit=e.commit),) + good.epochs[1:]))
    with pytest.raises(zoo.IntegrityError) as info:
        zoo.load_pretrained("liar", epoch=1)
    err = info.value
    assert err.path == w.path and w.path in err.message
    assert err.expected == (lie.sha256 if what == "sha256" else f"{lie.size} bytes")
    assert err.actual == (w.sha256 if what == "sha256" else f"{w.size} bytes")
    home = Path(__import__("os").environ["HF_HOME"])
    assert not [p for p in _cached_files(home) if p.name == w.sha256], "bad bytes stay in the cache"
    result = runner.invoke(app, ["fetch", "liar", "--epoch", "1"])
    assert result.exit_code == 7 and "mismatch" in result.stderr
    # With a truthful manifest the next fetch succeeds, no manual cache cleaning.
    _own_manifests(monkeypatch, tmp_path / "fixed", liar=good)
    [f] = zoo.fetch("liar", 1)
    assert f.local_path.is_file()


def test_changed_architecture_is_refused_before_any_download(hub, monkeypatch, tmp_path):
    m = _published("digits-cnn")
    compat = mf.Compat(**{**m.compat.__dict__, "architecture_sha256": "f" * 64})
    _own_manifests(monkeypatch, tmp_path, other=m.replace(compat=compat))
    with pytest.raises(zoo.ArchitectureMismatchError, match="builds an architecture") as info:
        zoo.load_pretrained("other", epoch=1)
    assert "Pin the revision or recipe version" in info.value.hint
    assert _cached_files(Path(__import__("os").environ["HF_HOME"])) == []
    assert runner.invoke(app, ["evaluate", "other", "--epoch", "1"]).exit_code == 8


def test_weights_of_another_width_are_refused_listing_the_layers(hub, monkeypatch, tmp_path):
    """The manifest claims a narrower CNN (and its fingerprint); the file holds the wide one."""
    from zoo.formats.fingerprint import architecture_sha256

    m = _published("digits-cnn")
    narrow = zoo.get_recipe("digits-cnn").build(filters=[16, 64], dropout=0.3)
    recipe = mf.RecipeRef(**{**m.recipe.__dict__, "builder_kwargs": {"filters": [16, 64], "dropout": 0.3}})
    compat = mf.Compat(**{**m.compat.__dict__, "architecture_sha256": architecture_sha256(narrow)})
    _own_manifests(monkeypatch, tmp_path, narrow=m.replace(recipe=recipe, compat=compat))
    with pytest.raises(zoo.ArchitectureMismatchError) as info:
        zoo.load_pretrained("narrow", epoch=1)
    assert "layers/conv2d/vars/0 (layer 'conv_0'): model expects [3, 3, 1, 16] float32, file has [3, 3, 1, 32] float32" in info.value.message


def test_a_layout_diff_names_the_layers_on_both_sides(small_runs):
    """Keras 3 paths name layer classes (dense_2); the diff also says which layer that is
    in the model and in the file, so a shifted stack reads as what it is."""
    from zoo.compat import check_layout

    run = small_runs["digits-mlp"]
    deeper = zoo.get_recipe("digits-mlp").build(hidden=[128, 64, 32])
    with pytest.raises(zoo.ArchitectureMismatchError) as info:
        check_layout(deeper, run / mf.load(run / "zoo.json").epochs[-1].weights.path)
    assert "layers/dense_2/vars/0 (layer 'hidden_2' in the model, 'classes' in the file): model expects [64, 32] float32, file has [64, 10] float32" in info.value.message
    assert "layers/dense_3/vars/0 (layer 'classes'): model expects [32, 10] float32, file has nothing" in info.value.message


def test_a_newer_recipe_version_is_refused(hub, monkeypatch, tmp_path):
    m = _published("digits-mlp")
    _own_manifests(monkeypatch, tmp_path, future=m.replace(recipe=mf.RecipeRef(**{**m.recipe.__dict__, "version": 2})))
    with pytest.raises(zoo.ArchitectureMismatchError, match="recipe digits-mlp v2, but this zoo has v1"):
        zoo.load_pretrained("future")


def test_a_remote_manifest_with_an_escaping_path_is_refused(hub, scratch_repo, tmp_path):
    data = _published("digits-mlp").to_dict()
    data["hub"]["revision"] = None
    data["epochs"][0]["files"][0]["path"] = "../../outside.h5"
    stage = tmp_path / "stage"
    stage.mkdir()
    (stage / "zoo.json").write_text(json.dumps(data))
    scratch_repo(stage, "zoo/evil")
    with pytest.raises(zoo.ManifestError, match=r"unsafe path '\.\./\.\./outside\.h5'"):
        zoo.fetch("hf://zoo/evil")
    result = runner.invoke(app, ["fetch", "hf://zoo/evil"])
    assert result.exit_code == 5 and "Traceback" not in result.output
    assert not (tmp_path / "outside.h5").exists()


# -- zoo hub serve --------------------------------------------------------------------------
def test_serve_refuses_a_directory_that_is_not_a_hub(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")  # a directory with other things in it
    result = runner.invoke(app, ["hub", "serve", "--dir", str(tmp_path)])
    assert result.exit_code == 2 and "not a hub directory" in result.stderr
    (tmp_path / "file").write_text("x")
    result = runner.invoke(app, ["hub", "serve", "--dir", str(tmp_path / "file")])
    assert result.exit_code == 2 and "is a file" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "notes.txt"]


def test_a_new_empty_hub_serves_and_picks_up_a_model_published_later(small_runs, tmp_path, monkeypatch):
    import subprocess
    import sys

    hub = tmp_path / "new-hub"
    server = subprocess.Popen([sys.executable, "-m", "zoo.cli", "hub", "serve", "--dir", str(hub)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        endpoint = server.stdout.readline().strip().removeprefix("HF_ENDPOINT=")
        assert endpoint.startswith("http://127.0.0.1:"), endpoint
        assert (hub / "models").is_dir()
        zoo.publish(small_runs["digits-mlp"], "team/digits-mlp", hub_dir=hub, manifests_dir=tmp_path / "m")  # after the start
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
        [f] = zoo.fetch("hf://team/digits-mlp@epoch-1")
        assert f.epoch == 1 and f.local_path.is_file()
    finally:
        server.terminate()
        server.communicate(timeout=10)


def test_serve_refuses_a_taken_port(hub_server, hub_dir):
    assert hub_server.alive  # otherwise the port is free and the command would serve
    result = runner.invoke(app, ["hub", "serve", "--dir", str(hub_dir), "--port", str(hub_server.port)])
    assert result.exit_code == 2 and f"port {hub_server.port} is already in use" in result.stderr


def test_serve_without_olah_says_how_to_install_it(hub_dir):
    import subprocess
    import sys

    code = f"import sys; sys.modules['olah'] = None; from zoo.cli import app; app(['hub', 'serve', '--dir', {str(hub_dir)!r}])"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 15 and "pip install 'zoo[hub]'" in proc.stderr


def test_serve_without_git_lfs_says_how_to_install_it(hub_dir, tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "git").symlink_to(shutil.which("git"))
    monkeypatch.setenv("PATH", str(bin_dir))
    result = runner.invoke(app, ["hub", "serve", "--dir", str(hub_dir)])
    assert result.exit_code == 15 and "git-lfs is not installed" in result.stderr


def test_with_the_hub_down_a_branch_lookup_says_so_not_that_the_file_is_missing(hub, monkeypatch):
    zoo.fetch("hf://zoo/digits-cnn", "best")  # cached now
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    out = runner.invoke(app, ["fetch", "zoo/digits-cnn", "--epoch", "best"])
    assert out.exit_code == 13 and "to find which commit zoo/digits-cnn@main is" in out.stderr
    assert "not in the cache" not in out.stderr
