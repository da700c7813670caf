"""Camera URLs: credentials hidden wherever they are, bad URLs, network camera reconnects."""

import logging
import socket
import time

import pytest

from facerec.camera.sources import SourceError, check_url, describe, redact

from .conftest import login_client
from .servers import wait_for
from .test_stream import Link

# On SQLite alone (see conftest.py): IP cameras over the network; the database is incidental.
pytestmark = pytest.mark.sqlite_only


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    "url, shown",
    [
        ("rtsp://admin:hunter2@cam:554/live", "rtsp://admin:***@cam:554/live"),
        (
            "http://cam/user=admin&password=hunter2/video.cgi",
            "http://cam/user=***&password=***/video.cgi",
        ),
        ("http://cam/live;user=admin;pwd=hunter2", "http://cam/live;user=***;pwd=***"),
        ("https://cam/snap.jpg?token=hunter2&ch=1", "https://cam/snap.jpg?token=***&ch=***"),
        ("http://admin:hunter2@cam:99999/x", "http://admin:***@cam:99999/x"),
        ("http://cam/stream#hunter2", "http://cam/stream#***"),
        ("/videos/door.mp4", "/videos/door.mp4"),
    ],
)
def test_does_describe_hide_every_credential_of_a_camera_url(url, shown):
    assert describe(url) == shown
    if "hunter2" in url:
        assert "hunter2" not in redact(f"could not open {url} (hunter2)", url)


@pytest.mark.parametrize("url", ["http://cam:99999/video", "http://cam:abc/video", "http://[::1/x"])
def test_is_an_unparseable_camera_url_a_clear_configuration_error(url):
    with pytest.raises(SourceError, match=r"is not valid.*FACEREC_CAMERA"):
        check_url(url)


def test_does_a_dvr_style_password_appear_in_no_response_or_log(app_factory, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    port = closed_port()
    url = f"http://127.0.0.1:{port}/user=admin&password=Sup3rS3cret/video.cgi?ch=1"
    app = app_factory(FACEREC_CAMERA=url, FACEREC_PUBLIC_STREAM=True)
    cam = app.extensions["cameras"].first()
    cam.start()
    try:
        assert wait_for(lambda: cam.state == "unavailable" and cam.attempts >= 2, timeout=30)
        anonymous = app.test_client()
        operator = login_client(app, app.test_client())
        responses = [
            anonymous.get("/"),
            anonymous.get("/api/v1/stream/status"),
            operator.get("/"),
            operator.get("/api/v1/stream/status"),
        ]
        for response in responses:
            assert response.status_code == 200
            assert "Sup3rS3cret" not in response.get_data(as_text=True)
        status = responses[-1].get_json()
        assert status["source"] == f"http://127.0.0.1:{port}/user=***&password=***/video.cgi?ch=***"
        assert status["error"] and status["attempts"] >= 2
    finally:
        cam.stop()
    assert "Sup3rS3cret" not in caplog.text
    out, err = capfd.readouterr()
    assert "Sup3rS3cret" not in out + err


def test_does_a_camera_url_with_a_bad_port_show_an_error_instead_of_a_500(app_factory):
    app = app_factory(FACEREC_CAMERA="http://admin:hunter2@cam.example:99999/stream")
    client = login_client(app, app.test_client())
    assert client.get("/").status_code == 200
    cam = app.extensions["cameras"].first()
    cam.start()
    try:
        assert wait_for(lambda: cam.state == "unavailable", timeout=10)
        status = client.get("/api/v1/stream/status")
        assert status.status_code == 200
        error = status.get_json()["error"]
        assert "port must be a number from 1 to 65535" in error and "hunter2" not in error
        page = client.get("/")
        assert page.status_code == 200 and "hunter2" not in page.get_data(as_text=True)
    finally:
        cam.stop()


def test_is_a_url_camera_that_comes_back_picked_up_within_seconds(app_factory, serve, clip_10fps):
    # Another server (its own camera name): two servers never run one camera (lease). It
    # plays the clip's scenes at 10 fps, and only once it is needed: what is tested is the
    # reconnecting camera, not the upstream's frame rate.
    upstream = app_factory(
        FACEREC_CAMERA=str(clip_10fps), FACEREC_PUBLIC_STREAM=True, FACEREC_SERVER="upstream"
    )
    upstream_cam = upstream.extensions["cameras"].first()
    server = serve(upstream)
    port = closed_port()
    app = app_factory(FACEREC_CAMERA=f"http://127.0.0.1:{port}/stream.mjpg")
    cam = app.extensions["cameras"].first()
    cam.start()
    link = None
    try:
        # Down for 16 s: long enough for a doubling pause to have grown past 10 s.
        time.sleep(16)
        assert cam.state == "unavailable"
        assert cam.status()["attempts"] >= 6
        upstream_cam.start()
        assert wait_for(lambda: upstream_cam.state == "running", timeout=30)
        link = Link(server.server.server_port, port)  # the camera is back
        back = time.monotonic()
        assert wait_for(lambda: cam.state == "running", timeout=30)
        assert time.monotonic() - back < 6
        assert cam.status()["attempts"] == 0
    finally:
        cam.stop()
        upstream_cam.stop()
        if link is not None:
            link.cut()
