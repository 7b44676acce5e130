"""A hub that lies: every value a server sends that could become a path, a revision or a
file name is checked before use. A loopback proxy (``hostile_hub.py``) sits in front of
the real olah and changes one answer per test; the client is the real huggingface_hub."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from conftest import runner, tree_digest
from hostile_hub import HostileHub, respond, set_header, stall, trickle

import zoo
from zoo.cli import app
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


# -- hangs: every request has a timeout, every command a deadline ---------------------------------
@pytest.fixture()
def short_limits(monkeypatch):
    monkeypatch.setenv("ZOO_HUB_CONNECT_TIMEOUT", "2")
    monkeypatch.setenv("ZOO_HUB_READ_TIMEOUT", "1")
    monkeypatch.setenv("ZOO_HUB_DEADLINE", "4")


@pytest.mark.parametrize("where", [r"^/api/models/", r"/resolve/"])
def test_a_server_that_accepts_and_never_answers_times_out(where, liar, short_limits):
    liar.on(where, stall(60))
    with pytest.raises(zoo.HubTimeoutError):
        zoo.fetch("hf://zoo/digits-mlp")


def test_a_server_trickling_a_byte_a_second_is_cut_off_at_the_deadline(liar, short_limits, tmp_path):
    liar.on(r"/resolve/.*/model\.weights\.h5$", trickle(1), method="GET")
    with pytest.raises(zoo.HubTimeoutError, match="deadline of 4 s"):
        zoo.fetch("digits-mlp", 1)
    assert liar.sent_body_bytes < 100  # it was not waited out


def test_a_429_asking_for_an_hour_is_said_at_once_not_slept(liar):
    liar.on(r"/resolve/", respond(429, {"Retry-After": "3600"}, b"slow down"))
    with pytest.raises(zoo.HubRateLimitedError, match="3600") as info:
        zoo.fetch("digits-mlp", 1)
    assert len([r for r in liar.requests if "/resolve/" in r[1]]) == 1  # asked once, never retried
    out = runner.invoke(app, ["fetch", "digits-mlp", "--epoch", "1"])
    assert out.exit_code == 22 and "Traceback" not in out.output


@pytest.mark.parametrize("status,error,code", [(500, zoo.HubServerError, 21), (503, zoo.HubServerError, 21), (403, zoo.HubAuthError, 23)])
def test_server_errors_have_their_own_class_and_are_not_retried(status, error, code, liar, monkeypatch):
    secret = "hf_leakyTOKEN0123456789abcdef"
    monkeypatch.setenv("HF_TOKEN", secret)
    liar.on(r"/resolve/", respond(status, {"Content-Length": "60"}, f"token {secret} refused".encode().ljust(60)))
    with pytest.raises(error) as info:
        zoo.fetch("digits-mlp", 1)
    assert secret not in str(info.value) and "HF_HUB_OFFLINE" not in str(info.value)
    assert len([r for r in liar.requests if "/resolve/" in r[1]]) == 1
    out = runner.invoke(app, ["fetch", "digits-mlp", "--epoch", "1"])
    assert out.exit_code == code and secret not in out.output


def test_a_pinned_commit_that_is_gone_is_named_as_such(hub, monkeypatch, tmp_path):
    m = mf.load(user_manifests_dir() / "digits-mlp.json")
    gone = dataclasses.replace(m.epochs[0], commit="f" * 40)
    directory = tmp_path / "catalog"
    directory.mkdir()
    mf.write(m.replace(name="gone", epochs=(gone, *m.epochs[1:])), directory / "gone.json")
    monkeypatch.setenv("ZOO_MANIFESTS_DIR", str(directory))
    with pytest.raises(zoo.RevisionNotFoundError, match="has no commit f{40}"):
        zoo.fetch("gone", 1)


@pytest.mark.parametrize("endpoint", ["localhost:8080", "http://127.0.0.1:99999", "http://[::1", "ftp://127.0.0.1:21"])
def test_an_endpoint_that_is_not_a_hub_address_is_a_usage_error(endpoint, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    out = runner.invoke(app, ["fetch", "hf://zoo/digits-mlp"])
    assert out.exit_code == 2 and "is not a Hub address" in out.stderr and "Traceback" not in out.output


def test_credentials_in_the_endpoint_are_never_shown(monkeypatch, tmp_path):
    from zoo.hub.server import free_port

    monkeypatch.setenv("HF_ENDPOINT", f"http://user:s3cretPassw0rd@127.0.0.1:{free_port()}")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    out = runner.invoke(app, ["fetch", "hf://zoo/digits-mlp"])
    assert out.exit_code == 13 and "cannot reach the Hub" in out.stderr
    assert "s3cretPassw0rd" not in out.output and "***@127.0.0.1" in out.stderr


def test_many_processes_fetching_bad_bytes_all_end_in_an_integrity_error(liar, tmp_path):
    """Eight processes, one cache, a hub flipping a byte of every weights file it serves:
    each process ends in IntegrityError (exit 7), none in a traceback, no bad blob kept."""
    import subprocess
    import sys

    def flip(method: str, path: str, answer) -> None:
        body = bytearray(answer.body)
        body[len(body) // 2] ^= 0xFF
        answer.body = bytes(body)

    liar.on(r"/resolve/.*/model\.weights\.h5$", flip, method="GET")
    procs = [subprocess.Popen([sys.executable, "-m", "zoo.cli", "fetch", "digits-mlp", "--epoch", "1"], env=os.environ.copy(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(8)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [7] * 8, [o[1][-300:] for o in outputs]
    assert not any("Traceback" in err for _, err in outputs)
    blobs = tmp_path / "hf" / "hub" / "models--zoo--digits-mlp" / "blobs"
    assert not [p for p in blobs.iterdir() if p.suffix != ".incomplete" and ".zoo" not in p.name] if blobs.exists() else True
