"""Camera sources from the web: administrators only, and only what a camera can be."""

from __future__ import annotations

import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from facerec.camera.sources import SourceError, open_source
from facerec.extensions import db
from facerec.models import Camera, Webhook

from .conftest import CLIP, create_account, login_client
from .receivers import Receiver

# On SQLite alone (see conftest.py): the rules are about what a source names.
pytestmark = pytest.mark.sqlite_only


class ImageServer:
    """An HTTP server on loopback: /img.jpg is a picture, /moved redirects to ``location``."""

    def __init__(self):
        self.requests: list[str] = []
        self.location = "/img.jpg"
        server = self
        jpeg = cv2.imencode(".jpg", np.full((90, 160, 3), 200, np.uint8))[1].tobytes()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                if self.path.startswith("/moved"):
                    self.send_response(307)
                    self.send_header("Location", server.location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(jpeg)))
                self.end_headers()
                self.wfile.write(jpeg)

            def log_message(self, *_args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def image_server():
    server = ImageServer()
    yield server
    server.close()


def cameras(app) -> list[str]:
    with app.app_context():
        return list(db.session.execute(select(Camera.name)).scalars())


def without_csrf_token(page: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token"', page)


def try_source(client, source: str, action: str = "test") -> tuple[int, str]:
    response = client.post(
        "/admin/cameras", data={"name": "probe", "source": source, "action": action}
    )
    return response.status_code, response.get_data(as_text=True)


# ---- administrators only ------------------------------------------------------------------


def test_may_only_an_administrator_add_change_or_test_cameras_and_webhooks(app):
    admin = login_client(app, app.test_client(), "admin")
    create_account(app, "clerk", role="operator")
    clerk = login_client(app, app.test_client(), "clerk")
    assert admin.post("/admin/cameras", data={"name": "door", "source": "0"}).status_code == 303
    assert admin.post("/admin/webhooks", data={"url": "https://hooks.example.net/a"}).status_code
    with app.app_context():
        cam_id = db.session.execute(select(Camera.id)).scalar()
        hook_id = db.session.execute(select(Webhook.id)).scalar()
    attempts = [
        ("GET", "/admin/cameras", None),
        ("POST", "/admin/cameras", {"name": "x", "source": "/etc/passwd", "action": "test"}),
        ("POST", "/admin/cameras", {"name": "x", "source": "0"}),
        ("GET", f"/admin/cameras/{cam_id}", None),
        ("POST", f"/admin/cameras/{cam_id}", {"name": "door", "source": "1"}),
        ("POST", f"/admin/cameras/{cam_id}/test", None),
        ("POST", f"/admin/cameras/{cam_id}/toggle", None),
        ("POST", f"/admin/cameras/{cam_id}/delete", None),
        ("GET", "/admin/webhooks", None),
        ("POST", "/admin/webhooks", {"url": "https://hooks.example.net/b"}),
        ("POST", f"/admin/webhooks/{hook_id}/test", None),
        ("POST", f"/admin/webhooks/{hook_id}/toggle", None),
        ("POST", f"/admin/webhooks/{hook_id}/delete", None),
    ]
    for method, url, data in attempts:
        response = clerk.open(url, method=method, data=data)
        assert response.status_code == 403, (method, url)
        assert "This needs the admin role" in response.get_data(as_text=True)
    assert cameras(app) == ["door"]
    with app.app_context():
        hooks = db.session.execute(select(Webhook)).scalars().all()
        assert [(h.url, h.enabled) for h in hooks] == [("https://hooks.example.net/a", True)]
    assert admin.get("/admin/cameras").status_code == 200
    assert admin.get("/admin/webhooks").status_code == 200


# ---- what a source may be -----------------------------------------------------------------


def test_is_a_path_outside_the_media_folders_refused_without_saying_whether_it_exists(
    app, data_dir, tmp_path
):
    client = login_client(app, app.test_client())
    answers = {"test": set(), "save": set()}
    for path in ("/etc/passwd", "/no/such/file.mp4", str(data_dir / "known" / "obama.jpg")):
        for action in answers:
            status, page = try_source(client, path, action)
            assert status in (200, 400)
            assert "test-snapshot" not in page
            assert "Video files can be used only from a media folder" in page
            answers[action].add((status, without_csrf_token(page.replace(path, "PATH"))))
    # Word for word the same answer whatever the path: it does not tell what exists. (The
    # CSRF tokens are set aside: they carry the second they were signed in.)
    assert all(len(pages) == 1 for pages in answers.values())
    assert cameras(app) == []


def test_is_a_video_in_a_media_folder_accepted_and_a_link_out_of_it_refused(
    app_factory, tmp_path, data_dir
):
    media = tmp_path / "media"
    media.mkdir()
    (media / "clip.mp4").write_bytes(CLIP.read_bytes())
    (media / "escape.jpg").symlink_to(data_dir / "known" / "obama.jpg")
    app = app_factory(FACEREC_MEDIA_DIRS=f"{tmp_path / 'nothing'}:{media}")
    client = login_client(app, app.test_client())
    status, page = try_source(client, "clip.mp4")
    assert status == 200 and "test-snapshot" in page and "640 x 360" in page
    status, _page = try_source(client, str(media / "clip.mp4"), "save")
    assert status == 303
    with app.app_context():
        assert db.session.execute(select(Camera.source)).scalar() == str(media / "clip.mp4")
    status, page = try_source(client, str(media / "escape.jpg"))
    assert "Video files can be used only from the media folders" in page
    status, page = try_source(client, str(media / "gone.mp4"))
    assert "There is no such video file in the media folders." in page


def test_is_the_file_facerec_camera_names_allowed_without_a_media_folder(app_factory):
    app = app_factory(FACEREC_CAMERA=str(CLIP))
    client = login_client(app, app.test_client())
    status, page = try_source(client, str(CLIP))
    assert status == 200 and "test-snapshot" in page


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("tcp://127.0.0.1:{port}?listen=1", "tcp: sources cannot be used from the web"),
        ("udp://127.0.0.1:{port}", "udp: sources cannot be used from the web"),
        ("rtmp://127.0.0.1:{port}/live", "rtmp: sources cannot be used from the web"),
        ("concat:/etc/passwd|/etc/hosts", "concat: sources cannot be used from the web"),
        ("file:///etc/passwd", "file: sources cannot be used from the web"),
        ("subfile,,start,0,end,100,,:/etc/passwd", "Video files can be used only from"),
        ("http://127.0.0.1:{port}/img.jpg", "127.0.0.1 is a loopback address"),
        ("http://2130706433:{port}/img.jpg", "is a loopback address"),
        ("rtsp://[::1]:{port}/stream", "::1 is a loopback address"),
        ("http://0.0.0.0:{port}/img.jpg", "is an unspecified address"),
        ("http://169.254.169.254/latest/meta-data/", "is a link-local address"),
        ("http://localhost:{port}/img.jpg", "is a loopback address"),
    ],
)
def test_is_a_loopback_url_or_an_ffmpeg_protocol_refused(app, source, message):
    client = login_client(app, app.test_client())
    with socket.socket() as sock:  # a port something could be made to listen on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    source = source.format(port=port)
    for action in ("test", "save"):
        status, page = try_source(client, source, action)
        assert status in (200, 400)
        assert message in page.replace("&#39;", "'")
        assert "test-snapshot" not in page
    assert cameras(app) == []
    # Nothing was made to listen on the port (tcp://...?listen=1 once did, for 10 s).
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", port))


