"""The HTTP session zoo lends huggingface_hub: every request time-limited, every answer
checked before the client acts on it.

huggingface_hub turns some response headers into cache paths: ``X-Repo-Commit`` names
``snapshots/<commit>/`` and ``refs/<revision>``'s content, the ETag names ``blobs/<etag>``.
It checks none of them, so a lying hub (or anyone in the middle of a plain-http one)
could write files anywhere. While zoo talks to a hub, huggingface_hub's client is one
whose response hook refuses any such value that is not what the Hub sends: a commit is
40 hex characters, an ETag a git sha1 or sha256, a size a decimal number.

The same client bounds time: a connect and a read timeout on every request (including
the HfApi calls huggingface_hub sends with none), one deadline for the whole command,
checked again on every chunk of a body (a server trickling a byte a second is cut off),
and a 429 or 5xx said at once rather than retried or slept on.
"""

from __future__ import annotations

import contextlib
import functools
import re
import threading
import time
from typing import Any, Callable, Iterator

from zoo.constants import hf_endpoint, hf_token, hub_timeouts
from zoo.errors import HubAuthError, HubRateLimitedError, HubServerError, HubTimeoutError, UntrustedResponseError

COMMIT = re.compile(r"[0-9a-f]{40}")
_ETAG = re.compile(r'(?:W/)?"?([0-9a-f]{40}|[0-9a-f]{64})"?')
_SIZE = re.compile(r"[0-9]{1,20}")
_PINNED = re.compile(r"/resolve/([0-9a-f]{40})/")
_SHOWN = 80  # characters of a refused value shown back to the user
_ERROR_BODY_LIMIT = 64 * 1024  # an error body longer than this is not read


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


def check_status(response: Any) -> None:
    """Say at once what a refusal means, instead of huggingface_hub retrying server errors
    for ~24 s or sleeping for as long as a 429's Retry-After asks."""
    status, where = response.status_code, f"{response.request.method} {response.request.url.path}"
    if status < 400 or status in (404, 409, 412, 416, 422) or (status in (401, 403) and response.headers.get("x-error-code")):
        return  # huggingface_hub and zoo's callers tell these cases apart themselves
    said = _server_words(response)
    if status == 429:
        wait = response.headers.get("retry-after")
        raise HubRateLimitedError(f"{where}: the Hub answered 429, too many requests{said}" + (f" (it asks to wait {shown(wait)} s)" if wait else ""),
                                  hint="Try again later; zoo does not sleep on a server's say-so.")
    if status in (401, 403):
        raise HubAuthError(f"{where}: the Hub refused the credentials ({status}){said}",
                           hint="Set HF_TOKEN to a token this Hub accepts (a hub served with a token file needs that token).")
    if status >= 500:
        raise HubServerError(f"{where}: the Hub answered {status}, a server error{said}",
                             hint="The server failed, not your request: try again later, or tell its operator.")


def _server_words(response: Any) -> str:
    """What a refusing server said, short, redacted, and only if it said little."""
    length = response.headers.get("content-length")
    if length is None or not length.isdigit() or int(length) > _ERROR_BODY_LIMIT:
        return ""
    try:
        text = response.read().decode("utf-8", "replace").strip()
    except Exception:  # noqa: BLE001 - the status says enough
        return ""
    text = response.headers.get("x-error-message") or text
    return f": {redact(text)[:200]}" if text else ""


class _Outermost:
    """A block that nests and is shared by threads: ``enter`` runs when the first one opens,
    ``leave`` when the last one closes (the deadline and the installed client factory)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.depth = 0

    @contextlib.contextmanager
    def __call__(self, enter: Callable[[], None], leave: Callable[[], None]) -> Iterator[None]:
        with self.lock:
            if self.depth == 0:
                enter()
            self.depth += 1
        try:
            yield
        finally:
            with self.lock:
                self.depth -= 1
                if self.depth == 0:
                    leave()


class _Deadline:
    """The one deadline of the command under way (``command_deadline``), in monotonic seconds."""

    block = _Outermost()
    at: float | None = None
    seconds = 0.0

    @classmethod
    def start(cls) -> None:
        cls.seconds = hub_timeouts()[2]
        cls.at = time.monotonic() + cls.seconds

    @classmethod
    def stop(cls) -> None:
        cls.at = None


def command_deadline() -> contextlib.AbstractContextManager[None]:
    """Everything said to a Hub inside this block shares one deadline (ZOO_HUB_DEADLINE);
    nested blocks share the outermost one. ``hub_session`` opens one around each exchange
    with the Hub, so a long training run between two exchanges does not use it up."""
    return _Deadline.block(_Deadline.start, _Deadline.stop)


def seconds_left(what: str) -> float:
    """Time left before the deadline; ``HubTimeoutError`` once it has passed."""
    left = (_Deadline.at - time.monotonic()) if _Deadline.at is not None else float("inf")
    if left <= 0:
        raise HubTimeoutError(
            f"{what}: the Hub took longer than the deadline of {_Deadline.seconds:g} s",
            hint="The server stalls or trickles: check it, or raise ZOO_HUB_DEADLINE (seconds).",
        )
    return left


def _limit_request(request: Any) -> None:
    """Every request gets the connect and read timeouts, cut to the time left (this also
    replaces the ``timeout=None`` huggingface_hub passes for HfApi calls)."""
    connect, read, _ = hub_timeouts()
    left = seconds_left(f"{request.method} {request.url.path}")
    request.extensions["timeout"] = {"connect": min(connect, left), "read": min(read, left), "write": min(read, left), "pool": min(connect, left)}


def _limit_response(response: Any) -> None:
    """The body is read against the deadline too: a server trickling bytes is cut off."""
    response.stream = _deadline_stream()(response.stream, f"{response.request.method} {response.request.url.path}")


@functools.cache
def _deadline_stream() -> type:
    import httpx2

    class DeadlineStream(httpx2.SyncByteStream):
        def __init__(self, inner: Any, what: str) -> None:
            self.inner, self.what = inner, what

        def __iter__(self) -> Iterator[bytes]:
            for chunk in self.inner:
                seconds_left(self.what)
                yield chunk

        def close(self) -> None:
            self.inner.close()

    return DeadlineStream


def _checked(factory: Any) -> Any:
    """A client factory like ``factory`` (huggingface_hub's, or the user's own), whose
    clients also time-limit every request and check every answer."""

    def make() -> Any:
        client = factory()
        hooks = client.event_hooks
        hooks["request"] = [*hooks.get("request", []), _limit_request]
        hooks["response"] = [*hooks.get("response", []), check_headers, check_status, _limit_response]
        client.event_hooks = hooks
        return client

    return make


class _Installed:
    """The open ``hub_session`` blocks, and the factory to restore after the last."""

    block = _Outermost()
    previous: Any = None


@contextlib.contextmanager
def hub_session() -> Iterator[None]:
    """huggingface_hub uses zoo's checked, time-limited client inside this block (re-entrant,
    shared by threads), under the command's deadline, and its own factory again after."""
    hf_endpoint()  # a bad HF_ENDPOINT would fail huggingface_hub's import
    with command_deadline():
        from huggingface_hub import constants
        from huggingface_hub.utils import _http, set_client_factory

        constants.HF_HUB_DISABLE_XET = True  # Xet's own network stack would bypass these checks

        def install() -> None:
            _Installed.previous = _http._GLOBAL_CLIENT_FACTORY  # the one private name read here
            set_client_factory(_checked(_Installed.previous))

        with _Installed.block(install, lambda: set_client_factory(_Installed.previous)):
            yield
