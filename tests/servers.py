"""Real servers for tests: facerec under gunicorn (the way `make run` serves it), nginx."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from facerec import create_app
from facerec.extensions import db

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_database(path: Path) -> str:
    """A SQLite database with the schema, for a server started in another process."""
    uri = f"sqlite:///{path}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "x", "TESTING": True})
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    return uri


class Gunicorn:
    """``gunicorn --worker-class gthread --workers 1`` serving facerec on a free port."""

    def __init__(self, tmp_path: Path, threads: int = 8, nice: int = 0, **env: str):
        """``nice``: run it at a lower priority (a server kept for the whole session, say)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / "gunicorn.log"
        self.database_url = prepare_database(tmp_path / "server.db")
        environment = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "SECRET_KEY": "gunicorn-test-secret-key",
            "FACEREC_AUTOSTART": "1",
            "FACEREC_ENGINE_WORKERS": "1",
            **{key: str(value) for key, value in env.items()},
        }
        self.log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "-c",
                "python:facerec.gunicorn_conf",  # as `make run`: the worker ends with the master
                "--worker-class",
                "gthread",
                "--workers",
                "1",
                "--threads",
                str(threads),
                "--graceful-timeout",
                "5",
                "--bind",
                f"127.0.0.1:{self.port}",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=environment,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=(lambda: os.nice(nice)) if nice else None,
        )
        self.wait_until_up()

    def wait_until_up(self, timeout: float = 60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log_path.read_text()}")
            try:
                urllib.request.urlopen(self.url + "/healthz-probe", timeout=2)
            except urllib.error.HTTPError:
                return  # it answered (404 is an answer)
            except OSError:
                time.sleep(0.2)
            else:
                return
        raise RuntimeError(f"gunicorn did not answer:\n{self.log_path.read_text()}")

    def worker_pid(self) -> int:
        """The pid of the (single) worker process, from the master's children."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        pids = [int(pid) for pid in children.read_text().split()]
        assert len(pids) == 1, pids
        return pids[0]

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self.log.close()


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid``."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                found.append(child)
                todo.append(child)
    return found


def process_info(pid: int) -> dict | None:
    """``{"pid", "ppid", "state", "cmdline"}`` of a live process, or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return {"pid": pid, "state": fields[0], "ppid": int(fields[1]), "cmdline": cmdline}


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1):
    """``predicate()``'s first true value within ``timeout`` seconds, else its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(interval)
    return predicate()


def timed_get(url: str) -> tuple[int, float]:
    """The HTTP status of a GET of ``url`` and the seconds it took to answer in full."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            response.read()
            return response.status, time.monotonic() - started
    except urllib.error.HTTPError as exc:
        return exc.code, time.monotonic() - started


def response_head(sock: socket.socket, timeout: float = 5.0) -> str:
    """The status line and headers of the response arriving on ``sock``."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(1024)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n\r\n", 1)[0].decode(errors="replace")


def status_line(sock: socket.socket, timeout: float = 5.0) -> str:
    return response_head(sock, timeout).split("\r\n", 1)[0]


def add_api_token(uri: str, token: str = "frec_server-test-token-0000000000") -> str:
    """Store an API token (belonging to no account) in the database at ``uri``."""
    from facerec.models import ApiToken

    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "x", "TESTING": True})
    with app.app_context():
        db.session.add(ApiToken(name="test", token_hash=ApiToken.hash(token), prefix=token[:8]))
        db.session.commit()
        db.engine.dispose()
    return token


def post_photo(url: str, token: str, photo: bytes, timeout: float = 120) -> int:
    """POST ``photo`` as the multipart field ``image`` with a bearer token; the answer's
    status (an error status too). A connection that gives no answer raises OSError."""
    boundary = "----facerec-photo"
    body = (
        (
            f"--{boundary}\r\nContent-Disposition: form-data; name=image; filename=x.jpg\r\n"
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + photo
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        url,
        data=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
