"""The camera service, the MJPEG stream, and the stream's status/start/stop API."""

import contextlib
import errno
import itertools
import os
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest

from .conftest import CLIP, login_client
from .servers import wait_for

BOUNDARY = b"--frame"

# On SQLite alone (see conftest.py): video and streams; the database is incidental.
pytestmark = pytest.mark.sqlite_only


def read_parts(chunks, count, timeout=30.0):
    """Parse ``count`` MJPEG parts from an iterator of byte chunks; returns (headers, body)."""
    buf = b""
    parts = []
    deadline = time.monotonic() + timeout
    iterator = iter(chunks)
    while len(parts) < count:
        assert time.monotonic() < deadline, f"only {len(parts)} parts within {timeout} s"
        buf += next(iterator)
        while True:
            start = buf.find(BOUNDARY + b"\r\n")
            if start < 0:
                break
            head_end = buf.find(b"\r\n\r\n", start)
            if head_end < 0:
                break
            lines = buf[start + len(BOUNDARY) + 2 : head_end].decode().split("\r\n")
            headers = dict(line.split(": ", 1) for line in lines)
            length = int(headers["Content-Length"])
            body_start = head_end + 4
            if len(buf) < body_start + length + 2:
                break
            body = buf[body_start : body_start + length]
            assert buf[body_start + length : body_start + length + 2] == b"\r\n"
            parts.append((headers, body))
            buf = buf[body_start + length + 2 :]
    return parts


