"""How many MJPEG viewers the server holds, and what happens to one that stops reading.

Every viewer keeps one server thread for as long as it watches (gunicorn's gthread worker
serves a response from one thread). Without a limit, enough viewers take every thread and
the sign-in page, the API and the health check stop answering. So at most
FACEREC_MAX_VIEWERS viewers (over every camera) are served; one more gets 503 with
Retry-After at once, without waiting for a thread to free up.

A viewer that stops reading (a frozen tab, a phone that went to sleep with the connection
open) fills the socket buffers, and the thread then blocks in send() for ever. The stream
therefore sets a send timeout on its socket (FACEREC_STREAM_SEND_TIMEOUT): a frame that
cannot be handed to the kernel within it ends the response, which frees the thread and the
viewer's slot.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from flask import current_app, request

from ..config import current_settings


class ViewerSlots:
    """A counter with a ceiling: ``take()`` is refused beyond ``limit`` (0 = no limit)."""

    def __init__(self, limit: int):
        self.limit = max(0, int(limit))
        self._count = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.limit and self._count >= self.limit:
                return False
            self._count += 1
            return True

    def give_back(self):
        with self._lock:
            self._count = max(0, self._count - 1)


def slots() -> ViewerSlots:
    app = current_app
    found = app.extensions.get("viewer_slots")
    if found is None:
        found = app.extensions.setdefault(
            "viewer_slots", ViewerSlots(current_settings(app).max_viewers)
        )
    return found


def client_socket() -> socket.socket | None:
    """The connection's socket, where the server tells (gunicorn, werkzeug's dev server)."""
    for key in ("gunicorn.socket", "werkzeug.socket"):
        sock = request.environ.get(key)
        if isinstance(sock, socket.socket):
            return sock
    return None


def limit_send_time():
    """Make a blocked send on this response's socket fail after FACEREC_STREAM_SEND_TIMEOUT s."""
    seconds = current_settings().stream_send_timeout
    sock = client_socket()
    if sock is None or seconds <= 0:
        return
    with contextlib.suppress(OSError):
        sock.settimeout(seconds)
