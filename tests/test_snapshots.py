"""Snapshot cameras (an http URL answering one JPEG per request) against a test HTTP camera:
polled at their rate, credentials never shown, Basic and Digest sign-in, clear reasons for a
wrong password, a web page, a redirect or a silent camera, and recovery."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import pytest

from facerec.camera.sources import SourceError, SourceOptions, open_source

from .conftest import CLIP, add_camera, login_client
from .servers import wait_for
from .test_cameras import frames_of
from .test_stream import is_placeholder

# On SQLite alone (see conftest.py): cameras over HTTP; the database is incidental.
pytestmark = pytest.mark.sqlite_only

USER, PASSWORD, TOKEN = "admin", "Sn4p-s3cret", "T0ken-s3cret"
REALM = "snapshot-test"


def clip_jpegs(count: int = 20) -> list[bytes]:
    capture = cv2.VideoCapture(str(CLIP))
    jpegs = []
    try:
        while len(jpegs) < count:
            ok, frame = capture.read()
            assert ok
            jpegs.append(cv2.imencode(".jpg", frame)[1].tobytes())
    finally:
        capture.release()
    return jpegs


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # HTTP Digest is MD5 by definition


class SnapshotCamera:
    """An ESP32-CAM-like camera on a free loopback port: ``GET /capture`` answers the clip's
    next frame as one JPEG, for USER and PASSWORD only (``auth``: basic or digest).

    ``mode`` makes it misbehave: ``html`` (a login page), ``redirect``, ``silent`` (accepts
    the request and never answers). ``served`` holds the time of every picture sent.
    """

    def __init__(self, auth: str = "basic"):
        self.auth = auth
        self.mode = "ok"
        self.jpegs = clip_jpegs()
        self.served: list[float] = []
        self.refused = 0
        self.nonce = secrets.token_hex(8)
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                camera.answer(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, password: str = PASSWORD) -> str:
        return f"http://{USER}:{password}@127.0.0.1:{self.port}/capture?token={TOKEN}"

    def signed_in(self, request) -> bool:
        header = request.headers.get("Authorization") or ""
        if self.auth == "basic":
            return header == "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        fields = dict(
            (key, quoted or bare)
            for key, quoted, bare in re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', header)
        )
        if not header.startswith("Digest ") or fields.get("nonce") != self.nonce:
            return False
        ha1 = _md5(f"{USER}:{REALM}:{PASSWORD}")
        ha2 = _md5(f"GET:{fields.get('uri')}")
        expected = _md5(
            f"{ha1}:{self.nonce}:{fields.get('nc')}:{fields.get('cnonce')}:{fields.get('qop')}:{ha2}"
        )
        return fields.get("username") == USER and fields.get("response") == expected

    def answer(self, request):
        if self.mode == "silent":
            time.sleep(30)
            return
        if self.mode == "redirect":
            request.send_response(302)
            request.send_header("Location", f"http://127.0.0.1:{self.port}/elsewhere")
            request.end_headers()
            return
        if not self.signed_in(request):
            self.refused += 1
            request.send_response(401)
            if self.auth == "basic":
                challenge = f'Basic realm="{REALM}"'
            else:
                challenge = (
                    f'Digest realm="{REALM}", nonce="{self.nonce}", qop="auth", algorithm=MD5'
                )
            request.send_header("WWW-Authenticate", challenge)
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        if self.mode == "html" or not request.path.startswith("/capture"):
            body, kind = b"<html><body>Log in</body></html>", "text/html"
        else:
            body, kind = self.jpegs[len(self.served) % len(self.jpegs)], "image/jpeg"
            self.served.append(time.monotonic())
        request.send_response(200)
        request.send_header("Content-Type", kind)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def snapshot_camera():
    camera = SnapshotCamera()
    yield camera
    camera.close()


def test_does_a_snapshot_camera_stream_at_its_rate_and_never_show_its_credentials(
    app, snapshot_camera, caplog, capfd
):
    caplog.set_level(logging.DEBUG)
    rate = 4.0
    service = add_camera(app, "gate", snapshot_camera.url(), snapshot_rate=rate)
    client = login_client(app, app.test_client())
    assert client.post("/api/v1/cameras/gate/start").status_code == 200
    frames = frames_of(client, "/cameras/gate/stream.mjpg", 4)
    assert not is_placeholder(frames[-1]) and frames[-1].shape == (360, 640, 3)

    status = client.get("/api/v1/cameras/gate/status").get_json()
    assert status["state"] == "running"
    assert status["stream"]["kind"] == "snapshot" and status["stream"]["codec"] == "JPEG"
    assert status["stream"]["fps"] == rate
    # A kind the API's document lists (made from the sources' own kinds).
    documented = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    assert "snapshot" in documented["SourceStream"]["properties"]["kind"]["enum"]

    # Never faster than the rate, whatever the load; about the rate when the machine keeps up.
    # (Seen from the camera, one answer may come late and the next on time: the span of many
    # requests is what the rate bounds, give or take one period at its ends.)
    count = len(snapshot_camera.served)
    assert wait_for(lambda: len(snapshot_camera.served) >= count + 12, timeout=30)
    times = snapshot_camera.served[count:]
    span = times[-1] - times[0]
    assert span >= (len(times) - 2) / rate, times
    assert span / (len(times) - 1) < 2 / rate, times
    # Basic credentials go along once accepted: no refused request per picture.
    assert snapshot_camera.refused <= 2

    shown = [
        client.get("/api/v1/cameras/gate/status").get_data(as_text=True),
        client.get("/api/v1/cameras").get_data(as_text=True),
        client.get("/admin/cameras").get_data(as_text=True),
        client.get(f"/admin/cameras/{service_id(app, 'gate')}").get_data(as_text=True),
        client.post(f"/admin/cameras/{service_id(app, 'gate')}/test").get_data(as_text=True),
        app.test_cli_runner().invoke(args=["cameras", "list"]).output,
    ]
    assert "/capture?token=***" in shown[0] and f"{USER}:***@" in shown[0]
    service.stop()
    out, err = capfd.readouterr()
    for text in [*shown, caplog.text, out, err]:
        assert PASSWORD not in text and TOKEN not in text


def service_id(app, name: str) -> int:
    from .test_cameras import camera_id

    return camera_id(app, name)


def test_does_a_snapshot_camera_sign_in_with_digest(data_dir):
    camera = SnapshotCamera(auth="digest")
    stop = threading.Event()
    try:
        source = open_source(camera.url(), SourceOptions(snapshot_rate=10.0))
        frames = source.frames(stop)
        shapes = [next(frames)[1].shape for _ in range(3)]
        source.release()
    finally:
        stop.set()
        camera.close()
    assert shapes == [(360, 640, 3)] * 3
    assert source.kind == "snapshot" and len(camera.served) == 3


@pytest.mark.parametrize(
    ("mode", "password", "reason"),
    [
        ("ok", "wrong-password", "the camera refused the user name or password (HTTP 401"),
        ("html", PASSWORD, "answers with a web page, not a picture or a video stream"),
        ("redirect", PASSWORD, "redirect (HTTP 302); camera redirects are not followed"),
        ("silent", PASSWORD, "no answer from 127.0.0.1:"),
    ],
)
def test_does_a_failing_snapshot_camera_say_why_without_its_secrets(
    snapshot_camera, mode, password, reason
):
    snapshot_camera.mode = mode
    with pytest.raises(SourceError) as failure:
        open_source(snapshot_camera.url(password), SourceOptions(timeout=1.0))
    message = str(failure.value)
    assert reason in message
    assert password not in message and TOKEN not in message and PASSWORD not in message


def test_does_a_snapshot_camera_that_goes_silent_become_unavailable_and_come_back(
    app_factory, snapshot_camera
):
    app = app_factory(FACEREC_CAMERA_TIMEOUT=1.5)
    service = add_camera(app, "gate", snapshot_camera.url(), snapshot_rate=5)
    service.start()
    try:
        assert wait_for(lambda: service.state == "running" and snapshot_camera.served)
        snapshot_camera.mode = "silent"
        assert wait_for(lambda: service.state == "unavailable", timeout=15)
        assert "no picture for 1.5 s" in service.error or "no answer from" in service.error
        snapshot_camera.mode = "ok"
        count = len(snapshot_camera.served)
        assert wait_for(lambda: service.state == "running", timeout=20)
        assert wait_for(lambda: len(snapshot_camera.served) > count + 2)
    finally:
        service.stop()
