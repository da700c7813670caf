"""RTSP cameras against a real RTSP server (GStreamer's, see rtspserver.py) serving the clip:
reading over TCP and UDP, recognition and sightings, a server killed and restarted, a server
frozen mid-stream, the transport stored per camera."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest

from facerec.camera.sources import SourceError, SourceOptions, open_source
from facerec.extensions import db
from facerec.models import Camera, Sighting

from .conftest import CLIP, add_camera, login_client
from .servers import Gunicorn, add_api_token, descendants, wait_for
from .test_stream import decode, is_placeholder

# On SQLite alone (see conftest.py): video over the network; the database is incidental.
pytestmark = pytest.mark.sqlite_only


def udp_sockets() -> set[str]:
    """The inodes of this process's UDP sockets (RTP and RTCP arrive on two of them)."""
    mine = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            mine.add(target[8:-1])
    bound = set()
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with open(table) as rows:
            next(rows)
            bound |= {row.split()[9] for row in rows}
    return mine & bound


def nearest_clip_frame(frame: np.ndarray) -> tuple[int, float]:
    """The clip frame ``frame`` (of any size) shows: (its index, the mean pixel difference)."""
    capture = cv2.VideoCapture(str(CLIP))
    best = (-1, 255.0)
    try:
        index = 0
        while True:
            ok, clip = capture.read()
            if not ok:
                return best
            shrunk = cv2.resize(frame, clip.shape[1::-1], interpolation=cv2.INTER_AREA)
            difference = float(np.abs(shrunk.astype(np.int16) - clip).mean())
            if difference < best[1]:
                best = (index, difference)
            index += 1
    finally:
        capture.release()


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_does_opencv_read_the_clip_from_the_rtsp_server_over_the_chosen_transport(
    rtsp_server, transport
):
    before = udp_sockets()
    source = open_source(rtsp_server.url("main"), SourceOptions(transport=transport))
    stop = threading.Event()
    try:
        frames = source.frames(stop)
        _index, first = next(frames)
        info = source.stream_info(first, time.monotonic())
        during = udp_sockets() - before
        later = [next(frames)[1] for _ in range(30)]
    finally:
        stop.set()
        source.release()
    assert first.shape == (720, 1280, 3) and later[-1].shape == (720, 1280, 3)
    assert (info.kind, info.codec, info.width, info.height) == ("rtsp", "H.264", 1280, 720)
    assert info.fps == pytest.approx(29.97, abs=0.05)
    # The picture is one of the clip's, scaled up, whole (no slice of it lost on the way).
    assert nearest_clip_frame(first)[1] < 4
    # The video came as RTP over UDP (two ports of ours: RTP and RTCP) only when asked for.
    assert (len(during) >= 2) == (transport == "udp"), during


def test_is_lin_manuel_miranda_named_and_a_sighting_written_from_an_rtsp_camera(
    app, rtsp_server, enroll_known
):
    people = enroll_known(app)
    service = add_camera(app, "door", rtsp_server.url("clip"))
    client = login_client(app, app.test_client())
    assert client.post("/api/v1/cameras/door/start").status_code == 200
    seen = set()

    def named():
        status = client.get("/api/v1/cameras/door/status").get_json()
        seen.update(face["name"] for face in status["faces"])
        return "lin-manuel-miranda" in seen

    assert wait_for(named, timeout=90, interval=0.2), seen
    assert not seen & {"obama", "biden"}
    status = client.get("/api/v1/cameras/door/status").get_json()
    assert status["stream"]["kind"] == "rtsp" and status["stream"]["codec"] == "H.264"
    assert (status["stream"]["width"], status["stream"]["height"]) == (640, 360)

    def sighting():
        with app.app_context():
            return db.session.execute(
                db.select(Sighting).filter_by(camera="door", user_id=people["lin-manuel-miranda"])
            ).scalar()

    # Written when the track ends (the clip's scene cut) or while it lasts: within a loop.
    assert wait_for(sighting, timeout=60)
    service.stop()


def mjpeg_viewer(url: str, frames: list, stop: threading.Event):
    """Read an MJPEG stream in a thread, keeping (time, decoded frame) of every part."""
    with urllib.request.urlopen(url, timeout=30) as response:
        buffer = b""
        while not stop.is_set():
            buffer += response.read1(1 << 16)
            while True:
                start = buffer.find(b"\xff\xd8")
                end = buffer.find(b"\xff\xd9", start + 2)
                if start < 0 or end < 0:
                    break
                frames.append((time.monotonic(), decode(buffer[start : end + 2])))
                buffer = buffer[end + 2 :]


def server_counts(server: Gunicorn) -> tuple[int, int]:
    """Threads of the gunicorn worker, processes below the master."""
    worker = server.worker_pid()
    return len(os.listdir(f"/proc/{worker}/task")), len(descendants(server.process.pid))


