"""A streaming file path for olah's local mirrors, applied where zoo runs olah.

olah 0.5.4 reads a whole LFS object into memory and yields it in 4 KB pieces on every
GET, sha256-hashes the whole object on every HEAD, and ignores Range. For LFS files of a
local mirror (offline), this patch answers instead:

* GET streams ``.git/lfs/objects/…`` from disk in 1 MiB chunks (Starlette's
  ``FileResponse``), with Range and If-Range (206 + Content-Range, 416), so an
  interrupted download resumes;
* HEAD answers from the pointer alone: ETag and X-Linked-Etag = the LFS oid (what the
  Hub sends), X-Linked-Size, X-Repo-Commit, with no read of the object;
* a missing file or revision is a 404 the Hub would send (olah answered 500 or 401);
* ``/api/models/ORG/NAME`` without a revision resolves the mirror's HEAD directly, so
  repos published after the start are served with no restart;
* with a token (``ZOO_HUB_TOKEN_FILE``), every request needs ``Authorization: Bearer``
  (checked in constant time; 401 names no repo).

Non-LFS files, online mirrors and everything else go through olah's own code. ``check``
refuses an olah other than the version and code shapes this was written for, so an
upgrade fails at start with a clear message instead of serving wrong bytes.
docs/olah-patch.md is the write-up for olah upstream.
"""

from __future__ import annotations

import hmac
import inspect
import os
import re
import stat
from importlib.metadata import version as _dist_version
from typing import Any, Optional

EXPECTED_OLAH_VERSION = "0.5.4"
CHUNK = 1024 * 1024
_POINTER_RE = re.compile(
    rb"version https://git-lfs\.github\.com/spec/v1\noid sha256:([0-9a-f]{64})\nsize ([0-9]+)\n\Z"
)
_MAX_POINTER = 1024  # git-lfs pointers are < 1024 bytes by spec
_applied = False


class OlahPatchError(RuntimeError):
    pass


def _params(func) -> list[str]:
    return list(inspect.signature(func).parameters)


def _expect(what: str, func, names: list[str]) -> None:
    got = _params(func)
    if got != names:
        raise OlahPatchError(
            f"olah changed shape: {what}{tuple(got)} != expected {tuple(names)}; "
            "olah_patch was written for olah " + EXPECTED_OLAH_VERSION + " and refuses to guess"
        )


def check() -> None:
    """Refuse, naming what changed, an olah whose code is not the shape this patch was
    written for (zoo calls this before it starts olah, and ``apply`` again inside it)."""
    installed = _dist_version("olah")
    if installed != EXPECTED_OLAH_VERSION:
        raise OlahPatchError(f"olah {installed} is installed; olah_patch supports only {EXPECTED_OLAH_VERSION}")
    from olah import server_file_routes as fr, server_api_routes as ar, server_mirror as sm, server_access as sa

    route = ["app", "repo_type", "org", "repo", "commit", "file_path", "request"]
    _expect("server_file_routes.file_get_common", fr.file_get_common, route)
    _expect("server_file_routes.file_head_common", fr.file_head_common, route)
    _expect("server_api_routes.get_latest_commit", ar.get_latest_commit, ["app", "repo", "authorization"])
    _expect("server_mirror._mirror_git_paths", sm._mirror_git_paths, ["app", "repo"])
    _expect("server_access.ensure_repo_visibility", sa.ensure_repo_visibility, ["app", "repo", "authorization"])
    # The route functions must still look these names up in their module at call time.
    for name in ("file_get_expanded", "file_get_resolve_default", "file_get_compact"):
        if "file_get_common" not in getattr(fr, name).__code__.co_names:
            raise OlahPatchError(f"olah changed shape: {name} no longer calls file_get_common")
    for name in ("file_head_expanded", "file_head_resolve_default", "file_head_compact"):
        if "file_head_common" not in getattr(fr, name).__code__.co_names:
            raise OlahPatchError(f"olah changed shape: {name} no longer calls file_head_common")
    for name in ("meta_proxy_compact", "meta_proxy_expanded"):
        if "get_latest_commit" not in getattr(ar, name).__code__.co_names:
            raise OlahPatchError(f"olah changed shape: {name} no longer calls get_latest_commit")
    from olah.errors import error_entry_not_found, error_revision_not_found  # noqa: F401 (must exist)
    from starlette.responses import FileResponse

    if not hasattr(FileResponse, "_handle_single_range"):
        raise OlahPatchError("starlette.FileResponse has no Range support (starlette >= 0.39 needed)")


