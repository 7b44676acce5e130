"""``python -m http.server`` with the three headers ``hf_hub_download`` needs, so the real
client can download from a plain static-file server: the contender for "hf_hub_download
from zoo hub serve", measuring what the server costs rather than what the client does.

    python benchmarks/plain_hub.py PORT ROUTES.json
    # ROUTES.json: {"/ORG/NAME/resolve/COMMIT/FILE": ["/path/to/file", "sha256", "COMMIT"], ...}
"""

from __future__ import annotations

import json
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer


class Handler(SimpleHTTPRequestHandler):
    routes: dict[str, list[str]] = {}

    def translate_path(self, path: str) -> str:
        found = self.routes.get(path.split("?", 1)[0])
        return found[0] if found else "/nonexistent"

    def end_headers(self) -> None:
        found = self.routes.get(self.path.split("?", 1)[0])
        if found:
            self.send_header("ETag", f'"{found[1]}"')
            self.send_header("X-Repo-Commit", found[2])
        super().end_headers()

    def log_message(self, *args) -> None:
        pass


def main() -> None:
    port, routes = int(sys.argv[1]), json.loads(open(sys.argv[2]).read())
    Handler.routes = routes
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