@pytest.mark.timeout(600)
def test_does_a_killed_rtsp_server_show_unavailable_and_come_back_twenty_times_without_leaks(
    tmp_path, rtsp_server_10fps
):
    rtsp_server = rtsp_server_10fps  # the clip at 10 fps: reconnecting is the subject
    server = Gunicorn(
        tmp_path, threads=4, FACEREC_CAMERA=rtsp_server.url("sub"), FACEREC_PUBLIC_STREAM="1"
    )
    token = add_api_token(server.database_url)
    viewer_frames: list = []
    stop = threading.Event()
    viewer = None

    def status() -> dict:
        request = urllib.request.Request(
            server.url + "/api/v1/stream/status", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def live_frames_since(moment: float) -> bool:
        recent = [frame for at, frame in list(viewer_frames) if at > moment]
        return len(recent) >= 3 and not is_placeholder(recent[-1])

    try:
        viewer = threading.Thread(
            target=mjpeg_viewer,
            args=(server.url + "/stream.mjpg", viewer_frames, stop),
            daemon=True,
        )
        viewer.start()
        assert wait_for(lambda: status()["state"] == "running", timeout=60)
        assert wait_for(lambda: live_frames_since(0), timeout=30)
        # gunicorn starts its request threads as requests overlap, up to --threads: start them
        # all now, so that the counts below see only what reconnecting leaves behind.
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: status(), range(16)))

        counts = []
        for cycle in range(20):
            rtsp_server.kill()
            killed = time.monotonic()
            assert wait_for(lambda: status()["state"] == "unavailable", timeout=10)
            noticed = time.monotonic() - killed
            assert noticed < 5, f"cycle {cycle}: unavailable only after {noticed:.1f} s"
            reason = status()["error"]
            assert "refused the connection" in reason or "ended the stream" in reason, reason
            if cycle == 0:
                # Ten seconds down: the viewer keeps receiving the placeholder meanwhile.
                time.sleep(10 - noticed)
                outage = [frame for at, frame in list(viewer_frames) if at > killed + noticed]
                assert len(outage) >= 5 and is_placeholder(outage[-1])
                assert status()["state"] == "unavailable"
            rtsp_server.start()
            back = time.monotonic()
            assert wait_for(lambda since=back: live_frames_since(since), timeout=15)
            recovered = time.monotonic() - back
            assert recovered < 5, f"cycle {cycle}: frames again only after {recovered:.1f} s"
            assert status()["state"] == "running" and status()["error"] is None
            counts.append(server_counts(server))
        # Processes: exactly as many. Threads: the server starts some on demand and lets
        # them end when idle (the sightings writer), so one may come or go between two
        # samples; a leak per reconnect would add one a cycle, ten over the second half.
        threads, processes = zip(*counts, strict=True)
        assert set(processes) == {processes[0]}, counts
        assert max(threads[10:]) <= max(threads[:10]), counts
    finally:
        stop.set()
        server.stop()
        if viewer is not None:
            viewer.join(10)


def test_is_a_frozen_rtsp_server_detected_by_the_read_timeout_and_recovered(
    app_factory, rtsp_server_10fps
):
    rtsp_server = rtsp_server_10fps  # the clip at 10 fps: the stall is the subject
    app = app_factory(FACEREC_CAMERA_TIMEOUT=2.0)
    service = add_camera(app, "door", rtsp_server.url("sub"))
    service.start()
    try:
        assert wait_for(lambda: service.state == "running" and service.status()["fps"] > 0)
        rtsp_server.pause()  # SIGSTOP: every connection stays open, nothing more is sent
        paused = time.monotonic()
        assert wait_for(lambda: service.state == "unavailable", timeout=10)
        noticed = time.monotonic() - paused
        # The read waiting when the server froze gives up after the timeout (2 s).
        assert noticed < 2.0 + 1.0, f"stall noticed after {noticed:.1f} s"
        assert "stalled" in service.error and "2 s" in service.error
        # Reopening a frozen server: it accepts the connection but never answers.
        assert wait_for(lambda: "did not answer" in (service.error or ""), timeout=15)
        rtsp_server.resume()
        assert wait_for(lambda: service.state == "running" and service.error is None, timeout=15)
        since = service.status()["source_fps"]
        assert since > 0
    finally:
        service.stop()


def test_is_the_transport_stored_per_camera_and_a_bad_one_refused(app, runner, rtsp_server):
    result = runner.invoke(
        args=["cameras", "add", "yard", rtsp_server.url("sub"), "--transport", "udp"]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        row = db.session.execute(db.select(Camera).filter_by(name="yard")).scalar_one()
        assert row.transport == "udp"
    service = app.extensions["cameras"].get("yard")
    assert service.options.transport == "udp"
    service.start()
    try:
        assert wait_for(lambda: service.state == "running", timeout=30)
    finally:
        service.stop()

    result = runner.invoke(args=["cameras", "add", "porch", "rtsp://cam/x", "--transport", "http"])
    assert result.exit_code != 0 and "'http' is not one of 'tcp', 'udp'" in result.output
    client = login_client(app, app.test_client())
    response = client.post(
        "/admin/cameras", data={"name": "porch", "source": "rtsp://cam/x", "transport": "sctp"}
    )
    assert response.status_code == 400 and "Not a valid choice" in response.get_data(as_text=True)
    with pytest.raises(SourceError):
        open_source("rtsp://127.0.0.1:1/none", SourceOptions(timeout=1.0))
