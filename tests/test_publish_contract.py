"""Contract tests for ``zoo.hub.client.publish_to_hub`` against a fake Hugging Face Hub.

This is the ONE fake server in the project, and it exists only because nothing we can
install implements the Hub's write API (olah mirrors reads only; docs/design.md, "One
fake server"). Everything else talks to real things. The fake sits *below* huggingface_hub, as
an ``httpx2.MockTransport`` installed with ``huggingface_hub.utils.set_client_factory``,
so the code under test is the real ``HfApi`` of huggingface_hub 2.4 and only the wire is
simulated. The fake keeps just enough state (repo, head commit, files at head, LFS
objects, tags) to answer the way the Hub does, and logs every request it receives, so
the tests pin the exact request sequence a publish sends:

    POST /api/repos/create                       create_repo(exist_ok=True); 409 when it exists
    POST /api/validate-yaml                      README.md's metadata
    POST /api/models/{repo}/preupload/main       the server picks LFS vs regular, reports oids at head
    POST /{repo}.git/info/lfs/objects/batch      LFS files by sha256
    PUT  https://<storage>/...                   one per LFS object the batch asked for (thread pool)
    POST /api/models/{repo}/commit/main          NDJSON; or GET .../revision/main when nothing changed
    GET  /api/models/{repo}/refs                 list_repo_refs: which tags exist, on which commit
    per tag, in the order given:  nothing        when it is already on the commit
                                  DELETE .../tag/{tag}, then POST .../tag/{commit}   when it is stale
                                  POST .../tag/{commit}                              when it is missing

The request shapes were read from huggingface_hub 2.4's source (``hf_api.py``:
``list_repo_refs``, ``create_tag``, ``delete_tag``; ``_commit_api.py``; ``lfs.py``). If an
upgrade changes them, these tests are meant to fail and be re-read against the new
source, not loosened.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import httpx2
import pytest
from huggingface_hub import constants as hf_constants
from huggingface_hub import utils as hf_utils
from huggingface_hub.utils import _http as hf_http

from zoo.cli.exit_codes import exit_code
from zoo.errors import PublishError
from zoo.hub.api_publisher import publish_tree as publish_to_hub

HUB_HOST = "hub.test"
ENDPOINT = f"https://{HUB_HOST}"
UPLOAD_HOST = "lfs-uploads.test"  # where LFS bytes go (S3 on the real Hub): a different host
TOKEN = "hf_contractTestSecret0123456789abcdefXYZ"
REPO = "zoo-org/digits-mlp"
API = f"/api/models/{REPO}"
MESSAGE = "Publish digits-mlp epochs 1-2"
TAGS = ["epoch-1", "epoch-2"]
DROP = "drop"  # FakeHub.fail value: answer with a transport error instead of a status

# huggingface_hub 2.4 PUTs each LFS object with ``data=<file object>`` (lfs._upload_single_part),
# which httpx2 deprecates in favour of ``content=``. Not ours to fix, and unavoidable from
# zoo's side; under ``filterwarnings = error`` it would abort the upload thread.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes/text content.:DeprecationWarning")


def git_blob_sha1(data: bytes) -> str:
    """The oid git (and the Hub's preupload endpoint) gives a regular file."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- the fake Hub ---------------------------------------------------------------------------
@dataclass
class Logged:
    kind: str  # the fake's name for the route: "create", "preupload", "lfs-put", "commit", ...
    method: str
    route: str  # the path on the Hub's host; the full URL on any other host
    query: str  # the query string, "" when none
    status: int  # 0 when the fake failed the request at the transport level (no response)
    headers: httpx2.Headers
    body: bytes
    answer: bytes  # the fake's response body

    def json(self):
        return json.loads(self.body)

    def ndjson(self) -> list[dict]:
        return [json.loads(line) for line in self.body.decode().splitlines()]

    @property
    def step(self) -> str:
        return f"{self.method} {self.route}"


@dataclass
class FakeHub:
    """The Hub's upload API for one model repo, in memory.

    ``fail`` maps a route kind ("create", "preupload", "lfs-batch", "lfs-put", "commit",
    "refs", "tag", "tag-delete", ...) or one exact step ("DELETE /api/.../tag/epoch-2") to
    an HTTP status the fake answers instead, or to ``DROP``: no response at all, a
    transport error. Refusals carry the caller's Authorization header in
    ``X-Error-Message``, and dropped requests in the error's text, as a careless server
    or proxy might, so the tests can prove the token never reaches the user.
    """

    repo_id: str = REPO
    fail: dict[str, int | str] = field(default_factory=dict)
    log: list[Logged] = field(default_factory=list)
    repo_exists: bool = False
    head: str | None = None
    commits: list[str] = field(default_factory=list)
    files: dict[str, tuple[str, str]] = field(default_factory=dict)  # path -> (uploadMode, oid) at head
    lfs_objects: dict[str, bytes] = field(default_factory=dict)  # sha256 -> bytes
    tags: dict[str, str] = field(default_factory=dict)  # tag -> commit
    _lock: threading.Lock = field(default_factory=threading.Lock)  # LFS PUTs arrive from a thread pool

    # queries the tests ask
    def steps(self) -> list[str]:
        return [entry.step for entry in self.log]

    def requests(self, step_prefix: str) -> list[Logged]:
        return [entry for entry in self.log if entry.step.startswith(step_prefix)]

    def clear_log(self) -> None:
        self.log.clear()

    # the transport
    def handle(self, request: httpx2.Request) -> httpx2.Response:
        with self._lock:
            kind = self._classify(request)
            route = request.url.path if request.url.host == HUB_HOST else str(request.url)
            failure = self.fail.get(f"{request.method} {route}", self.fail.get(kind))
            query = request.url.query.decode() if isinstance(request.url.query, bytes) else request.url.query
            if failure == DROP:
                self.log.append(Logged(kind, request.method, route, query, 0, request.headers, request.content, b""))
                # ProxyError: a transport error huggingface_hub never retries (not a NetworkError).
                raise httpx2.ProxyError(f"proxy dropped {request.method} {request.url} sent with {request.headers.get('authorization')}")
            response = self._answer(kind, request, failure)
            self.log.append(Logged(kind, request.method, route, query, response.status_code, request.headers, request.content, response.content))
            return response

    def _classify(self, request: httpx2.Request) -> str:
        method, host, path = request.method, request.url.host, request.url.path
        api = f"/api/models/{self.repo_id}"
        routes = {
            ("POST", HUB_HOST, "/api/repos/create"): "create",
            ("POST", HUB_HOST, "/api/validate-yaml"): "validate-yaml",
            ("POST", HUB_HOST, f"{api}/preupload/main"): "preupload",
            ("POST", HUB_HOST, f"/{self.repo_id}.git/info/lfs/objects/batch"): "lfs-batch",
            ("POST", HUB_HOST, f"{api}/commit/main"): "commit",
            ("GET", HUB_HOST, f"{api}/revision/main"): "info",
            ("GET", HUB_HOST, f"{api}/refs"): "refs",
        }
        if (method, host, path) in routes:
            return routes[method, host, path]
        if method == "POST" and host == HUB_HOST and path.startswith(f"{api}/tag/"):
            return "tag"  # create_tag: POST .../tag/{revision} {"tag": name}
        if method == "DELETE" and host == HUB_HOST and path.startswith(f"{api}/tag/"):
            return "tag-delete"  # delete_tag: DELETE .../tag/{name}
        if method == "PUT" and host == UPLOAD_HOST and path.startswith("/lfs/"):
            return "lfs-put"
        return "unknown"

    def _answer(self, kind: str, request: httpx2.Request, failure: int | None) -> httpx2.Response:
        if kind == "unknown":
            return _json(404, {"error": f"fake hub: no route for {request.method} {request.url}"})
        if request.url.host == HUB_HOST and request.headers.get("authorization") != f"Bearer {TOKEN}":
            return _json(401, {"error": "Invalid credentials in Authorization header"})
        if failure is not None:
            echoed = request.headers.get("authorization", "")
            return _json(failure, {"error": f"refused {kind}"}, {"X-Error-Message": f"{echoed} may not {kind} {self.repo_id}"})
        handler = {
            "create": self._create,
            "validate-yaml": lambda r: _json(200, {"errors": [], "warnings": []}),
            "preupload": self._preupload,
            "lfs-batch": self._lfs_batch,
            "lfs-put": self._lfs_put,
            "commit": self._commit,
            "info": self._info,
            "refs": self._refs,
            "tag": self._tag,
            "tag-delete": self._tag_delete,
        }[kind]
        return handler(request)

    def _create(self, request: httpx2.Request) -> httpx2.Response:
        org, name = self.repo_id.split("/")
        if json.loads(request.content) != {"name": name, "organization": org}:
            return _json(400, {"error": "bad create payload"})
        if self.repo_exists:
            return _json(409, {"error": "You already created this model repo", "url": f"{ENDPOINT}/{self.repo_id}"})
        self.repo_exists = True
        return _json(200, {"url": f"{ENDPOINT}/{self.repo_id}"})

    def _preupload(self, request: httpx2.Request) -> httpx2.Response:
        # The server decides LFS vs regular; it reports the oid of a file already at head.
        answer = []
        for f in json.loads(request.content)["files"]:
            mode = "lfs" if f["path"].endswith(".h5") else "regular"
            entry = {"path": f["path"], "uploadMode": mode, "shouldIgnore": False}
            if f["path"] in self.files:
                entry["oid"] = self.files[f["path"]][1]
            answer.append(entry)
        return _json(200, {"files": answer, "commitOid": self.head})

    def _lfs_batch(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        if body.get("operation") != "upload" or body.get("hash_algo") != "sha256":
            return _json(422, {"message": "bad batch payload"})
        objects = []
        for obj in body["objects"]:
            answer = {"oid": obj["oid"], "size": obj["size"]}
            if obj["oid"] not in self.lfs_objects:  # the Hub omits "actions" for content it has
                answer["authenticated"] = True
                answer["actions"] = {"upload": {"href": f"https://{UPLOAD_HOST}/lfs/{obj['oid']}"}}
            objects.append(answer)
        return _json(200, {"transfer": "basic", "objects": objects})

    def _lfs_put(self, request: httpx2.Request) -> httpx2.Response:
        oid = request.url.path.rsplit("/", 1)[1]
        if sha256(request.content) != oid:
            return _json(400, {"error": "content does not match oid"})
        self.lfs_objects[oid] = request.content
        return httpx2.Response(200)

    def _commit(self, request: httpx2.Request) -> httpx2.Response:
        if request.headers.get("content-type") != "application/x-ndjson":
            return _json(400, {"error": "commit wants NDJSON"})
        lines = [json.loads(line) for line in request.content.decode().splitlines()]
        if lines[0]["key"] != "header":
            return _json(400, {"error": "first NDJSON line must be the header"})
        changes = {}
        for line in lines[1:]:
            value = line["value"]
            if line["key"] == "file":
                changes[value["path"]] = ("regular", git_blob_sha1(base64.b64decode(value["content"])))
            elif line["key"] == "lfsFile":
                if value["oid"] not in self.lfs_objects:  # the Hub refuses pointers to missing objects
                    return _json(422, {"error": f"LFS object {value['oid']} was never uploaded"})
                changes[value["path"]] = ("lfs", value["oid"])
            else:
                return _json(400, {"error": f"unexpected key {line['key']}"})
        self.files.update(changes)
        self.head = hashlib.sha1(request.content + (self.head or "").encode()).hexdigest()
        self.commits.append(self.head)
        return _json(200, {"commitUrl": f"{ENDPOINT}/{self.repo_id}/commit/{self.head}", "commitOid": self.head, "success": True})

    def _info(self, request: httpx2.Request) -> httpx2.Response:
        return _json(200, {"id": self.repo_id, "sha": self.head, "private": False})

    def _refs(self, request: httpx2.Request) -> httpx2.Response:
        def ref(name: str, kind: str, commit: str) -> dict:
            return {"name": name, "ref": f"refs/{kind}/{name}", "targetCommit": commit}

        return _json(
            200,
            {
                "branches": [ref("main", "heads", self.head)] if self.head else [],
                "converts": [],
                "tags": [ref(tag, "tags", commit) for tag, commit in sorted(self.tags.items())],
            },
        )

    def _tag_delete(self, request: httpx2.Request) -> httpx2.Response:
        tag = unquote(request.url.path.rsplit("/", 1)[1])
        if tag not in self.tags:
            return _json(404, {"error": f"Tag {tag} not found"}, {"X-Error-Code": "RevisionNotFound"})
        del self.tags[tag]
        return _json(200, {})

    def _tag(self, request: httpx2.Request) -> httpx2.Response:
        revision = request.url.path.rsplit("/", 1)[1]
        tag = json.loads(request.content)["tag"]
        if revision not in self.commits:
            return _json(404, {"error": "Invalid rev id"}, {"X-Error-Code": "RevisionNotFound"})
        if tag in self.tags:
            return _json(409, {"error": f"Tag {tag} already exists"})
        self.tags[tag] = revision
        return _json(200, {})


def _json(status: int, body: dict, headers: dict | None = None) -> httpx2.Response:
    return httpx2.Response(status, json=body, headers=headers)


# -- fixtures -------------------------------------------------------------------------------
@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch):
    """A fresh fake Hub wired in as huggingface_hub's transport; always unwired afterwards.

    (Not named ``hub``: conftest's ``hub`` is the real, olah-served local hub.)"""
    monkeypatch.setenv("HF_ENDPOINT", ENDPOINT)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    # constants.py reads HF_HUB_DISABLE_XET once, at import; every user reads the module
    # attribute (utils/_runtime.is_xet_available, file_download, _shared_blobs), so this
    # one patch turns Xet off everywhere and the legacy LFS protocol is used.
    monkeypatch.setattr(hf_constants, "HF_HUB_DISABLE_XET", True)
    # Building the User-Agent, huggingface_hub 2.4 fetches {constants.ENDPOINT}/api/agent-harnesses
    # once per process (utils/_detect_agent.py), from the endpoint fixed at import time, not the
    # HfApi's. Whether a test sees that request would depend on test order, so switch the
    # detection off (it is skipped when telemetry is disabled, also read at import).
    monkeypatch.setattr(hf_constants, "HF_HUB_DISABLE_TELEMETRY", True)
    fake = FakeHub()
    previous_factory = hf_http._GLOBAL_CLIENT_FACTORY
    hf_utils.set_client_factory(lambda: httpx2.Client(transport=httpx2.MockTransport(fake.handle)))
    try:
        yield fake
    finally:
        hf_utils.set_client_factory(previous_factory)  # also closes the fake's session
        hf_utils.close_session()


@dataclass
class Staged:
    root: Path
    files: dict[str, bytes]


@pytest.fixture
def staged(tmp_path: Path) -> Staged:
    """A small staged repo: two small text files, two LFS-sized weights files."""
    rng = random.Random(20240901)
    files = {
        "zoo.json": json.dumps({"name": "digits-mlp", "epochs": [1, 2]}, indent=2).encode(),
        "README.md": b"---\nlibrary_name: keras\ntags:\n- zoo\n---\n# digits-mlp\n\nA tiny MLP.\n",
        "epochs/e001/model.weights.h5": rng.randbytes(12_345),
        "epochs/e002/model.weights.h5": rng.randbytes(23_456),
    }
    root = tmp_path / "staging"
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return Staged(root, files)


@pytest.fixture
def published(fake_hub: FakeHub, staged: Staged) -> str:
    """The first publish of ``staged``; returns the sha publish_to_hub returned."""
    return publish_to_hub(staged.root, REPO, tags=TAGS, message=MESSAGE)


LFS_PATHS = ["epochs/e001/model.weights.h5", "epochs/e002/model.weights.h5"]
REGULAR_PATHS = ["README.md", "zoo.json"]


# The first requests of every publish of ``staged`` (the LFS PUTs, when any, come next).
BEFORE_COMMIT = [
    "POST /api/repos/create",
    "POST /api/validate-yaml",  # create_commit checks README.md's metadata before anything else
    f"POST {API}/preupload/main",
    f"POST /{REPO}.git/info/lfs/objects/batch",
]
CHANGED_MANIFEST = b'{"name": "digits-mlp", "epochs": [1, 2], "note": "changed"}'


def shown_to_the_user(err: PublishError) -> list[str]:
    return [err.message, err.hint or "", str(err), repr(err), "".join(traceback.format_exception(err))]


# -- 1. first publish -------------------------------------------------------------------------
def test_first_publish_sends_exactly_the_pinned_request_sequence(fake_hub: FakeHub, staged: Staged, published: str):
    oids = {p: sha256(staged.files[p]) for p in LFS_PATHS}
    steps = fake_hub.steps()
    assert steps[:4] == BEFORE_COMMIT
    # The two PUTs run in huggingface_hub's thread pool: their order is not part of the contract.
    assert sorted(steps[4:6]) == sorted(f"PUT https://{UPLOAD_HOST}/lfs/{oid}" for oid in oids.values())
    assert steps[6:] == [
        f"POST {API}/commit/main",
        f"GET {API}/refs",  # list_repo_refs: no tags yet, so each one is created and none deleted
        f"POST {API}/tag/{published}",
        f"POST {API}/tag/{published}",
    ]
    assert all(entry.status == 200 for entry in fake_hub.log), [(e.step, e.status) for e in fake_hub.log]
    # No query anywhere on the Hub (list_repo_refs without include_pull_requests sends no include_prs).
    assert [e.step for e in fake_hub.log if e.query and e.route.startswith("/")] == []


def test_first_publish_payloads(fake_hub: FakeHub, staged: Staged, published: str):
    (create,) = fake_hub.requests("POST /api/repos/create")
    assert create.json() == {"name": "digits-mlp", "organization": "zoo-org"}

    (preupload,) = fake_hub.requests(f"POST {API}/preupload/main")
    asked = {f["path"]: f for f in preupload.json()["files"]}
    assert sorted(asked) == sorted(staged.files)
    for path, data in staged.files.items():
        assert asked[path]["size"] == len(data)
        assert base64.b64decode(asked[path]["sample"]) == data[:512]

    # Only the files the server called "lfs" go through the batch API, by sha256.
    (batch,) = fake_hub.requests(f"POST /{REPO}.git/info/lfs/objects/batch")
    assert batch.headers["content-type"] == "application/vnd.git-lfs+json"
    assert batch.json()["ref"] == {"name": "main"}
    assert sorted((o["oid"], o["size"]) for o in batch.json()["objects"]) == sorted(
        (sha256(staged.files[p]), len(staged.files[p])) for p in LFS_PATHS
    )

    # Each PUT carries exactly the file's bytes to the href the batch answer gave.
    puts = {e.route.rsplit("/", 1)[1]: e.body for e in fake_hub.requests("PUT ")}
    assert puts == {sha256(staged.files[p]): staged.files[p] for p in LFS_PATHS}

    # The commit: one NDJSON header line, then one line per file; LFS by oid, small files inline.
    (commit,) = fake_hub.requests(f"POST {API}/commit/main")
    assert commit.headers["content-type"] == "application/x-ndjson"
    header, *lines = commit.ndjson()
    assert header == {"key": "header", "value": {"summary": MESSAGE, "description": ""}}
    assert len(lines) == len(staged.files)
    by_path = {line["value"]["path"]: line for line in lines}
    assert sorted(by_path) == sorted(staged.files)
    for path in LFS_PATHS:
        assert by_path[path] == {
            "key": "lfsFile",
            "value": {"path": path, "algo": "sha256", "oid": sha256(staged.files[path]), "size": len(staged.files[path])},
        }
    for path in REGULAR_PATHS:
        assert by_path[path]["key"] == "file"
        assert by_path[path]["value"]["encoding"] == "base64"
        assert base64.b64decode(by_path[path]["value"]["content"]) == staged.files[path]

    # Listing the refs is a bare GET; nothing is deleted on a first publish.
    (refs,) = fake_hub.requests(f"GET {API}/refs")
    assert refs.body == b""
    assert not fake_hub.requests("DELETE ")


def test_first_publish_returns_the_commit_oid_and_authenticates_only_to_the_hub(fake_hub: FakeHub, published: str):
    assert published == fake_hub.head and fake_hub.commits == [published]
    for entry in fake_hub.log:
        if entry.method == "PUT":  # a pre-signed storage URL: the Hub token must not travel there
            assert "authorization" not in entry.headers
            assert TOKEN.encode() not in entry.body
        else:
            assert entry.headers["authorization"] == f"Bearer {TOKEN}"


# -- 2. republish ------------------------------------------------------------------------------
def test_republishing_the_same_files_makes_no_commit_and_returns_the_head(fake_hub: FakeHub, staged: Staged, published: str):
    fake_hub.clear_log()
    again = publish_to_hub(staged.root, REPO, tags=TAGS, message=MESSAGE)

    assert again == published == fake_hub.head
    assert fake_hub.commits == [published]
    assert fake_hub.steps() == [
        "POST /api/repos/create",  # 409, accepted by exist_ok=True
        "POST /api/validate-yaml",
        f"POST {API}/preupload/main",  # reports every file's oid at head
        f"POST /{REPO}.git/info/lfs/objects/batch",  # still asked: preupload does not filter LFS files by oid
        f"GET {API}/revision/main",  # nothing changed: create_commit returns the head from repo_info
        f"GET {API}/refs",  # both tags already name the head: not a single tag request
    ]
    assert [e.status for e in fake_hub.log] == [409, 200, 200, 200, 200, 200]
    assert fake_hub.tags == {"epoch-1": published, "epoch-2": published}
    (preupload,) = fake_hub.requests(f"POST {API}/preupload/main")
    assert {f["path"]: f["oid"] for f in json.loads(preupload.answer)["files"]} == {
        **{p: git_blob_sha1(staged.files[p]) for p in REGULAR_PATHS},
        **{p: sha256(staged.files[p]) for p in LFS_PATHS},
    }
    (batch,) = fake_hub.requests(f"POST /{REPO}.git/info/lfs/objects/batch")
    assert all("actions" not in obj for obj in json.loads(batch.answer)["objects"])


def test_republishing_with_one_changed_file_commits_only_that_file(fake_hub: FakeHub, staged: Staged, published: str):
    fake_hub.clear_log()
    (staged.root / "zoo.json").write_bytes(CHANGED_MANIFEST)

    sha = publish_to_hub(staged.root, REPO, tags=TAGS, message="Update manifest")

    assert sha == fake_hub.head != published
    assert not fake_hub.requests("PUT ")  # the weights are already in LFS storage
    (commit,) = fake_hub.requests(f"POST {API}/commit/main")
    header, *lines = commit.ndjson()
    assert header["value"]["summary"] == "Update manifest"
    assert [line["value"]["path"] for line in lines] == ["zoo.json"]


def test_republishing_changed_files_moves_stale_tags_and_leaves_other_tags_alone(
    fake_hub: FakeHub, staged: Staged, published: str
):
    fake_hub.tags["release"] = published  # a tag this publish does not name
    fake_hub.clear_log()
    (staged.root / "zoo.json").write_bytes(CHANGED_MANIFEST)

    sha = publish_to_hub(staged.root, REPO, tags=[*TAGS, "epoch-3"], message="Add epoch 3")

    assert sha == fake_hub.head != published
    assert fake_hub.commits == [published, sha]
    assert fake_hub.steps() == [
        *BEFORE_COMMIT,  # no PUTs: the weights are already in LFS storage
        f"POST {API}/commit/main",
        f"GET {API}/refs",
        # epoch-1 and epoch-2 name the previous commit. The Hub refuses to create a tag that
        # exists (409), so each stale one is deleted, then created again on the new commit.
        f"DELETE {API}/tag/epoch-1",
        f"POST {API}/tag/{sha}",
        f"DELETE {API}/tag/epoch-2",
        f"POST {API}/tag/{sha}",
        f"POST {API}/tag/{sha}",  # epoch-3 is new: created, nothing to delete
    ]
    assert [e.status for e in fake_hub.log] == [409] + [200] * 10  # never a 409 on a tag
    assert [e.json() for e in fake_hub.requests(f"POST {API}/tag/")] == [{"tag": t} for t in ("epoch-1", "epoch-2", "epoch-3")]
    assert all(e.body == b"" for e in fake_hub.requests("DELETE "))
    assert fake_hub.tags == {"release": published, "epoch-1": sha, "epoch-2": sha, "epoch-3": sha}


def test_rerunning_after_a_tagging_failure_leaves_the_tags_already_on_the_commit_alone(
    fake_hub: FakeHub, staged: Staged, published: str
):
    (staged.root / "zoo.json").write_bytes(CHANGED_MANIFEST)
    fake_hub.fail[f"DELETE {API}/tag/epoch-2"] = 403  # epoch-1 moves, then moving epoch-2 is refused
    with pytest.raises(PublishError):
        publish_to_hub(staged.root, REPO, tags=TAGS, message="Update manifest")
    sha = fake_hub.head
    assert sha != published and fake_hub.tags == {"epoch-1": sha, "epoch-2": published}

    fake_hub.fail.clear()
    fake_hub.clear_log()
    again = publish_to_hub(staged.root, REPO, tags=TAGS, message="Update manifest")

    assert again == sha and fake_hub.commits == [published, sha]  # the commit is not repeated
    assert fake_hub.steps() == [
        *BEFORE_COMMIT,
        f"GET {API}/revision/main",
        f"GET {API}/refs",
        # epoch-1 already names the commit: no request for it.
        f"DELETE {API}/tag/epoch-2",
        f"POST {API}/tag/{sha}",
    ]
    assert fake_hub.tags == {"epoch-1": sha, "epoch-2": sha}


# -- 3. failures -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("failing", "status"),
    [("lfs-put", 403), ("lfs-batch", 403), ("commit", 403), ("commit", 422), ("preupload", 422)],
)
def test_a_refusal_mid_way_raises_publish_error_commits_nothing_and_hides_the_token(
    fake_hub: FakeHub, staged: Staged, failing: str, status: int
):
    fake_hub.fail[failing] = status

    with pytest.raises(PublishError) as caught:
        publish_to_hub(staged.root, REPO, tags=TAGS, message=MESSAGE)

    err = caught.value
    assert exit_code(err) == 14
    # Refused where meant (both LFS PUTs may have been refused: they run in parallel).
    assert {(e.kind, e.status) for e in fake_hub.log if e.status >= 400} == {(failing, status)}
    assert err.message.startswith(f"publishing to {REPO} at {ENDPOINT} failed: ")
    assert str(status) in err.message  # the server's reason, not just "it failed"
    assert err.hint.startswith("Nothing was committed; the repo is unchanged.")
    assert fake_hub.head is None and fake_hub.commits == [] and fake_hub.tags == {}
    assert not [e for e in fake_hub.requests(f"POST {API}/commit/main") if e.status < 400]
    assert not fake_hub.requests(f"GET {API}/refs") and not fake_hub.requests(f"POST {API}/tag/")
    # No retry storm: 4xx are final, so every request went out once (and the test stays fast).
    assert len(fake_hub.steps()) == len(set(fake_hub.steps()))
    # The server echoed "Bearer <token>" in X-Error-Message; nothing the user sees may carry it.
    for text in shown_to_the_user(err):
        assert TOKEN not in text


