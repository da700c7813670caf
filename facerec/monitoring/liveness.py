"""``GET /livez``: answered in front of Flask, so that nothing but the process can fail it.

A liveness probe restarts the server when it fails, so it must not depend on anything a
restart cannot fix: not the database, a camera or the broker (those are /readyz), and not
whatever a request goes through on its way to a view (sessions, the retention pruning, rate
limits, sinks connecting). This middleware answers before all of it; it still needs a free
server thread, so a server whose every thread is stuck fails it, which is the point.
"""

from __future__ import annotations

import json
import time

from .health import MEDIA_TYPE, liveness

PATH = "/livez"


class Liveness:
    """WSGI middleware: ``/livez`` here, everything else to the wrapped application."""

    def __init__(self, app):
        self.app = app
        self.started = time.monotonic()

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != PATH:
            return self.app(environ, start_response)
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return self._answer(
                start_response,
                "405 METHOD NOT ALLOWED",
                b'{"error": "Use GET."}',
                [("Content-Type", "application/json"), ("Allow", "GET, HEAD")],
            )
        body = json.dumps(liveness(self.started)).encode()
        headers = [
            ("Content-Type", MEDIA_TYPE),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
        ]
        answer = self._answer(start_response, "200 OK", body, headers)
        return [] if environ["REQUEST_METHOD"] == "HEAD" else answer

    @staticmethod
    def _answer(start_response, status: str, body: bytes, headers: list) -> list[bytes]:
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [body]
