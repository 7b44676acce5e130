"""zoo's promises when it publishes through ``HfApi``, against a fake Hub's upload API.

This is the ONE fake server in the project: nothing installable implements the Hub's
write API (olah mirrors reads only; docs/design.md, "One fake server"). It keeps just
enough state (commits with their files, LFS objects, tags) and serves it over real HTTP on
loopback, so the code under test is zoo with the real ``HfApi`` of huggingface_hub. The
tests check what zoo promises, not huggingface_hub's request order:

- a run becomes one commit per epoch, each on top of the last (``parent_commit``), its
  root holding that epoch alone, tagged ``epoch-N``; ``main`` at the last;
- republishing the same run commits nothing; a run published epoch by epoch ends where
  one published at once does;
- a refusal part-way leaves ``main`` at a complete, tagged epoch, and rerunning finishes;
- the token reaches only the Hub's API and is never shown, even when a server echoes it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from huggingface_hub import constants as hf_constants

from zoo.errors import PublishError
from zoo.formats import manifest as mf
from zoo.workflows.publishing import publish

TOKEN = "hf_contractTestSecret0123456789abcdefXYZ"
REPO = "zoo-org/digits-mlp"
DROP = "drop"  # FakeHub.fail value: close the connection without an answer

# huggingface_hub 2.4 PUTs each LFS object with ``data=<file object>``, which httpx2
# deprecates; not ours to fix, and under ``filterwarnings = error`` it would abort the upload.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes/text content.:DeprecationWarning")


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Commit:
    sha: str
    parent: str | None
    files: dict[str, bytes]  # path -> bytes, the whole tree


@dataclass
class FakeHub:
    """One model repo's Hub API in memory. ``fail`` maps a route kind to an HTTP status (or
    ``DROP``) answered instead, from its ``after``-th call on; refusals echo the caller's
    Authorization header, as a careless server might."""

    endpoint: str = ""
    fail: dict[str, int | str] = field(default_factory=dict)
    fail_after: dict[str, int] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    commits: list[Commit] = field(default_factory=list)
    lfs: dict[str, bytes] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    exists: bool = False
    authorized: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Authorization) of every request
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def head(self) -> Commit | None:
        return self.commits[-1] if self.commits else None

    def at(self, revision: str) -> Commit | None:
        if revision == "main":
            return self.head
        sha = self.tags.get(revision, revision)
        return next((c for c in self.commits if c.sha == sha), None)

    # -- routing -------------------------------------------------------------------------
    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, bytes] | None:
        with self.lock:
            self.authorized.append((path, headers.get("authorization")))
            kind, args = self.route(method, path)
            self.calls[kind] = self.calls.get(kind, 0) + 1
            if kind in self.fail and self.calls[kind] > self.fail_after.get(kind, 0):
                if self.fail[kind] == DROP:
                    return None
                echoed = headers.get("authorization", "")
                return self.json(self.fail[kind], {"error": f"refused {kind}"}, {"X-Error-Message": f"{echoed} may not {kind}"})
            if not path.startswith("/upload/") and headers.get("authorization") != f"Bearer {TOKEN}":
                return self.json(401, {"error": "Invalid credentials in Authorization header"})
            return getattr(self, f"on_{kind}")(*args, body=body, method=method)

    def route(self, method: str, path: str) -> tuple[str, tuple]:
        api = f"/api/models/{REPO}"
        path = unquote(path.split("?")[0])
        if path == "/api/repos/create":
            return "create", ()
        if path == "/api/validate-yaml":
            return "validate", ()
        if path == f"{api}/preupload/main":
            return "preupload", ()
        if path == f"/{REPO}.git/info/lfs/objects/batch":
            return "batch", ()
        if path.startswith("/upload/"):
            return "put", (path.rsplit("/", 1)[1],)
        if path == f"{api}/commit/main":
            return "commit", ()
        if path == f"{api}/refs":
            return "refs", ()
        if path.startswith(f"{api}/tag/"):
            return ("untag" if method == "DELETE" else "tag"), (path.rsplit("/", 1)[1],)
        if path.startswith(f"{api}/revision/") or path == api:
            return "info", (path.rsplit("/", 1)[1] if "/revision/" in path else "main",)
        if path.startswith(f"/{REPO}/resolve/"):
            revision, _, file = path.removeprefix(f"/{REPO}/resolve/").partition("/")
            return "resolve", (revision, file)
        return "unknown", (path,)

    @staticmethod
    def json(status: int, body: dict, headers: dict | None = None) -> tuple[int, dict, bytes]:
        return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body).encode()

    def not_found(self, code: str) -> tuple[int, dict, bytes]:
        return self.json(404, {"error": code}, {"X-Error-Code": code})

    # -- handlers ------------------------------------------------------------------------
    def on_unknown(self, path: str, **_) -> tuple:
        return self.json(404, {"error": f"fake hub: no route {path}"})

    def on_create(self, body: bytes, **_) -> tuple:
        if self.exists:
            return self.json(409, {"error": "You already created this model repo", "url": f"{self.endpoint}/{REPO}"})
        self.exists = True
        return self.json(200, {"url": f"{self.endpoint}/{REPO}"})

    def on_validate(self, **_) -> tuple:
        return self.json(200, {"errors": [], "warnings": []})

    def on_info(self, revision: str, **_) -> tuple:
        if not self.exists:
            return self.not_found("RepoNotFound")
        commit = self.at(revision)
        if commit is None:
            return self.not_found("RevisionNotFound")
        return self.json(200, {"id": REPO, "sha": commit.sha, "private": False, "siblings": [{"rfilename": f} for f in commit.files]})

    def on_resolve(self, revision: str, file: str, method: str, **_) -> tuple:
        commit = self.at(revision)
        if commit is None or file not in commit.files:
            return self.not_found("EntryNotFound")
        data = commit.files[file]
        headers = {"X-Repo-Commit": commit.sha, "ETag": f'"{git_blob_sha1(data)}"', "Content-Length": str(len(data))}
        return 200, headers, b"" if method == "HEAD" else data

    def on_preupload(self, body: bytes, **_) -> tuple:
        head = self.head.files if self.head else {}
        files = [{"path": f["path"], "uploadMode": "lfs" if f["path"].endswith((".h5", ".keras")) else "regular", "shouldIgnore": False,
                  **({"oid": git_blob_sha1(head[f["path"]])} if f["path"] in head else {})} for f in json.loads(body)["files"]]
        return self.json(200, {"files": files, "commitOid": self.head.sha if self.head else None})

    def on_batch(self, body: bytes, **_) -> tuple:
        objects = [{"oid": o["oid"], "size": o["size"],
                    **({} if o["oid"] in self.lfs else {"actions": {"upload": {"href": f"{self.endpoint}/upload/{o['oid']}"}}})}
                   for o in json.loads(body)["objects"]]
        return self.json(200, {"transfer": "basic", "objects": objects})

    def on_put(self, oid: str, body: bytes, **_) -> tuple:
        if hashlib.sha256(body).hexdigest() != oid:
            return self.json(400, {"error": "content does not match oid"})
        self.lfs[oid] = body
        return 200, {}, b""

    def on_commit(self, body: bytes, **_) -> tuple:
        lines = [json.loads(line) for line in body.decode().splitlines()]
        parent = lines[0]["value"].get("parentCommit")
        if parent != (self.head.sha if self.head else None) and self.head is not None:
            return self.json(412, {"error": "A commit has happened since. Please refresh and try again."})
        files = dict(self.head.files) if self.head else {}
        for line in lines[1:]:
            value = line["value"]
            if line["key"] == "file":
                files[value["path"]] = base64.b64decode(value["content"])
            elif line["key"] == "lfsFile":
                if value["oid"] not in self.lfs:
                    return self.json(422, {"error": f"LFS object {value['oid']} was never uploaded"})
                files[value["path"]] = self.lfs[value["oid"]]
            elif line["key"] == "deletedFile":
                files.pop(value["path"], None)
        sha = hashlib.sha1(body + (self.head.sha.encode() if self.head else b"")).hexdigest()
        self.commits.append(Commit(sha, self.head.sha if self.head else None, files))
        return self.json(200, {"commitUrl": f"{self.endpoint}/{REPO}/commit/{sha}", "commitOid": sha, "success": True})

    def on_refs(self, **_) -> tuple:
        def ref(name: str, kind: str, commit: str) -> dict:
            return {"name": name, "ref": f"refs/{kind}/{name}", "targetCommit": commit}

        return self.json(200, {"branches": [ref("main", "heads", self.head.sha)] if self.head else [], "converts": [],
                               "tags": [ref(t, "tags", c) for t, c in sorted(self.tags.items())]})

    def on_tag(self, revision: str, body: bytes, **_) -> tuple:
        tag = json.loads(body)["tag"]
        if self.at(revision) is None:
            return self.not_found("RevisionNotFound")
        if tag in self.tags:
            return self.json(409, {"error": f"Tag {tag} already exists"})
        self.tags[tag] = revision
        return self.json(200, {})

    def on_untag(self, tag: str, **_) -> tuple:
        if self.tags.pop(tag, None) is None:
            return self.not_found("RevisionNotFound")
        return self.json(200, {})


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """A fresh fake Hub on a loopback port, HF_ENDPOINT and HF_TOKEN pointing at it."""
    fake = FakeHub()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def handle_one(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            answer = fake.answer(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            if answer is None:
                self.close_connection = True
                return
            status, headers, data = answer
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_one

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("HF_ENDPOINT", fake.endpoint)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(hf_constants, "HF_HUB_DISABLE_XET", True)  # read once at import: the legacy LFS protocol
    monkeypatch.setattr(hf_constants, "HF_HUB_DISABLE_TELEMETRY", True)
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def _first_epochs(run: Path, tmp_path: Path, n: int) -> Path:
    """A copy of the run directory holding only its first ``n`` epochs (a run still training)."""
    import shutil

    partial = tmp_path / f"first-{n}"
    shutil.copytree(run, partial)
    m = mf.load(partial / "zoo.json")
    mf.write(m.with_epochs(m.epochs[:n]), partial / "zoo.json")
    return partial


def _publish(run: Path, tmp_path: Path):
    return publish(run, REPO, name="contract", manifests_dir=tmp_path / "catalog")


def _shown(err: PublishError) -> str:
    return "\n".join([err.message, err.hint or "", str(err), repr(err), "".join(traceback.format_exception(err))])


# -- the promises ------------------------------------------------------------------------------
def test_a_run_becomes_one_commit_per_epoch_each_on_the_last_and_tagged(fake_hub, small_runs, tmp_path):
    run = small_runs["digits-mlp"]
    ours = mf.load(run / "zoo.json")
    result = _publish(run, tmp_path)
    first, second = fake_hub.commits
    assert second.parent == first.sha and result.commit == second.sha == fake_hub.head.sha
    assert fake_hub.tags == {"epoch-1": first.sha, "epoch-2": second.sha}
    for commit, epoch in ((first, ours.epochs[0]), (second, ours.epochs[1])):
        assert sorted(commit.files) == ["README.md", "config.json", "metadata.json", "model.weights.h5", "resume.keras", "zoo.json"]
        assert hashlib.sha256(commit.files["model.weights.h5"]).hexdigest() == epoch.weights.sha256
    listed = mf.loads(second.files["zoo.json"])
    assert [(e.epoch, e.commit) for e in listed.epochs] == [(1, first.sha), (2, None)]
    assert [e.commit for e in result.manifest.epochs] == [first.sha, second.sha]


def test_republishing_commits_nothing_and_epoch_by_epoch_ends_like_at_once(fake_hub, small_runs, tmp_path):
    run = small_runs["digits-mlp"]
    _publish(_first_epochs(run, tmp_path, 1), tmp_path)  # as while training
    assert len(fake_hub.commits) == 1 and list(fake_hub.tags) == ["epoch-1"]
    _publish(run, tmp_path)
    stepwise = [(c.parent, c.files) for c in fake_hub.commits], dict(fake_hub.tags)
    again = _publish(run, tmp_path)
    assert again.published == [] and len(fake_hub.commits) == 2
    fake_hub.commits.clear(), fake_hub.tags.clear()
    fake_hub.exists = False
    _publish(run, tmp_path)  # the same run, all at once, on a fresh history
    assert ([(c.parent, c.files) for c in fake_hub.commits], dict(fake_hub.tags)) == stepwise


@pytest.mark.parametrize("failure", [403, DROP])
def test_a_refusal_part_way_leaves_main_at_a_complete_tagged_epoch_and_a_rerun_finishes(failure, fake_hub, small_runs, tmp_path):
    run = small_runs["digits-mlp"]
    fake_hub.fail, fake_hub.fail_after = {"commit": failure}, {"commit": 1}  # the second epoch's commit is refused
    with pytest.raises(PublishError) as info:
        _publish(run, tmp_path)
    assert len(fake_hub.commits) == 1 and fake_hub.tags == {"epoch-1": fake_hub.head.sha}
    assert "main stays at epoch commit" in info.value.message and TOKEN not in _shown(info.value)
    assert not (tmp_path / "catalog").exists()
    fake_hub.fail.clear()
    result = _publish(run, tmp_path)
    assert result.published == [2] and len(fake_hub.commits) == 2 and sorted(fake_hub.tags) == ["epoch-1", "epoch-2"]


@pytest.mark.parametrize("refused", ["batch", "put", "preupload", "tag", "refs"])
def test_the_token_reaches_only_the_hubs_api_and_is_never_shown(refused, fake_hub, small_runs, tmp_path):
    fake_hub.fail = {refused: 403}
    with pytest.raises(PublishError) as info:
        _publish(small_runs["digits-mlp"], tmp_path)
    assert TOKEN not in _shown(info.value)
    uploads = [auth for path, auth in fake_hub.authorized if path.startswith("/upload/")]
    assert all(auth is None for auth in uploads), "LFS bytes go without the token"
