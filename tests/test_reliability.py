"""Faults, bad input and hostile files: nothing wrong is ever loaded, nothing trusted lost.

Each case runs against a real olah process over real git + git-lfs repositories.
docs/reliability.md records what was tried and what happened.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import runner, tree_digest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zoo
from zoo.formats import manifest as mf
from zoo.constants import user_manifests_dir
from zoo.fileio import sha256_file
from zoo.hub.git_publisher import publish_tree, repo_dir
from zoo.hub.server import HubServer

BIG = 48 * 1024 * 1024  # large enough to kill the server mid-stream


def _lfs_object(hub_dir: Path, repo_id: str, sha: str) -> Path:
    return repo_dir(hub_dir, repo_id) / ".git" / "lfs" / "objects" / sha[:2] / sha[2:4] / sha


def _private_manifests(monkeypatch, tmp_path, **manifests):
    directory = tmp_path / "manifests"
    directory.mkdir(exist_ok=True)
    for name, m in manifests.items():
        mf.write(m.replace(name=name), directory / f"{name}.json")
    monkeypatch.setenv("ZOO_MANIFESTS_DIR", str(directory))


# -- 1. corrupted bytes on the hub --------------------------------------------------------------
@pytest.mark.parametrize("damage", ["flipped", "truncated", "other-file"])
def test_corrupted_bytes_on_the_hub_are_refused_then_recovered(damage, hub, hub_dir, small_runs):
    m = mf.load(user_manifests_dir() / "digits-mlp.json")
    entry = m.epochs[0].weights
    obj = _lfs_object(hub_dir, "zoo/digits-mlp", entry.sha256)
    good = obj.read_bytes()
    bad = bytearray(good)
    if damage == "flipped":
        bad[len(bad) // 2] ^= 0x40
    elif damage == "truncated":
        bad = bad[: len(bad) // 3]
    else:
        bad = bytearray(_lfs_object(hub_dir, "zoo/digits-mlp", m.epochs[1].weights.sha256).read_bytes())
    try:
        obj.write_bytes(bytes(bad))
        if damage == "truncated":  # the hub itself sees the object is short and says so
            with pytest.raises(zoo.EntryNotFoundError, match="LFS object missing on the server"):
                zoo.load_pretrained("digits-mlp", epoch=1)
        else:
            with pytest.raises(zoo.IntegrityError) as info:
                zoo.load_pretrained("digits-mlp", epoch=1)
            err = info.value
            assert err.path == entry.path and entry.path in str(err)
            assert entry.sha256 in str(err) or f"{entry.size} bytes" in str(err)
    finally:
        obj.write_bytes(good)  # the hub is fixed
    model = zoo.load_pretrained("digits-mlp", epoch=1)  # no manual cache cleaning
    by_hand = zoo.get_recipe("digits-mlp").build()
    by_hand.load_weights(small_runs["digits-mlp"] / "epochs/e001/model.weights.h5")
    batch = np.random.default_rng(0).random((4, 64), dtype="float32")
    np.testing.assert_array_equal(model.predict(batch, verbose=0), by_hand.predict(batch, verbose=0))
    [f] = zoo.fetch("digits-mlp", 1)
    assert sha256_file(f.local_path) == entry.sha256


# -- 2. the hub dies mid-download ----------------------------------------------------------------
def _publish_big(scratch_repo, tmp_path: Path, monkeypatch) -> mf.EpochEntry:
    stage = tmp_path / "stage"
    stage.mkdir(parents=True)
    data = np.random.default_rng(7).bytes(BIG)
    (stage / "model.weights.h5").write_bytes(data)
    base = mf.load(user_manifests_dir() / "digits-mlp.json")
    import hashlib

    f = mf.FileEntry("model.weights.h5", hashlib.sha256(data).hexdigest(), BIG, "weights")
    entry = mf.EpochEntry(1, (f,), {}, base.epochs[0].created_at)
    unpinned = base.replace(name="big", hub=mf.HubRef("zoo/big", None), epochs=(entry,), default_epoch=1, selection={})
    (stage / "zoo.json").write_text(unpinned.dumps())
    commit = scratch_repo(stage, "zoo/big", tags=["epoch-1"])
    _private_manifests(monkeypatch, tmp_path, big=unpinned.pinned("zoo/big", commit))
    return entry


def test_the_hub_dying_mid_download_never_hands_out_a_partial_file(hub_dir, scratch_repo, tmp_path, monkeypatch):
    entry = _publish_big(scratch_repo, tmp_path, monkeypatch)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    server = HubServer(hub_dir).start()
    monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
    errors = []

    def fetch():
        try:
            zoo.fetch("big", 1)
        except zoo.ZooError as exc:
            errors.append(exc)

    thread = threading.Thread(target=fetch)
    thread.start()
    blobs = tmp_path / "hf" / "hub" / "models--zoo--big" / "blobs"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(p.suffix == ".incomplete" and p.stat().st_size > 0 for p in blobs.glob("*")):
        time.sleep(0.01)
    server._proc.kill()  # the server dies while the file streams
    thread.join(60)
    server.stop()
    assert len(errors) == 1, "the interrupted fetch must fail, not hand out a file"
    snapshot = tmp_path / "hf" / "hub" / "models--zoo--big" / "snapshots"
    assert not [p for p in snapshot.rglob("*.h5")] if snapshot.exists() else True
    with HubServer(hub_dir) as again:  # the hub comes back
        monkeypatch.setenv("HF_ENDPOINT", again.endpoint)
        [f] = zoo.fetch("big", 1)
    assert f.local_path.stat().st_size == BIG and sha256_file(f.local_path) == entry.weights.sha256


def test_a_full_disk_while_fetching_is_a_clear_error_and_the_next_fetch_continues(hub, scratch_repo, tmp_path, monkeypatch):
    """RLIMIT_FSIZE makes every write past 8 MB fail with EFBIG, as a full disk fails with
    ENOSPC, in the middle of a 48 MB download."""
    entry = _publish_big(scratch_repo, tmp_path, monkeypatch)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    code = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            "resource.setrlimit(resource.RLIMIT_FSIZE, (8 << 20, 8 << 20)); "
            "from zoo.cli import app; sys.argv = ['zoo', 'fetch', 'big']; app()")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
    assert proc.returncode == 27, proc.stderr[-2000:]
    assert "cannot write model.weights.h5 into the HF cache" in proc.stderr and "Traceback" not in proc.stderr
    blobs = tmp_path / "hf" / "hub" / "models--zoo--big" / "blobs"
    assert [p.stat().st_size for p in blobs.glob("*.incomplete")] == [8 << 20]  # what was written is kept, never handed out
    [f] = zoo.fetch("big", 1)
    assert sha256_file(f.local_path) == entry.weights.sha256 and not list(blobs.glob("*.incomplete"))


# -- 3. concurrent fetches --------------------------------------------------------------------------
def test_eight_concurrent_processes_download_once_and_all_get_the_right_file(hub, tmp_path):
    m = mf.load(user_manifests_dir() / "mnist-lenet.json")
    before = len(hub.requests())
    code = "import zoo; [f] = zoo.fetch('mnist-lenet', 2); print(f.local_path)"
    env = {**os.environ, "HF_HOME": str(tmp_path / "shared-hf")}
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(8)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-500:] for o in outputs]
    paths = {o[0].strip() for o in outputs}
    assert len(paths) == 1 and sha256_file(Path(paths.pop())) == m.epochs[1].weights.sha256
    downloads = [r for r in hub.requests()[before:] if r[0] == "GET" and r[1].endswith(f"/{m.epochs[1].commit}/model.weights.h5")]
    assert len(downloads) == 1, downloads


# -- 4. offline ------------------------------------------------------------------------------------
def test_pinned_cached_epochs_load_with_zero_requests(hub, monkeypatch):
    zoo.fetch("digits-cnn", [1, 2])
    for offline in ("1", None):
        if offline:
            monkeypatch.setenv("HF_HUB_OFFLINE", offline)
        else:
            monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        before = len(hub.requests())
        zoo.load_pretrained("digits-cnn", epoch=1)
        zoo.load_pretrained("digits-cnn", epoch=2)
        assert hub.requests()[before:] == [], "a pinned, cached epoch must not touch the network"


# -- 5. manifests read from the network are untrusted --------------------------------------------
def _valid_manifest_dict():
    return mf.load(user_manifests_dir() / "digits-mlp.json").to_dict()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_manifests_give_only_clean_errors(data, small_runs):
    """Random JSON, and valid manifests with one value replaced by random JSON: the parser
    either accepts or raises ManifestError, never anything else."""
    base = mf.load(small_runs["digits-mlp"] / "zoo.json").to_dict()
    if data.draw(st.booleans()):
        candidate = data.draw(json_values)
    else:
        candidate = base
        path = []
        node = candidate
        while isinstance(node, (dict, list)) and node and data.draw(st.booleans()):
            key = data.draw(st.sampled_from(sorted(node) if isinstance(node, dict) else list(range(len(node)))))
            path.append(key)
            node = node[key]
        if path:
            target = candidate
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = data.draw(json_values)
    try:
        mf.parse(candidate)
    except zoo.ManifestError as exc:
        assert str(exc)
    import json

    try:
        text = json.dumps(candidate)
    except ValueError:
        return
    for mutation in (text[: len(text) // 2], text.replace('"', "'", 1), text + "}"):
        try:
            mf.loads(mutation)
        except zoo.ManifestError:
            pass


@pytest.mark.parametrize("case", ["absolute", "backslash", "dotdot", "empty", "duplicate-epoch", "decreasing", "negative-size", "absurd-size", "unknown-version", "bad-json"])
def test_hostile_remote_manifests_are_refused_and_write_nothing_outside_the_cache(case, hub, scratch_repo, tmp_path):
    import json

    data = _valid_manifest_dict()
    data["hub"]["revision"] = None
    files = data["epochs"][0]["files"]
    mutate = {
        "absolute": lambda: files[0].update(path="/tmp/evil.h5"),
        "backslash": lambda: files[0].update(path="epochs\\e010\\model.weights.h5"),
        "dotdot": lambda: files[0].update(path="epochs/../../evil.h5"),
        "empty": lambda: files[0].update(path=""),
        "duplicate-epoch": lambda: data["epochs"][1].update(epoch=data["epochs"][0]["epoch"]),
        "decreasing": lambda: data["epochs"].reverse(),
        "negative-size": lambda: files[0].update(size=-5),
        "absurd-size": lambda: files[0].update(size=10**15),
        "unknown-version": lambda: data.update(schema_version=99),
        "bad-json": lambda: None,
    }
    mutate[case]()
    stage = tmp_path / "stage"
    stage.mkdir()
    (stage / "zoo.json").write_text("{not json" if case == "bad-json" else json.dumps(data))
    repo = f"zoo/hostile-{case}"
    scratch_repo(stage, repo)
    before = {p for p in Path("/tmp").glob("evil*")}
    with pytest.raises(zoo.ManifestError):
        zoo.fetch(f"hf://{repo}", all_epochs=True)
    assert {p for p in Path("/tmp").glob("evil*")} == before
    hf_hub = Path(os.environ["HF_HOME"]) / "hub"
    assert not [p for p in hf_hub.rglob("*.h5")], "no weights fetched for a refused manifest"


# -- 6. architecture mismatches, including those Keras accepts silently --------------------------
def _cnn(variant: str):
    import keras

    inputs = keras.Input((8, 8, 1), name="image")
    x = keras.layers.Conv2D(32, 3, padding="same", activation="tanh" if variant == "activation" else "relu", name="conv_0")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool_0")(x)
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="conv_1")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    if variant == "wiring":
        skip = keras.layers.GlobalAveragePooling2D(name="gap_skip")(keras.layers.Conv2D(64, 1, name="proj")(inputs))
        x = keras.layers.Add(name="add")([x, skip])
    x = keras.layers.Dropout(0.3, name="dropout")(x)
    if variant == "extra":
        x = keras.layers.Dense(64, name="extra")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="renamed" if variant == "renamed" else "classes")(x)
    return keras.Model(inputs, outputs, name="digits_cnn")


@pytest.mark.parametrize("variant", ["extra", "activation", "wiring", "renamed"])
def test_architecture_mismatches_are_refused_before_any_weight_is_assigned(variant, tmp_path):
    from zoo.compat import build_checked, load_checked
    from zoo.errors import ArchitectureMismatchError
    from zoo.formats.fingerprint import architecture_sha256, layout_sha256, model_layout

    recipe = zoo.get_recipe("digits-cnn")
    reference = recipe.build()
    other = _cnn(variant)
    other.save_weights(tmp_path / "other.weights.h5")
    same_layout = layout_sha256(model_layout(other)) == layout_sha256(model_layout(reference))
    # Keras itself would load the activation/rename cases silently (same layout):
    assert same_layout == (variant in ("activation", "renamed"))
    assert architecture_sha256(other) != architecture_sha256(reference)
    # A manifest that describes `other` is refused when built from the recipe…
    m = mf.load(user_manifests_dir() / "digits-cnn.json")
    claim = m.replace(compat=mf.Compat(**{**m.compat.__dict__, "architecture_sha256": architecture_sha256(other)}))
    with pytest.raises(ArchitectureMismatchError):
        build_checked(claim)
    # …and a file with another layout is refused before Keras assigns anything.
    if not same_layout:
        model = recipe.build()
        before = [w.copy() for w in model.get_weights()]
        with pytest.raises(ArchitectureMismatchError):
            load_checked(model, tmp_path / "other.weights.h5")
        assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_reordered_layers_of_equal_shapes_change_the_fingerprint():
    import keras

    from zoo.formats.fingerprint import architecture_sha256, layout_sha256, model_layout

    def mlp(order):
        return keras.Sequential([keras.Input((8,))] + [keras.layers.Dense(8, activation=a, name=n) for n, a in order])

    a, b = mlp([("a", "relu"), ("b", "tanh")]), mlp([("b", "tanh"), ("a", "relu")])
    assert layout_sha256(model_layout(a)) == layout_sha256(model_layout(b))  # Keras would load it
    assert architecture_sha256(a) != architecture_sha256(b)


# -- 7. hostile and broken files --------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["not-hdf5", "truncated", "extra-group", "float64"])
def test_broken_weight_files_give_clear_errors(kind, tmp_path, small_runs):
    import h5py

    from zoo.errors import ArchitectureMismatchError, FileFormatError

    good = small_runs["digits-mlp"] / "epochs/e001/model.weights.h5"
    path = tmp_path / "x.weights.h5"
    if kind == "not-hdf5":
        path.write_text("<html>not weights</html>")
    elif kind == "truncated":
        path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    else:
        shutil.copy(good, path)
        with h5py.File(path, "r+") as h5:
            if kind == "extra-group":
                h5.create_dataset("layers/payload/vars/0", data=np.zeros(3))
            else:
                data = h5["layers/dense/vars/0"][()]
                del h5["layers/dense/vars/0"]
                h5.create_dataset("layers/dense/vars/0", data=data.astype("float64"))
    expected = FileFormatError if kind in ("not-hdf5", "truncated") else ArchitectureMismatchError
    with pytest.raises(expected) as info:
        zoo.load_pretrained(str(path), recipe="digits-mlp")
    assert "Traceback" not in str(info.value)
    if kind == "float64":
        assert "float64" in str(info.value)


# -- 8. publishing and credentials --------------------------------------------------------------------
def test_a_publish_that_fails_half_way_leaves_the_hub_repo_unchanged(small_runs, hub_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(small_runs["digits-mlp"], run)
    m = mf.load(run / "zoo.json")
    mf.write(m.with_epochs(m.epochs[:1]), run / "zoo.json")  # epoch 1 goes first
    zoo.publish(run, "zoo/half-way", hub_dir=hub_dir, manifests_dir=tmp_path / "first")
    mf.write(m, run / "zoo.json")  # then epoch 2 needs a new commit
    repo = repo_dir(hub_dir, "zoo/half-way")
    before = tree_digest(repo / ".git" / "refs"), (repo / ".git" / "HEAD").read_bytes()
    lock = repo / ".git" / "refs" / "heads" / "main.lock"  # another writer holds main
    lock.write_text("")
    try:
        with pytest.raises(zoo.PublishError):
            zoo.publish(run, "zoo/half-way", hub_dir=hub_dir, manifests_dir=tmp_path / "m")
    finally:
        lock.unlink()
        after = tree_digest(repo / ".git" / "refs"), (repo / ".git" / "HEAD").read_bytes()
        shutil.rmtree(repo)
    assert after == before
    assert not (tmp_path / "m").exists()


def test_hf_token_never_appears_in_output(hub, monkeypatch, tmp_path, small_runs):
    
    from zoo.cli import app

    secret = "hf_SECRETtokenDoNotLeak1234567890"
    monkeypatch.setenv("HF_TOKEN", secret)
    outputs = [
        runner.invoke(app, ["fetch", "digits-mlp", "--all"]),
        runner.invoke(app, ["fetch", "hf://zoo/no-such-repo"]),
        runner.invoke(app, ["fetch", "hf://zoo/digits-mlp@nope"]),
        runner.invoke(app, ["info", "zoo/digits-mlp"]),
    ]
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    outputs.append(runner.invoke(app, ["publish", str(small_runs["digits-mlp"]), "--repo", "zoo/x", "--manifests-dir", str(tmp_path)]))
    for result in outputs:
        assert secret not in result.output and secret not in (result.stderr or "")
    assert outputs[-1].exit_code == 14


# -- 9. training under interruption --------------------------------------------------------------------
def test_a_training_killed_at_random_moments_stays_resumable(tmp_path):
    """Kill `zoo train` with SIGKILL at seeded random moments; after each kill every
    recorded file verifies, and resuming ends byte-identical to an uninterrupted run."""
    from zoo.integrity import verify_file

    run = tmp_path / "run"
    rng = random.Random(1234)
    command = [sys.executable, "-m", "zoo.cli", "train", "digits-mlp", "--epochs", "4", "--save-at", "1,2,3,4", "--out", str(run)]
    started = time.monotonic()  # an uninterrupted run, in a process like the killed ones: its length sets the kill times
    subprocess.run([*command[:-1], str(tmp_path / "uninterrupted")], check=True, capture_output=True)
    duration = time.monotonic() - started

    def next_args():
        if (run / "zoo.json").exists():
            return command + ["--resume"]
        shutil.rmtree(run, ignore_errors=True)  # killed before the first epoch was recorded: nothing to keep
        return command

    kills = 0
    for attempt in range(8):
        proc = subprocess.Popen(next_args(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=rng.uniform(0.3, 0.9) * duration)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
        if (run / "zoo.json").exists():
            m = mf.load(run / "zoo.json")
            for e in m.epochs:
                for f in e.files:
                    verify_file(run / f.path, f)
            if m.last_epoch == 4:
                break
    else:
        subprocess.run(next_args(), check=True, capture_output=True)
    assert kills >= 1
    final = mf.load(run / "zoo.json")
    reference = mf.load(tmp_path / "uninterrupted" / "zoo.json")
    assert final.epoch_numbers == [1, 2, 3, 4]
    assert final.epochs[-1].weights.sha256 == reference.epochs[-1].weights.sha256


deep_values = st.recursive(st.integers() | st.text(max_size=5), lambda inner: st.lists(inner, min_size=1, max_size=2), max_leaves=400)


@settings(max_examples=60, deadline=None)
@given(depth=st.integers(1, 3000), width=st.integers(0, 200_000), tree=deep_values)
def test_fuzzed_deep_and_large_manifests_give_only_clean_errors(depth, width, tree):
    """Nesting up to 3,000 deep, strings up to 200 kB, trees of 400 leaves: the parser
    answers ManifestError, never a RecursionError or any other exception."""
    for text in ("[" * depth + "]" * depth, json.dumps({"schema_version": 2, "name": "x" * width}), json.dumps({"x": tree})):
        try:
            mf.loads(text)
        except zoo.ManifestError:
            pass


header_values = st.one_of(st.text(max_size=80), st.from_regex(r"[0-9a-f]{40}", fullmatch=True), st.sampled_from(["../../x", "/etc/x", "", "W/\"x\""]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(commit=header_values, etag=header_values, size=st.one_of(st.text(max_size=12), st.integers(-5, 10**13).map(str)), body=json_values)
def test_fuzzed_server_answers_give_only_typed_errors(commit, etag, size, body, hub_server, monkeypatch, tmp_path_factory):
    """A hub answering arbitrary commits, ETags, sizes and model_info bodies: every fetch
    either works or ends in one of zoo's errors, and nothing lands outside the cache."""
    from hostile_hub import HostileHub, set_header

    home = tmp_path_factory.mktemp("fuzz")
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    with HostileHub(hub_server.endpoint) as proxy:
        monkeypatch.setenv("HF_ENDPOINT", proxy.endpoint)
        proxy.on(r"^/api/models/", lambda m, p, a: a.set_json(body))
        proxy.on(r"/resolve/", set_header("X-Repo-Commit", commit))
        proxy.on(r"/resolve/", set_header("ETag", etag))
        proxy.on(r"/resolve/", set_header("Content-Length", size), method="HEAD")
        for name in ("hf://zoo/digits-mlp", "digits-mlp"):
            try:
                zoo.fetch(name)
            except zoo.ZooError:
                pass
    assert {p.relative_to(home).parts[0] for p in home.rglob("*")} <= {"hf"}
