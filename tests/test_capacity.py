"""The server always answers: a stream viewer limit, stalled viewers dropped (real gunicorn)."""

import socket
import urllib.request

import pytest

from .conftest import CLIP
from .servers import Gunicorn, response_head, status_line, timed_get, wait_for


@pytest.fixture
def server(tmp_path):
    started = []

    def start(**env):
        gunicorn = Gunicorn(tmp_path, **env)
        started.append(gunicorn)
        return gunicorn

    yield start
    for gunicorn in started:
        gunicorn.stop()


def open_viewer(url: str, rcvbuf: int | None = None) -> socket.socket:
    """A viewer's connection to /stream.mjpg (the request sent; nothing read yet)."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect((host, int(port)))
    sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: facerec\r\n\r\n")
    return sock


def viewers(server) -> int:
    with urllib.request.urlopen(server.url + "/api/v1/stream/status", timeout=10) as response:
        import json

        return json.load(response)["viewers"]


def test_does_one_viewer_beyond_the_limit_get_503_at_once_while_login_answers(server):
    app = server(
        threads=6, FACEREC_CAMERA=str(CLIP), FACEREC_PUBLIC_STREAM="1", FACEREC_MAX_VIEWERS="3"
    )
    watching = [open_viewer(app.url) for _ in range(3)]
    try:
        for sock in watching:
            assert status_line(sock, timeout=30) == "HTTP/1.1 200 OK"
        # The fourth is refused while the three still hold their slots: it is not kept
        # waiting for one of them to leave (nobody leaves here, so it would never be served).
        extra = open_viewer(app.url)
        head = response_head(extra, timeout=30)
        extra.close()
        assert head.startswith("HTTP/1.1 503 SERVICE UNAVAILABLE")
        assert "Retry-After:" in head
        # Pages and the API keep their threads: they answer while every viewer still watches
        # (with their threads taken they would not answer at all).
        for path in ("/login", "/api/v1/stream/status"):
            status, _seconds = timed_get(app.url + path)
            assert status in (200, 302), (path, status)
        assert viewers(app) == 3
    finally:
        for sock in watching:
            sock.close()
    # Gone viewers free their slots: a new one is served again.
    assert wait_for(lambda: viewers(app) == 0, timeout=15)
    again = open_viewer(app.url)
    assert status_line(again, timeout=10) == "HTTP/1.1 200 OK"
    again.close()


def test_is_a_viewer_that_stops_reading_dropped_and_its_slot_freed(server):
    app = server(
        threads=6,
        FACEREC_CAMERA=str(CLIP),
        FACEREC_PUBLIC_STREAM="1",
        FACEREC_MAX_VIEWERS="1",
        FACEREC_STREAM_SEND_TIMEOUT="2",
    )
    stalled = open_viewer(app.url, rcvbuf=4096)  # reads the status line, then nothing more
    try:
        assert status_line(stalled, timeout=30) == "HTTP/1.1 200 OK"
        assert viewers(app) == 1
        # The frames fill the socket buffers, the send blocks, the timeout drops the viewer.
        assert wait_for(lambda: viewers(app) == 0, timeout=60), app.output()[-2000:]
        fresh = open_viewer(app.url)
        assert status_line(fresh, timeout=10) == "HTTP/1.1 200 OK"
        fresh.close()
    finally:
        stalled.close()
