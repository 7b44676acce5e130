"""A hub that lies: every value a server sends that could become a path, a revision or a
file name is checked before use. A loopback proxy (``hostile_hub.py``) sits in front of
the real olah and changes one answer per test; the client is the real huggingface_hub."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import tree_digest
from hostile_hub import HostileHub, set_header

import zoo
from zoo.constants import user_manifests_dir
from zoo.formats import manifest as mf


@pytest.fixture()
def liar(hub_server, monkeypatch, tmp_path):
    """A hostile proxy in front of the session's olah, HF_ENDPOINT pointing at it, and a fresh cache."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with HostileHub(hub_server.endpoint) as proxy:
        monkeypatch.setenv("HF_ENDPOINT", proxy.endpoint)
        yield proxy


def _outside_the_cache(tmp_path: Path) -> dict[str, bytes]:
    return {k: v for k, v in tree_digest(tmp_path).items() if not k.startswith("hf/")}


def _traversal(tmp_path: Path) -> tuple[str, Path]:
    """A relative path that, joined under the HF cache's refs/ or snapshots/, lands in tmp_path."""
    target = tmp_path / "escaped.pth"
    return "../" * 12 + str(target).lstrip("/"), target


def test_a_commit_sha_that_is_a_path_is_refused_and_writes_nothing(liar, tmp_path):
    evil, target = _traversal(tmp_path)
    liar.on(r"^/api/models/zoo/digits-mlp(/revision/[^/]+)?$", lambda m, p, a: a.set_json({**a.json(), "sha": evil}), method="GET")
    before = _outside_the_cache(tmp_path)
    with pytest.raises(zoo.UntrustedResponseError) as info:
        zoo.fetch("hf://zoo/digits-mlp")
    assert "commit sha" in str(info.value) and "\x1b" not in str(info.value)
    assert not target.exists() and _outside_the_cache(tmp_path) == before


@pytest.mark.parametrize("header", ["X-Repo-Commit", "ETag", "X-Linked-Etag"])
def test_a_file_answer_whose_headers_are_paths_is_refused(header, liar, tmp_path):
    evil, target = _traversal(tmp_path)
    value = str(target) if header != "X-Repo-Commit" else evil
    liar.on(r"/resolve/", set_header(header, value))
    before = _outside_the_cache(tmp_path)
    with pytest.raises(zoo.UntrustedResponseError):
        zoo.fetch("digits-mlp", 1)  # a bundled name: pinned to a commit, no revision lookup
    assert not target.exists() and _outside_the_cache(tmp_path) == before
    assert not list((tmp_path / "hf").rglob("*.h5"))


def test_a_file_answered_from_another_commit_than_the_pinned_one_is_refused(liar, tmp_path):
    pinned = mf.load(user_manifests_dir() / "digits-mlp.json").epochs[0].commit  # epoch 1's own commit
    liar.on(r"/resolve/", set_header("X-Repo-Commit", "f" * 40 if pinned != "f" * 40 else "e" * 40))
    with pytest.raises(zoo.UntrustedResponseError) as info:
        zoo.fetch("digits-mlp", 1)
    assert pinned in str(info.value)
    refs = tmp_path / "hf" / "hub" / "models--zoo--digits-mlp" / "refs"
    assert not refs.exists() or not os.listdir(refs), "no ref was written from the lying answer"


def test_the_same_fetch_through_an_honest_proxy_works(liar):
    [f] = zoo.fetch("digits-mlp", 1)
    assert f.local_path.is_file()
    assert any("/resolve/" in path for _, path, _ in liar.requests)