# -- LFS lookup (sync; run in a worker thread) ----------------------------------------------
class LfsFile:
    __slots__ = ("oid", "size", "object_path", "commit")

    def __init__(self, oid: str, size: int, object_path: str, commit: str):
        self.oid, self.size, self.object_path, self.commit = oid, size, object_path, commit


def _lfs_pointer(blob) -> Optional[tuple[str, int]]:
    if blob.type != "blob" or blob.size >= _MAX_POINTER:
        return None
    m = _POINTER_RE.match(blob.data_stream.read())
    return (m.group(1).decode(), int(m.group(2))) if m else None


def _lfs_object_path(git_repo, oid: str) -> str:
    return os.path.join(git_repo.common_dir, "lfs", "objects", oid[:2], oid[2:4], oid)


def lookup(git_path: str, revision: str, path: str) -> tuple[str, Optional[LfsFile]]:
    """Classify PATH at REVISION: ("lfs", LfsFile) | ("file"|"no-entry"|"no-revision"|"bad-repo", None)."""
    import git
    import gitdb

    try:
        with git.Repo(git_path) as repo:  # close() reaps the git cat-file helpers
            try:
                commit = repo.commit(revision)
                tree = commit.tree
            except (gitdb.exc.BadName, gitdb.exc.BadObject, ValueError):
                return "no-revision", None
            try:
                blob = tree[path.strip("/")]
            except KeyError:
                return "no-entry", None
            if blob.type != "blob":
                return "no-entry", None
            pointer = _lfs_pointer(blob)
            if pointer is None:
                return "file", None
            oid, size = pointer
            return "lfs", LfsFile(oid, size, _lfs_object_path(repo, oid), commit.hexsha)
    except (git.exc.InvalidGitRepositoryError, git.exc.NoSuchPathError):
        return "bad-repo", None


def _lfs_headers(lfs: LfsFile) -> dict[str, str]:
    etag = f'"{lfs.oid}"'
    return {
        "content-length": str(lfs.size),
        "etag": etag,
        "x-linked-etag": etag,
        "x-linked-size": str(lfs.size),
        "x-repo-commit": lfs.commit,
        "accept-ranges": "bytes",
        "content-type": "application/octet-stream",
    }


# -- route patches --------------------------------------------------------------------------
_orig: dict[str, Any] = {}


class _ChunkedFileResponse:  # created lazily so importing this module needs no starlette
    cls = None


def _file_response_cls():
    if _ChunkedFileResponse.cls is None:
        from starlette.responses import FileResponse

        class BigChunkFileResponse(FileResponse):
            chunk_size = CHUNK

        _ChunkedFileResponse.cls = BigChunkFileResponse
    return _ChunkedFileResponse.cls


