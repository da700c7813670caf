"""The documented nginx configuration (docs/serving/nginx.md), run in Debian's nginx in front
of a real gunicorn."""

import contextlib
import http.client
import re
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import pytest

from .conftest import CLIP, ROOT, TEST_PASSWORD
from .servers import Gunicorn, free_port, response_head, timed_get, wait_for

NGINX = "/usr/sbin/nginx"


def documented_nginx_block() -> str:
    """The ```nginx block of the documentation's nginx page, as a user copies it."""
    text = (ROOT / "docs" / "serving" / "nginx.md").read_text()
    blocks = re.findall(r"```nginx\n(.*?)```", text, re.S)
    assert len(blocks) == 1, "docs/serving/nginx.md should hold one nginx configuration"
    return blocks[0]


class Nginx:
    def __init__(self, tmp_path, upstream_port: int):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        site = documented_nginx_block()
        assert "listen 80;" in site and "server 127.0.0.1:8000;" in site
        site = site.replace("listen 80;", f"listen 127.0.0.1:{self.port};")
        site = site.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};")
        prefix = tmp_path / "nginx"
        prefix.mkdir()
        temp = "".join(
            f"{kind}_temp_path {prefix / kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        # What Debian's /etc/nginx/nginx.conf provides around a site, reduced to a test's needs.
        (prefix / "nginx.conf").write_text(
            f"daemon off;\nworker_processes 1;\npid {prefix / 'nginx.pid'};\n"
            f"error_log {prefix / 'error.log'} info;\n"
            "events { worker_connections 1024; }\n"
            f"http {{\naccess_log off;\n{temp}{site}\n}}\n"
        )
        self.process = subprocess.Popen(
            [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        assert wait_for(self._listening, timeout=10), (prefix / "error.log").read_text()

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def stop(self):
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture
def proxied(tmp_path):
    """facerec under gunicorn (8 threads) behind the documented nginx."""
    server = Gunicorn(
        tmp_path,
        threads=8,
        FACEREC_CAMERA=str(CLIP),
        FACEREC_PUBLIC_STREAM="1",
        FACEREC_TRUSTED_PROXIES="1",
    )
    proxy = Nginx(tmp_path, server.port)
    yield server, proxy
    proxy.stop()
    server.stop()


def test_does_login_answer_through_nginx_with_110_slow_header_sockets_open(proxied):
    _server, proxy = proxied
    sockets = [socket.create_connection(("127.0.0.1", proxy.port)) for _ in range(110)]
    stop = threading.Event()

    def drip():  # request headers, one byte a second on every socket
        request = b"GET /login HTTP/1.1\r\nHost: facerec\r\nX-Padding: " + b"a" * 500
        position = 0
        while not stop.is_set():
            for sock in sockets:
                with contextlib.suppress(OSError):
                    sock.send(request[position : position + 1])
            position += 1
            stop.wait(1)

    threading.Thread(target=drip, daemon=True).start()
    try:
        time.sleep(3)  # gunicorn's 8 threads would all be held by now without the proxy
        # nginx holds the slow requests until they are whole: the sign-in page answers
        # (gunicorn's threads, held by them, would leave it unanswered: urlopen times out).
        for _ in range(3):
            status, _seconds = timed_get(proxy.url + "/login")
            assert status == 200, status
    finally:
        stop.set()
        for sock in sockets:
            sock.close()


def test_does_the_stream_pass_through_nginx_unbuffered(proxied):
    _server, proxy = proxied
    sock = socket.create_connection(("127.0.0.1", proxy.port))
    try:
        sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: facerec\r\n\r\n")
        head = response_head(sock, timeout=30)
        assert head.startswith("HTTP/1.1 200") and "multipart/x-mixed-replace" in head
        # Frames keep arriving one by one (a buffering proxy would hold them back).
        sock.settimeout(10)
        received, started = b"", time.monotonic()
        while received.count(b"Content-Type: image/jpeg") < 10:
            chunk = sock.recv(65536)
            assert chunk, "the stream ended"
            received += chunk
        assert time.monotonic() - started < 10
    finally:
        sock.close()


def test_does_the_sign_in_throttle_see_each_client_behind_nginx(proxied):
    server, proxy = proxied
    from facerec import create_app
    from facerec.extensions import db
    from facerec.models import Account

    app = create_app({"SQLALCHEMY_DATABASE_URI": server.database_url, "SECRET_KEY": "x"})
    with app.app_context():
        account = Account(username="tester")
        account.set_password(TEST_PASSWORD)
        db.session.add(account)
        db.session.commit()
        db.engine.dispose()

    def sign_in(password, source="127.0.0.1", forwarded_for=None):
        """A browser at ``source`` (any 127.x address is this machine): the sign-in page for
        its session and CSRF token, then the POST. Returns the POST's status."""
        connection = http.client.HTTPConnection(
            "127.0.0.1", proxy.port, timeout=10, source_address=(source, 0)
        )
        try:
            connection.request("GET", "/login")
            page = connection.getresponse()
            cookie = page.getheader("Set-Cookie").split(";", 1)[0]
            html = page.read().decode()
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
            form = urllib.parse.urlencode(
                {"csrf_token": token, "username": "tester", "password": password}
            )
            headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
            if forwarded_for:
                headers["X-Forwarded-For"] = forwarded_for
            connection.request("POST", "/login", body=form, headers=headers)
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()

    # One client guessing, making up a new X-Forwarded-For for every guess: nginx appends the
    # address it sees, and only that entry is trusted, so it stays one client.
    for number in range(5):
        assert sign_in("wrong-password", "127.0.0.7", f"10.0.0.{number}") == 200
    assert sign_in(TEST_PASSWORD, "127.0.0.7", "10.0.0.99") == 429
    # Another client of the same nginx is another address: the right password works.
    assert sign_in(TEST_PASSWORD, "127.0.0.8") == 302


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