@pytest.mark.parametrize("failing", ["lfs-put", "lfs-batch", "commit"])
def test_an_upload_refused_with_403_says_why_and_never_shows_the_token(fake_hub: FakeHub, staged: Staged, failing: str):
    fake_hub.fail[failing] = 403
    with pytest.raises(PublishError) as caught:
        publish_to_hub(staged.root, REPO, tags=TAGS, message=MESSAGE)
    reason = caught.value.message.split(" failed: ", 1)[1]
    assert "403 Forbidden" in reason, reason
    for text in shown_to_the_user(caught.value):
        assert TOKEN not in text
        assert "Bearer hf_" not in text


@pytest.mark.parametrize("failing", ["commit", "tag"])
def test_a_cause_carrying_the_token_is_redacted_not_just_dropped(fake_hub: FakeHub, staged: Staged, failing: str):
    """A dropped request's transport error quotes the Authorization header; the innermost
    cause is what the message shows, so the token must arrive there as '***'."""
    fake_hub.fail[failing] = DROP
    with pytest.raises(PublishError) as caught:
        publish_to_hub(staged.root, REPO, tags=TAGS, message=MESSAGE)
    assert "ProxyError: proxy dropped POST" in caught.value.message
    assert "Bearer ***" in caught.value.message
    for text in shown_to_the_user(caught.value):
        assert TOKEN not in text
    assert [e.status for e in fake_hub.log].count(0) == 1  # a transport error is not retried either