def decode(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "a part is not a decodable JPEG"
    return image


def is_placeholder(image: np.ndarray) -> bool:
    """The placeholder is a flat dark frame with a little text."""
    background = np.all(np.abs(image.astype(int) - (46, 36, 30)) < 12, axis=2)
    return background.mean() > 0.9


def capture_threads():
    return [t for t in threading.enumerate() if t.name == "facerec-capture" and t.is_alive()]


def open_files(path):
    target = str(path)
    found = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == target:
                found += 1
        except OSError:
            pass
    return found


@pytest.fixture
def cam(clip_app):
    return clip_app.extensions["cameras"].first()


def test_does_a_viewer_get_30_consecutive_jpeg_frames_of_the_clip(clip_app, cam):
    client = login_client(clip_app, clip_app.test_client())
    assert client.post("/api/v1/stream/start").status_code == 200
    response = client.get("/stream.mjpg")
    try:
        assert response.status_code == 200
        assert response.mimetype == "multipart/x-mixed-replace"
        assert response.mimetype_params["boundary"] == "frame"
        assert "no-store" in response.headers["Cache-Control"]
        wait_for(lambda: cam.state == "running")
        parts = read_parts(response.response, 40)
    finally:
        response.close()
    frames = [decode(body) for headers, body in parts[-30:]]
    for headers, body in parts:
        assert headers["Content-Type"] == "image/jpeg"
        assert int(headers["Content-Length"]) == len(body)
    assert all(f.shape == (360, 640, 3) for f in frames)
    assert not any(is_placeholder(f) for f in frames)
    # Consecutive frames of a video differ: the stream is live, not one frame repeated.
    changes = [np.abs(a.astype(int) - b.astype(int)).mean() for a, b in itertools.pairwise(frames)]
    assert sum(c > 0.5 for c in changes) >= 20


def test_does_the_status_name_lin_manuel_miranda_and_never_obama_or_biden(
    clip_app, cam, enroll_known
):
    enroll_known(clip_app)
    client = login_client(clip_app, clip_app.test_client())
    client.post("/api/v1/stream/start")
    seen, indexes = set(), set()
    deadline = time.monotonic() + 45
    lin_seen_at = None
    while time.monotonic() < deadline:
        status = client.get("/api/v1/stream/status").get_json()
        assert set(status) >= {
            "running",
            "source",
            "fps",
            "recognition_hz",
            "frame_index",
            "viewers",
            "faces",
        }
        for face in status["faces"]:
            seen.add(face["name"])
            assert set(face) == {"name", "user_id", "distance", "box"}
            assert len(face["box"]) == 4
        if status["frame_index"] is not None:
            indexes.add(status["frame_index"])
        if "lin-manuel-miranda" in seen and lin_seen_at is None:
            lin_seen_at = time.monotonic()
        if lin_seen_at and time.monotonic() - lin_seen_at > 5:
            break
        time.sleep(0.1)
    assert "lin-manuel-miranda" in seen
    assert not seen & {"obama", "biden"}
    assert status["running"] is True and status["source"] == str(CLIP)
    # Live (the rates themselves are benchmarks: bench/stream.py).
    assert status["fps"] > 0 and status["recognition_hz"] > 0
    assert all(0 <= i < 275 for i in indexes)


def test_does_stop_release_the_source_and_start_reopen_it(clip_app, cam):
    client = login_client(clip_app, clip_app.test_client())
    client.post("/api/v1/stream/start")
    assert wait_for(lambda: cam.state == "running")
    assert len(capture_threads()) == 1
    assert open_files(CLIP) >= 1

    status = client.post("/api/v1/stream/stop").get_json()
    assert status["running"] is False
    assert capture_threads() == []
    assert open_files(CLIP) == 0

    client.post("/api/v1/stream/start")
    assert wait_for(lambda: cam.state == "running")
    assert open_files(CLIP) >= 1
    assert len(capture_threads()) == 1


def test_do_20_concurrent_start_and_stop_calls_leave_exactly_one_capture_thread(clip_app, cam):
    clients = [login_client(clip_app, clip_app.test_client()) for _ in range(20)]

    def call(i):
        return clients[i].post(f"/api/v1/stream/{'start' if i % 2 else 'stop'}").status_code

    with ThreadPoolExecutor(20) as pool:
        assert set(pool.map(call, range(20))) == {200}
    clients[0].post("/api/v1/stream/start")
    with ThreadPoolExecutor(20) as pool:
        assert set(pool.map(lambda c: c.post("/api/v1/stream/start").status_code, clients)) == {200}
    assert wait_for(lambda: cam.state == "running")
    assert len(capture_threads()) == 1
    assert open_files(CLIP) == 1
    clients[0].post("/api/v1/stream/stop")
    assert capture_threads() == []


def test_does_a_viewer_that_disconnects_leave_no_thread_or_subscriber_behind(app_factory, serve):
    app = app_factory(FACEREC_CAMERA=str(CLIP), FACEREC_PUBLIC_STREAM=True)
    cam = app.extensions["cameras"].first()
    cam.start()
    server = serve(app)
    assert wait_for(lambda: cam.state == "running")

    def request_threads():
        # The server's per-request threads (other app threads may come and go meanwhile).
        return {t for t in threading.enumerate() if "process_request" in t.name}

    before = request_threads()
    port = int(server.url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: localhost\r\n\r\n")
        received = b""
        while received.count(BOUNDARY) < 5:
            received += sock.recv(65536)
        assert b"200 OK" in received.split(b"\r\n", 1)[0]
        assert cam.viewers == 1
        (serving,) = request_threads() - before  # the server thread serving this viewer
    finally:
        sock.close()  # the browser tab is closed mid-stream

    assert wait_for(lambda: cam.viewers == 0, timeout=10)
    assert wait_for(lambda: not serving.is_alive(), timeout=10)
    assert cam.running  # the camera itself keeps going for other viewers


def test_does_a_slow_viewer_skip_to_the_newest_frame(clip_app, cam):
    cam.start()
    assert wait_for(lambda: cam.state == "running")
    frames = cam.frames()
    next(frames)
    first_id = cam.latest()[0]
    # A viewer that stalls while 30 frames of the clip go by, and then the camera stops (so
    # the newest frame stays the newest, however slow the machine)...
    assert wait_for(lambda: cam.latest()[0] >= first_id + 30, timeout=60)
    assert cam.stop()
    newest_id, newest = cam.latest()
    assert newest_id > first_id + 30
    # ...gets the newest frame next, the card saying it stopped, not the first of the 30 it
    # missed (a frame of the clip).
    jpeg = next(frames)
    assert jpeg == newest and is_placeholder(decode(jpeg))
    frames.close()
    assert cam.viewers == 0


@pytest.mark.parametrize(
    ("source", "reason"),
    [("7", "no webcam at index 7"), ("/nonexistent/camera.mp4", "does not exist")],
)
def test_does_a_missing_camera_show_the_placeholder_and_say_why(app_factory, source, reason):
    app = app_factory(FACEREC_CAMERA=source)
    client = login_client(app, app.test_client())
    client.post("/api/v1/stream/start")
    cam = app.extensions["cameras"].first()
    assert wait_for(lambda: cam.state == "unavailable", timeout=10)

    status = client.get("/api/v1/stream/status").get_json()
    assert status["running"] is True  # it keeps retrying
    assert reason in status["error"]
    assert status["faces"] == []

    page = client.get("/")
    assert page.status_code == 200
    assert reason in page.get_data(as_text=True)

    response = client.get("/stream.mjpg")
    try:
        started = time.monotonic()
        parts = read_parts(response.response, 2, timeout=5)
        assert time.monotonic() - started < 5
    finally:
        response.close()
    assert all(is_placeholder(decode(body)) for _, body in parts)


def test_does_the_stream_show_the_placeholder_while_the_camera_is_stopped(clip_app):
    client = login_client(clip_app, clip_app.test_client())
    response = client.get("/stream.mjpg")
    try:
        parts = read_parts(response.response, 2, timeout=5)
    finally:
        response.close()
    assert all(is_placeholder(decode(body)) for _, body in parts)
    status = client.get("/api/v1/stream/status").get_json()
    assert status["running"] is False and status["state"] == "stopped"
    assert status["activity"] == "idle"
    # The live page says so in words (and holds the words live.js shows for the others).
    html = client.get("/").get_data(as_text=True)
    assert ">Idle: not watching</span>" in html
    assert 'data-watching="Watching: nothing moving"' in html


def test_does_the_live_page_hold_the_stream_and_the_controls(client):
    html = client.get("/").get_data(as_text=True)
    assert '<img id="stream" src="/stream.mjpg"' in html
    assert 'id="start"' in html and 'id="stop"' in html
    assert "/static/js/live.js" in html


def test_does_the_live_worker_name_a_person_enrolled_while_it_runs(clip_app, cam, data_dir):
    from .conftest import enroll

    cam.start()
    # Before enrollment every face in the clip is unknown.
    assert wait_for(lambda: any(f.name is None for f in cam.status()["faces"]), timeout=40)
    enroll(clip_app, "Lin-Manuel Miranda", data_dir / "known" / "lin-manuel-miranda.png")
    named = wait_for(
        lambda: any(f.name == "Lin-Manuel Miranda" for f in cam.status()["faces"]), timeout=30
    )
    assert named
    assert cam.feed.restarts == 0  # picked up without restarting anything


def test_is_a_dead_recognition_worker_restarted(clip_app, cam):
    from facerec import engine

    cam.start()
    assert wait_for(lambda: cam.feed is not None and cam.feed.latency.count > 0, timeout=60)
    pool = engine.of(clip_app)
    restarts, killed = pool.restarts, set(pool.pids())
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: pool.restarts >= restarts + len(killed), timeout=10)
    assert not killed & set(pool.pids())
    results = cam.feed.latency.count
    assert wait_for(lambda: cam.feed.latency.count > results, timeout=60)  # recognising again


def test_does_a_viewer_start_the_camera_and_an_idle_camera_stop(app_factory):
    app = app_factory(FACEREC_CAMERA=str(CLIP), FACEREC_AUTOSTART=True, FACEREC_IDLE_TIMEOUT=1.0)
    cam = app.extensions["cameras"].first()
    assert not cam.running
    frames = cam.frames()
    next(frames)
    assert wait_for(lambda: cam.state == "running")
    frames.close()
    # Nobody watches any more: after the idle timeout the device is released.
    assert wait_for(lambda: not cam.running and capture_threads() == [], timeout=10)
    assert open_files(CLIP) == 0
    assert cam.status()["state"] == "stopped"


def test_does_a_viewer_not_restart_a_camera_an_operator_stopped(app_factory):
    app = app_factory(FACEREC_CAMERA=str(CLIP), FACEREC_AUTOSTART=True)
    cam = app.extensions["cameras"].first()
    cam.start()
    assert wait_for(lambda: cam.state == "running")
    cam.stop()
    frames = cam.frames()
    next(frames)
    time.sleep(0.5)
    assert not cam.running
    frames.close()


def test_is_a_password_or_token_in_a_camera_url_never_shown(app_factory):
    app = app_factory(FACEREC_CAMERA="rtsp://admin:hunter2@127.0.0.1:9/stream?token=s3cr3t&ch=1")
    client = login_client(app, app.test_client())
    status = client.get("/api/v1/stream/status").get_json()
    assert status["source"] == "rtsp://admin:***@127.0.0.1:9/stream?token=***&ch=***"
    page = client.get("/").get_data(as_text=True)
    assert "hunter2" not in page and "s3cr3t" not in page


def test_can_an_anonymous_visitor_watch_a_public_stream_but_not_stop_it(app_factory):
    app = app_factory(FACEREC_PUBLIC_STREAM=True)
    visitor = app.test_client()
    page = visitor.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<img id="stream"' in html and 'id="stop"' not in html
    assert visitor.post("/api/v1/stream/stop").status_code == 401
    response = visitor.get("/stream.mjpg")
    try:
        assert read_parts(response.response, 1, timeout=5)
    finally:
        response.close()


class Link:
    """A TCP relay standing for the network between facerec and an IP camera.

    ``cut()`` drops every connection at once, as a pulled cable or a rebooting camera would.
    """

    def __init__(self, target_port: int, port: int = 0):
        self.target_port = target_port
        self.listener = self._listen(port)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    @staticmethod
    def _listen(port: int) -> socket.socket:
        """A listener on ``port``; the port of a link just cut may be held for a moment (its
        accept thread notices within 0.2 s), so a reopening tries again for a few seconds."""
        deadline = time.monotonic() + 5
        while True:
            try:
                return socket.create_server(("127.0.0.1", port))
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def _accept(self):
        while self.running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source, sink):
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass

    def cut(self):
        self.running = False
        self.listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def test_does_an_ip_camera_url_stream_and_survive_a_dropped_connection(app_factory, serve):
    # The "IP camera" is another facerec serving the clip as MJPEG over HTTP.
    # Another server (its own camera name): two servers never run one camera (lease).
    upstream = app_factory(
        FACEREC_CAMERA=str(CLIP), FACEREC_PUBLIC_STREAM=True, FACEREC_SERVER="upstream"
    )
    upstream.extensions["cameras"].first().start()
    server = serve(upstream)
    link = Link(server.server.server_port)
    app = app_factory(FACEREC_CAMERA=f"http://user:pw@127.0.0.1:{link.port}/stream.mjpg")
    cam = app.extensions["cameras"].first()
    cam.start()
    try:
        assert wait_for(lambda: cam.state == "running" and cam.output_rate.rate() > 15, timeout=30)
        assert not is_placeholder(decode(cam.latest()[1]))
        # The rate frames arrive at (what the upstream publishes), not FFmpeg's guess; both
        # ends slow down together on a busy machine.
        upstream_cam = upstream.extensions["cameras"].first()

        def arriving_as_sent():
            sent = upstream_cam.output_rate.rate()
            return sent > 0 and abs(cam.status()["source_fps"] - sent) <= 0.2 * sent

        assert wait_for(arriving_as_sent, timeout=60)

        link.cut()  # the network drops
        assert wait_for(lambda: cam.state == "unavailable", timeout=30)
        assert "stream" in cam.status()["error"] and "pw" not in cam.status()["error"]
        assert is_placeholder(decode(cam.latest()[1]))

        link = Link(server.server.server_port, link.port)  # the camera is back
        assert wait_for(lambda: cam.state == "running" and cam.output_rate.rate() > 15, timeout=40)
        assert cam.status()["error"] is None
    finally:
        cam.stop()
        link.cut()


