"""A hostile hub for tests: a loopback HTTP proxy in front of the real olah that lies,
stalls, throttles or fails on the requests a test chooses, and forwards the rest.

Everything not matched by a rule reaches the real server unchanged, so a test exercises
the real huggingface_hub client against a real hub with exactly one fault injected.
Every socket has a timeout and a stalled answer ends when the proxy stops, so a test
that goes wrong fails instead of hanging.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import urlparse

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization", "proxy-authenticate"}


@dataclass
class Answer:
    """What the proxy sends back: built from the upstream answer, then changed by a rule."""

    status: int
    headers: dict[str, str]
    body: bytes
    stall: float = 0.0  # seconds to wait before sending anything
    bytes_per_second: float | None = None  # trickle the body

    def json(self) -> Any:
        return json.loads(self.body)

    def set_json(self, value: Any) -> None:
        self.body = json.dumps(value).encode()


Rule = Callable[[str, str, Answer], None]  # (method, path, answer) -> change the answer in place


@dataclass
class HostileHub:
    """``with HostileHub(upstream) as hub: monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)``."""

    upstream: str
    rules: list[tuple[re.Pattern, str | None, Rule]] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    sent_body_bytes: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()

    # -- rules ---------------------------------------------------------------------
    def on(self, path_pattern: str, rule: Rule, *, method: str | None = None) -> "HostileHub":
        """Apply ``rule`` to every answer whose request path matches ``path_pattern``."""
        self.rules.append((re.compile(path_pattern), method, rule))
        return self

    def clear(self) -> None:
        self.rules.clear()

    # -- server ----------------------------------------------------------------------
    def __enter__(self) -> "HostileHub":
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 30

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                hub._serve(self)

            do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        method, path = handler.command, handler.path
        headers = {k: v for k, v in handler.headers.items()}
        with self._lock:
            self.requests.append((method, path, headers))
        length = int(headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        answer = self._forward(method, path, headers, body)
        for pattern, only, rule in list(self.rules):
            if pattern.search(path) and (only is None or only == method):
                rule(method, path, answer)
        if answer.stall and self._stop.wait(answer.stall):
            return  # the proxy is stopping: drop the connection unanswered
        handler.send_response(answer.status)
        for key, value in answer.headers.items():
            if key.lower() != "content-length" or method == "HEAD":  # a HEAD keeps the length it announces
                handler.send_header(key, value)
        if method != "HEAD":
            handler.send_header("Content-Length", str(len(answer.body)))
        handler.end_headers()
        if method == "HEAD":
            return
        self._write_body(handler, answer)

    def _write_body(self, handler: BaseHTTPRequestHandler, answer: Answer) -> None:
        chunk = 1 << 16 if answer.bytes_per_second is None else max(1, int(answer.bytes_per_second))
        for start in range(0, len(answer.body), chunk):
            if self._stop.is_set():
                return
            try:
                handler.wfile.write(answer.body[start : start + chunk])
                handler.wfile.flush()
            except OSError:
                return
            with self._lock:
                self.sent_body_bytes += len(answer.body[start : start + chunk])
            if answer.bytes_per_second is not None and self._stop.wait(1.0):
                return

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> Answer:
        up = urlparse(self.upstream)
        connection = http.client.HTTPConnection(up.hostname, up.port, timeout=30)
        forwarded = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP and k.lower() != "host"}
        try:
            connection.request(method, path, body=body, headers=forwarded)
            response = connection.getresponse()
            data = response.read()
            out = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP}
        finally:
            connection.close()
        for key in list(out):  # keep redirects (LFS files) pointing at the proxy
            if key.lower() == "location":
                out[key] = out[key].replace(self.upstream, self.endpoint).replace(f"//{up.netloc}", f"//{urlparse(self.endpoint).netloc}")
        return Answer(response.status, out, data)


def set_header(name: str, value: str) -> Rule:
    """A rule that replaces (or adds) one response header, keeping its original spelling."""

    def rule(method: str, path: str, answer: Answer) -> None:
        for key in list(answer.headers):
            if key.lower() == name.lower():
                del answer.headers[key]
        answer.headers[name] = value

    return rule


def stall(seconds: float) -> Rule:
    """A rule that accepts the request and answers nothing for ``seconds``."""

    def rule(method: str, path: str, answer: Answer) -> None:
        answer.stall = seconds

    return rule


def trickle(bytes_per_second: float) -> Rule:
    def rule(method: str, path: str, answer: Answer) -> None:
        answer.bytes_per_second = bytes_per_second

    return rule


def respond(status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> Rule:
    """A rule that replaces the answer with this one."""

    def rule(method: str, path: str, answer: Answer) -> None:
        answer.status, answer.headers, answer.body = status, dict(headers or {}), body

    return rule


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False
