"""The HTTP session zoo lends huggingface_hub: every answer is checked before the client acts on it.

huggingface_hub turns some response headers into cache paths: ``X-Repo-Commit`` names
``snapshots/<commit>/`` and ``refs/<revision>``'s content, the ETag names ``blobs/<etag>``.
It checks none of them, so a lying hub (or anyone in the middle of a plain-http one)
could write files anywhere. While zoo talks to a hub, huggingface_hub's client is one
whose response hook refuses any such value that is not what the Hub sends: a commit is
40 hex characters, an ETag a git sha1 or sha256, a size a decimal number.
"""

from __future__ import annotations

import contextlib
import re
import threading
from typing import Any, Iterator

from zoo.constants import hf_token
from zoo.errors import UntrustedResponseError

COMMIT = re.compile(r"[0-9a-f]{40}")
_ETAG = re.compile(r'(?:W/)?"?([0-9a-f]{40}|[0-9a-f]{64})"?')
_SIZE = re.compile(r"[0-9]{1,20}")
_PINNED = re.compile(r"/resolve/([0-9a-f]{40})/")
_SHOWN = 80  # characters of a refused value shown back to the user


def shown(value: Any) -> str:
    """An untrusted value as it may appear in a message: escaped and cut short."""
    text = repr(str(value))
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…'"


def check_commit(value: Any, *, what: str) -> str:
    """A commit sha from a server: exactly 40 lower-case hex characters, or refused."""
    if not isinstance(value, str) or not COMMIT.fullmatch(value):
        raise UntrustedResponseError(
            f"{what}: the Hub answered {shown(value)} where a commit sha (40 hex characters) belongs",
            hint="The server is not a Hub or is lying; nothing it sent was used. Check HF_ENDPOINT.",
        )
    return value


def redact(text: str) -> str:
    """Text that may carry server words or the endpoint, made safe to show: the token, any
    credentials in a URL, and signed-URL query strings removed."""
    token = hf_token()
    text = text.replace(token, "***") if token else text
    text = re.sub(r"(\w+://)[^/@\s'\"]+@", r"\1***@", text)  # user:secret@host
    return re.sub(r"(https?://[^\s'\"?]+)\?[^\s'\"]*", r"\1?…", text)  # pre-signed URLs carry secrets


def reason(exc: BaseException) -> str:
    """Why a Hub call failed: the innermost cause (huggingface_hub wraps HTTP errors) plus
    what the server said, redacted."""
    server_message = None
    while True:
        server_message = getattr(exc, "server_message", None) or server_message
        if exc.__cause__ is None:
            break
        exc = exc.__cause__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if server_message and server_message not in text:
        text = f"{text} ({server_message.strip()})"
    return redact(f"{exc.__class__.__name__}: {text}")


def check_headers(response: Any) -> None:
    """Refuse an answer whose headers would become paths or sizes but are not well formed."""
    headers = response.headers
    where = f"{response.request.method} {response.request.url.path}"
    commit = headers.get("x-repo-commit")
    if commit is not None:
        check_commit(commit, what=where)
        pinned = _PINNED.search(response.request.url.path)
        if pinned and pinned.group(1) != commit:
            raise UntrustedResponseError(
                f"{where}: asked for commit {pinned.group(1)}, the Hub answered with commit {commit}",
                hint="The server is not a Hub or is lying; nothing it sent was used. Check HF_ENDPOINT.",
            )
    for name in ("x-linked-etag", "etag"):
        value = headers.get(name)
        if value is not None and not _ETAG.fullmatch(value):
            raise UntrustedResponseError(
                f"{where}: the Hub answered {name} {shown(value)}, which is not a git or sha256 hash",
                hint="The server is not a Hub or is lying; nothing it sent was used. Check HF_ENDPOINT.",
            )
    for name in ("x-linked-size", "content-length"):
        value = headers.get(name)
        if value is not None and not _SIZE.fullmatch(value):
            raise UntrustedResponseError(f"{where}: the Hub answered {name} {shown(value)}, which is not a size")


def _checked(factory: Any) -> Any:
    """A client factory like ``factory`` (huggingface_hub's, or the user's own), whose
    clients also check every answer with ``check_headers``."""

    def make() -> Any:
        client = factory()
        hooks = client.event_hooks
        hooks["response"] = [*hooks.get("response", []), check_headers]
        client.event_hooks = hooks
        return client

    return make


class _Installed:
    """How many ``hub_session`` blocks are open, and the factory to restore after the last."""

    lock = threading.RLock()
    depth = 0
    previous: Any = None


@contextlib.contextmanager
def hub_session() -> Iterator[None]:
    """huggingface_hub uses zoo's checked client inside this block (re-entrant, and shared
    by threads), and its own client factory again after the outermost block."""
    from huggingface_hub.utils import _http, set_client_factory

    with _Installed.lock:
        if _Installed.depth == 0:
            _Installed.previous = _http._GLOBAL_CLIENT_FACTORY  # the one private name read here
            set_client_factory(_checked(_Installed.previous))
        _Installed.depth += 1
    try:
        yield
    finally:
        with _Installed.lock:
            _Installed.depth -= 1
            if _Installed.depth == 0:
                set_client_factory(_Installed.previous)