def test_does_the_camera_status_say_exactly_what_its_schema_declares(clip_app):
    """One status value (camera.service.CameraStatus) and the API's description of it
    (StreamStatus) name the same fields, and what the API sends validates against it, for a
    camera that is stopped, one that runs and one that is disabled."""
    from dataclasses import fields

    from facerec.api.cameras import CameraSummary
    from facerec.api.schemas import StreamStatus
    from facerec.camera.service import CameraStatus
    from facerec.extensions import db
    from facerec.models import Camera

    assert {f.name for f in fields(CameraStatus)} == set(StreamStatus().fields)
    client = login_client(clip_app, clip_app.test_client())
    stopped = client.get("/api/v1/stream/status").get_json()
    assert StreamStatus().validate(stopped) == {} and stopped["state"] == "stopped"
    cam = clip_app.extensions["cameras"].first()
    cam.start()
    assert wait_for(lambda: cam.status()["state"] == "running", timeout=60)
    running = client.get("/api/v1/stream/status").get_json()
    assert StreamStatus().validate(running) == {} and running["running"] is True
    assert set(running) == {f.name for f in fields(CameraStatus)}
    # A disabled camera has no service: the list still says all a camera's line says.
    with clip_app.app_context():
        db.session.add(Camera(name="off", source="0", enabled=False))
        db.session.commit()
    clip_app.extensions["cameras"].refresh(force=True)
    listed = {c["name"]: c for c in client.get("/api/v1/cameras").get_json()["cameras"]}
    assert CameraSummary().validate(listed["off"]) == {}
    assert listed["off"]["state"] == "disabled" and listed["off"]["activity"] == "idle"