# -- 4. tags -----------------------------------------------------------------------------------
def test_tags_are_created_against_the_returned_commit(fake_hub: FakeHub, published: str):
    tag_requests = fake_hub.requests(f"POST {API}/tag/")
    assert [(e.route.rsplit("/", 1)[1], e.json()) for e in tag_requests] == [
        (published, {"tag": "epoch-1"}),
        (published, {"tag": "epoch-2"}),
    ]
    assert fake_hub.tags == {"epoch-1": published, "epoch-2": published}


@pytest.mark.parametrize(
    ("failing", "status"),
    [("refs", 403), ("tag-delete", 403), ("tag", 403), ("tag", 422)],
)
def test_a_failure_while_tagging_says_the_commit_is_published_and_a_rerun_finishes(
    fake_hub: FakeHub, staged: Staged, published: str, failing: str, status: int
):
    """After the commit, a failure cannot say "nothing was committed": it names the commit
    that is live, and rerunning the same command adds the tags without a second commit."""
    (staged.root / "zoo.json").write_bytes(CHANGED_MANIFEST)  # so epoch-1/2 are stale: all three kinds run
    fake_hub.clear_log()
    fake_hub.fail[failing] = status

    with pytest.raises(PublishError) as caught:
        publish_to_hub(staged.root, REPO, tags=TAGS, message="Update manifest")

    sha = fake_hub.head
    err = caught.value
    assert sha != published and fake_hub.commits == [published, sha]  # the commit went through
    assert exit_code(err) == 14
    assert [(e.kind, e.status) for e in fake_hub.log if e.status >= 400] == [("create", 409), (failing, status)]
    assert err.message.startswith(f"{REPO}: commit {sha} is published, but tagging it failed: ")
    assert str(status) in err.message.split(" failed: ", 1)[1]
    assert err.hint.startswith("Rerun the same command")
    assert "Nothing was committed" not in err.hint
    for text in shown_to_the_user(err):
        assert TOKEN not in text

    fake_hub.fail.clear()
    assert publish_to_hub(staged.root, REPO, tags=TAGS, message="Update manifest") == sha
    assert fake_hub.commits == [published, sha]
    assert fake_hub.tags == {"epoch-1": sha, "epoch-2": sha}