async def _local_lfs(app, repo_type, org, repo, commit, file_path, request):
    """(response_or_None). None: not a local LFS file, let olah answer."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse
    from olah.server_access import build_repo_ref, ensure_repo_visibility
    from olah.server_mirror import _mirror_git_paths
    from olah.errors import error_entry_not_found, error_revision_not_found

    if not app.state.app_settings.config.offline:
        return None
    repo_ref = build_repo_ref(repo_type, org, repo)
    paths = [p for p in _mirror_git_paths(app, repo_ref) if os.path.isdir(p)]
    if not paths:
        return None
    error = await ensure_repo_visibility(app, repo_ref, request.headers.get("authorization"))
    if error is not None:
        return error
    misses = set()
    for git_path in paths:
        kind, lfs = await run_in_threadpool(lookup, git_path, commit, file_path)
        if kind == "file":
            return None  # plain git blob: olah's own code serves it
        if kind != "lfs":
            misses.add(kind)
            continue
        try:
            st = os.stat(lfs.object_path)
        except FileNotFoundError:
            st = None
        if st is None or not stat.S_ISREG(st.st_mode) or st.st_size != lfs.size:
            # Pointer committed but object missing / truncated: say so instead of a 500.
            return JSONResponse(
                {"error": "LFS object missing or incomplete on the server"},
                status_code=404,
                headers={"x-error-code": "EntryNotFound", "x-error-message": "LFS object missing on the server"},
            )
        return lfs, st
    # olah answers these with a 500 (GET, KeyError) or 401 RepoNotFound (HEAD): answer like the Hub.
    if "no-entry" in misses:
        return error_entry_not_found()
    if "no-revision" in misses:
        return error_revision_not_found(commit)
    return None


async def file_head_common(app, repo_type, org, repo, commit, file_path, request):
    found = await _local_lfs(app, repo_type, org, repo, commit, file_path, request)
    if found is None:
        return await _orig["file_head_common"](app, repo_type, org, repo, commit, file_path, request)
    if not isinstance(found, tuple):
        return found
    from starlette.responses import Response

    lfs, _ = found
    return Response(headers=_lfs_headers(lfs))


async def file_get_common(app, repo_type, org, repo, commit, file_path, request):
    found = await _local_lfs(app, repo_type, org, repo, commit, file_path, request)
    if found is None:
        return await _orig["file_get_common"](app, repo_type, org, repo, commit, file_path, request)
    if not isinstance(found, tuple):
        return found
    lfs, st = found
    headers = _lfs_headers(lfs)
    del headers["content-length"]  # FileResponse sets it (or the range length)
    return _file_response_cls()(
        lfs.object_path, headers=headers, media_type="application/octet-stream", stat_result=st
    )


async def get_latest_commit(app, repo, authorization):
    """The local mirror's HEAD commit when there is one; olah's cache lookup otherwise."""
    from starlette.concurrency import run_in_threadpool
    from olah.server_mirror import _mirror_git_paths

    def head_sha() -> Optional[str]:
        import git

        for git_path in _mirror_git_paths(app, repo):
            if not os.path.isdir(git_path):
                continue
            try:
                with git.Repo(git_path) as r:
                    return r.head.commit.hexsha
            except Exception:  # unborn HEAD, not a repo, ...
                continue
        return None

    if app.state.app_settings.config.offline:
        sha = await run_in_threadpool(head_sha)
        if sha is not None:
            return sha
    return await _orig["get_latest_commit"](app, repo, authorization)


# -- bearer-token auth ----------------------------------------------------------------------
class BearerAuth:
    """Pure ASGI middleware: every HTTP request needs 'Authorization: Bearer <token>'."""

    _BODY = b'{"error":"Invalid credentials in Authorization header"}'

    def __init__(self, app, token: str):
        if not token:
            raise OlahPatchError("empty hub token")
        self.app = app
        self._token = token.encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":  # lifespan passes; olah has no websockets
            return await self.app(scope, receive, send)
        given = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                given = value
                break
        scheme, _, cred = given.partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(cred.strip(), self._token):
            return await self.app(scope, receive, send)
        body = b"" if scope["method"] == "HEAD" else self._BODY
        await send({
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(self._BODY)).encode()),
                (b"www-authenticate", b'Bearer realm="zoo-hub"'),
                # huggingface_hub then raises "Invalid credentials" instead of RepositoryNotFound
                (b"x-error-message", b"Invalid credentials in Authorization header"),
            ],
        })
        await send({"type": "http.response.body", "body": body})


def read_token_file(path: str) -> str:
    """The token in ``path``, a file private to its owner holding one token and no whitespace."""
    st = os.stat(path)
    if st.st_mode & 0o077:
        raise OlahPatchError(f"token file {path} is readable by others; chmod 600 it")
    with open(path, encoding="utf-8") as fh:
        token = fh.read().strip()
    if not token or any(c.isspace() for c in token):
        raise OlahPatchError(f"token file {path} is empty or has whitespace inside")
    return token


# -- entry points ---------------------------------------------------------------------------
def apply(token: Optional[str] = None) -> None:
    """Check olah's shape, then patch. Idempotent. Call before olah's app serves anything."""
    global _applied
    if _applied:
        return
    check()
    from olah import server_file_routes as fr, server_api_routes as ar
    import olah.server as server

    _orig.update(file_get_common=fr.file_get_common, file_head_common=fr.file_head_common, get_latest_commit=ar.get_latest_commit)
    fr.file_get_common = file_get_common
    fr.file_head_common = file_head_common
    ar.get_latest_commit = get_latest_commit
    if token is not None:
        server.app.add_middleware(BearerAuth, token=token)  # raises if the app already started
    _applied = True


def main() -> None:
    """``python -m zoo.hub.olah_patch -c olah.toml``: patch, then run olah's own cli (argv is olah's).
    ``ZOO_HUB_TOKEN_FILE`` names the token file; it is removed from the environment first."""
    token_file = os.environ.pop("ZOO_HUB_TOKEN_FILE", None)
    apply(read_token_file(token_file) if token_file else None)
    from olah.server import cli

    cli()


if __name__ == "__main__":
    main()
