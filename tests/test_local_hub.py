"""The local hub as a team serves it: streamed from disk with Range (an interrupted fetch
resumes and downloads only the rest), HEAD from the LFS pointer, and a read token."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from conftest import runner
from hostile_hub import HostileHub, trickle, wait_until

import zoo
from zoo.cli import app
from zoo.constants import user_manifests_dir
from zoo.fileio import sha256_file
from zoo.formats import manifest as mf
from zoo.hub.server import HubServer

BIG = 24 * 1024 * 1024


@pytest.fixture()
def big_model(scratch_repo, tmp_path, monkeypatch):
    """A repo ``zoo/big`` with one 24 MB epoch, and a catalog entry ``big`` pinned to it."""
    stage = tmp_path / "stage"
    stage.mkdir()
    data = np.random.default_rng(11).bytes(BIG)
    (stage / "model.weights.h5").write_bytes(data)
    base = mf.load(user_manifests_dir() / "digits-mlp.json")
    entry = mf.EpochEntry(1, (mf.FileEntry("model.weights.h5", hashlib.sha256(data).hexdigest(), BIG, "weights"),), {}, base.epochs[0].created_at)
    unpinned = base.replace(name="big", hub=mf.HubRef("zoo/big", None), epochs=(entry,), default_epoch=1, selection={})
    (stage / "zoo.json").write_text(unpinned.dumps())
    commit = scratch_repo(stage, "zoo/big", tags=["epoch-1"])
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    mf.write(unpinned.pinned("zoo/big", commit), catalog / "big.json")
    monkeypatch.setenv("ZOO_MANIFESTS_DIR", str(catalog))
    return entry, commit


def test_a_killed_fetch_resumes_and_downloads_only_the_rest(big_model, hub_server, monkeypatch, tmp_path):
    entry, _ = big_model
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with HostileHub(hub_server.endpoint) as proxy:
        monkeypatch.setenv("HF_ENDPOINT", proxy.endpoint)
        proxy.on(r"/resolve/.*/model\.weights\.h5$", trickle(4 * 1024 * 1024), method="GET")  # 4 MB a second
        fetch = subprocess.Popen([sys.executable, "-m", "zoo.cli", "fetch", "big"], env=os.environ.copy(),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        partial = tmp_path / "hf" / "hub" / "models--zoo--big" / "blobs" / f"{entry.weights.sha256}.zoo.incomplete"
        assert wait_until(lambda: partial.exists() and partial.stat().st_size >= BIG // 3, timeout=60)
        fetch.send_signal(signal.SIGKILL)
        fetch.wait()
        kept = partial.stat().st_size
        proxy.clear()
        before = proxy.sent_body_bytes
        [f] = zoo.fetch("big")
        sent = proxy.sent_body_bytes - before
    assert sha256_file(f.local_path) == entry.weights.sha256
    assert sent == BIG - kept, "only the rest was sent"
    assert any(h.get("Range") == f"bytes={kept}-" for _, _, h in proxy.requests)


def test_head_answers_from_the_lfs_pointer(big_model, hub_server):
    entry, commit = big_model
    request = urllib.request.Request(f"{hub_server.endpoint}/zoo/big/resolve/{commit}/model.weights.h5", method="HEAD")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["ETag"] == f'"{entry.weights.sha256}"'
        assert response.headers["X-Linked-Size"] == str(BIG) and response.headers["X-Repo-Commit"] == commit
        assert response.headers["Accept-Ranges"] == "bytes"


@pytest.fixture()
def token_file(tmp_path):
    path = tmp_path / "hub.token"
    path.write_text("zoo-read-token-0123456789abcdef\n")
    path.chmod(0o600)
    return path


def test_a_hub_with_a_token_refuses_everyone_without_it(hub_dir, token_file, monkeypatch, tmp_path):
    token = token_file.read_text().strip()
    with HubServer(hub_dir, token_file=token_file) as server:
        url = f"{server.endpoint}/api/models/zoo/digits-mlp/revision/main"
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {token}"}):
            with pytest.raises(urllib.error.HTTPError) as info:
                urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10)
            body = info.value.read().decode()
            assert info.value.code == 401 and "digits-mlp" not in body and "zoo/" not in body
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
        with pytest.raises(zoo.HubAuthError):
            zoo.fetch("hf://zoo/digits-mlp")
        monkeypatch.setenv("HF_TOKEN", token)
        [f] = zoo.fetch("hf://zoo/digits-mlp@epoch-1")
        assert f.local_path.is_file()
        log = (Path(server._tmp.name) / "olah.log").read_text()
        assert "/api/models/zoo/digits-mlp" in log and token not in log


def test_serving_beyond_loopback_needs_a_private_token_file(hub_dir, tmp_path):
    out = runner.invoke(app, ["hub", "serve", "--dir", str(hub_dir), "--host", "0.0.0.0"])
    assert out.exit_code == 2 and "--token-file" in out.stderr
    loose = tmp_path / "loose.token"
    loose.write_text("abc")
    loose.chmod(0o644)
    out = runner.invoke(app, ["hub", "serve", "--dir", str(hub_dir), "--host", "0.0.0.0", "--token-file", str(loose)])
    assert out.exit_code == 2 and "readable by others" in out.stderr and "abc" not in out.output


def test_the_token_never_reaches_the_terminal(hub_dir, token_file, tmp_path):
    token = token_file.read_text().strip()
    server = subprocess.Popen([sys.executable, "-m", "zoo.cli", "hub", "serve", "--dir", str(hub_dir), "--token-file", str(token_file)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        assert line.startswith("HF_ENDPOINT=")
        time.sleep(0.5)
    finally:
        server.terminate()
        out, err = server.communicate(timeout=10)
    assert token not in line + out + err
