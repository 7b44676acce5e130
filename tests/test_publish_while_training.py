"""Publishing while training runs: each saved epoch goes to the hub as it is saved, a run
killed at any moment leaves the hub at a complete, fetchable epoch, and the finished repo
is the one a batch publish of the same run makes (the very same commits)."""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import zoo
from zoo.fileio import sha256_file
from zoo.formats import manifest as mf
from zoo.hub.git_publisher import repo_dir
from zoo.hub.server import HubServer

REPO = "live/digits-mlp"


@pytest.fixture(autouse=True)
def own_catalog(monkeypatch, tmp_path):
    """These runs publish into their own catalog, not the session's."""
    monkeypatch.setenv("ZOO_MANIFESTS_DIR", str(tmp_path / "catalog"))


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


def _refs(hub: Path) -> str:
    return _git(repo_dir(hub, REPO), "show-ref")


def test_train_publishes_every_saved_epoch_and_ends_as_a_batch_publish_would(tmp_path):
    """Also: the catalog entry it writes is pinned to every epoch's commit."""
    result = zoo.train("digits-mlp", epochs=3, save_at=[1, 2, 3], out=tmp_path / "run", progress=False,
                       publish=REPO, hub_dir=tmp_path / "live-hub")
    assert result.published.manifest.epoch_numbers == [1, 2, 3]
    assert zoo.get_manifest("digits-mlp").hub.repo_id == REPO  # this test's own catalog
    assert _git(repo_dir(tmp_path / "live-hub", REPO), "tag", "--list").split() == ["epoch-1", "epoch-2", "epoch-3"]
    zoo.publish(tmp_path / "run", REPO, hub_dir=tmp_path / "batch-hub", manifests_dir=tmp_path / "m")
    assert _refs(tmp_path / "live-hub") == _refs(tmp_path / "batch-hub")  # same commits, same tags


def test_a_publishing_run_killed_at_random_moments_leaves_a_complete_epoch_and_resumes(tmp_path, monkeypatch):
    """SIGKILL ``zoo train --publish`` at seeded random moments (at least five kills); after
    each, whatever the hub holds fetches and verifies; resuming finishes the run and the
    hub equals a batch publish of it."""
    hub, run = tmp_path / "hub", tmp_path / "run"
    hub.mkdir()
    command = [sys.executable, "-m", "zoo.cli", "train", "digits-mlp", "--epochs", "6", "--save-at", "1,2,3,4,5,6",
               "--out", str(run), "--publish", REPO, "--hub-dir", str(hub)]
    started = time.monotonic()
    subprocess.run([*command[:10], str(tmp_path / "timing")], check=True, capture_output=True)  # no publishing: the kill window
    duration = time.monotonic() - started
    rng = random.Random(4321)
    kills, checked, finished = 0, 0, False
    with HubServer(hub) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        for attempt in range(7):  # six runs killed at random moments, then one left to finish
            resume = ["--resume"] if (run / "zoo.json").exists() else []
            if not resume and run.exists():
                shutil.rmtree(run)  # killed before its first epoch was recorded: nothing to keep
            proc = subprocess.Popen([*command, *resume], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            try:
                _, err = proc.communicate(timeout=rng.uniform(0.3, 1.0) * duration if attempt < 6 else 600)
                assert proc.returncode == 0, err[-2000:]
                finished = True
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.communicate()
                kills += 1
            if (repo_dir(hub, REPO) / ".git").is_dir() and _git(repo_dir(hub, REPO), "for-each-ref", "refs/heads/main"):
                monkeypatch.setenv("HF_HOME", str(tmp_path / f"hf-{attempt}"))
                for f in zoo.fetch(f"hf://{REPO}", all_epochs=True, include_resume=True):
                    assert sha256_file(f.local_path) == f.sha256
                checked += 1
            if finished:
                break
    assert finished and kills >= 5 and checked >= 2
    assert mf.load(run / "zoo.json").epoch_numbers == [1, 2, 3, 4, 5, 6]
    zoo.publish(run, REPO, hub_dir=tmp_path / "batch", manifests_dir=tmp_path / "m")
    assert _refs(hub) == _refs(tmp_path / "batch")