def test_does_a_loopback_camera_answer_only_when_the_administrator_allows_it(
    app, app_factory, image_server
):
    client = login_client(app, app.test_client())
    status, page = try_source(client, image_server.url + "/img.jpg")
    assert "is a loopback address" in page and image_server.requests == []

    allowed = app_factory(FACEREC_ALLOW_PRIVATE_TARGETS="1")
    client = login_client(allowed, allowed.test_client())
    status, page = try_source(client, image_server.url + "/img.jpg")
    assert status == 200 and "Reachable (HTTP 200)" in page and "test-snapshot" in page


def test_is_a_camera_redirect_never_followed(app_factory, image_server):
    target = ImageServer()
    try:
        image_server.location = target.url + "/img.jpg"
        app = app_factory(FACEREC_ALLOW_PRIVATE_TARGETS="1")
        client = login_client(app, app.test_client())
        _status, page = try_source(client, image_server.url + "/moved")
        assert "it answered HTTP 307: a redirect, which cameras do not follow" in page
        assert "test-snapshot" not in page
        # FFmpeg itself does not follow one either: a camera added on the command line.
        with pytest.raises(SourceError):
            open_source(image_server.url + "/moved").release()
        assert target.requests == []
        assert image_server.requests.count("/moved") == 2
    finally:
        target.close()


def test_does_a_dead_camera_say_not_reachable_and_nothing_else(app_factory):
    app = app_factory(FACEREC_ALLOW_PRIVATE_TARGETS="1")
    client = login_client(app, app.test_client())
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    for source in (f"http://127.0.0.1:{port}/video.mjpg", f"rtsp://127.0.0.1:{port}/stream"):
        _status, page = try_source(client, source)
        assert "The camera could not be opened: not reachable." in page
        assert "refused" not in page.lower() and "errno" not in page.lower()


def test_is_a_camera_on_the_local_network_accepted(app):
    client = login_client(app, app.test_client())
    # Saved disabled, never opened: the address is only an example of a LAN camera.
    response = client.post(
        "/admin/cameras", data={"name": "yard", "source": "rtsp://192.168.1.20:554/stream1"}
    )
    assert response.status_code == 303
    with app.app_context():
        row = db.session.execute(select(Camera)).scalar_one()
        assert (row.source, row.enabled) == ("rtsp://192.168.1.20:554/stream1", False)


def test_may_the_command_line_name_any_file(app, runner):
    result = runner.invoke(args=["cameras", "add", "local", "/etc/hostname", "--disabled"])
    assert result.exit_code == 0, result.output
    assert cameras(app) == ["local"]


def test_is_a_loopback_webhook_receiver_never_sent_the_test_from_the_page(app):
    receiver = Receiver()
    try:
        client = login_client(app, app.test_client())
        response = client.post("/admin/webhooks", data={"url": receiver.url})
        assert response.status_code == 400
        assert "is a loopback address" in response.get_data(as_text=True)
        assert receiver.requests == []
    finally:
        receiver.close()
