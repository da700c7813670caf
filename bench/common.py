"""What the benchmarks share: the test data, a prepared database, gunicorn as `make run` runs it."""

from __future__ import annotations

import json
import os
import secrets
import selectors
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = Path(os.environ.get("FACEREC_TEST_DATA") or ROOT.parent / "shared" / "faces").resolve()
CLIP = DATA / "short_hamilton_clip.mp4"
CLIP_FPS = 29.97
BOUNDARY = b"--frame\r\n"


def database_url(database: Path | str) -> str:
    """A SQLite file's path, or already a database URL (``postgresql+psycopg://...``)."""
    return database if isinstance(database, str) else f"sqlite:///{database}"


def bench_app(database: Path | str, **config):
    """The app in this process on ``database`` (a SQLite file or a database URL)."""
    from facerec import create_app

    return create_app(
        {"SQLALCHEMY_DATABASE_URI": database_url(database), "SECRET_KEY": "bench", **config}
    )


def clip_app(database: Path | str):
    """The app in this process with the test clip as its camera, which never goes idle."""
    return bench_app(database, FACEREC_CAMERA=str(CLIP), FACEREC_IDLE_TIMEOUT=0)


def prepare_database(database: Path | str, people: bool = True) -> str:
    """The people of known/ (named after their files) and an API token; returns the token.

    ``database`` is a SQLite file or a database URL; ``people=False`` leaves nobody enrolled.
    """
    from facerec import faces
    from facerec.extensions import db
    from facerec.models import ApiToken, FaceSample, User

    app = bench_app(database)
    token = "bench_" + secrets.token_urlsafe(24)
    try:
        with app.app_context():
            db.create_all()
            for photo in sorted((DATA / "known").iterdir()) if people else ():
                sample = faces.sample_from_image(photo)
                row = FaceSample(thumbnail=sample.thumbnail, source="bench")
                row.vector = sample.encoding
                db.session.add(User(name=photo.stem, details="", samples=[row]))
            db.session.add(
                ApiToken(name="bench", token_hash=ApiToken.hash(token), prefix=token[:8])
            )
            db.session.commit()
            db.engine.dispose()
    finally:
        app.extensions["cameras"].close()
    return token


def percentile(values, q):
    """The ``q``-th percentile of ``values`` (nearest rank), rounded to 0.1; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return round(ordered[index], 1)


def set_enabled(database: Path, table: str, enabled: bool):
    """Enable or disable every row of ``table`` (webhooks, notification_targets) in the
    SQLite file ``database``, behind the running server's back (it reads them per event)."""
    import sqlite3

    with sqlite3.connect(database) as conn:
        conn.execute(f"UPDATE {table} SET enabled = ?", (1 if enabled else 0,))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    database: Path | str, port: int, threads: int = 100, log: str | None = None, camera=CLIP
):
    """gunicorn as `make run` starts it (one gthread worker), the clip as the camera.

    The stream is public so that viewers need no session; the API takes the bearer token.
    ``database`` is a SQLite file or a database URL; ``camera=""`` runs without a camera.
    """
    env = dict(
        os.environ,
        DATABASE_URL=database_url(database),
        FACEREC_CAMERA=str(camera),
        FACEREC_PUBLIC_STREAM="1",
        FACEREC_IDLE_TIMEOUT="0",
        SECRET_KEY=secrets.token_hex(16),
    )
    gunicorn = Path(sys.executable).parent / "gunicorn"
    cmd = [str(gunicorn), "-c", "python:facerec.gunicorn_conf", "--worker-class", "gthread",
           "--workers", "1", "--threads", str(threads), "--bind", f"127.0.0.1:{port}",
           "wsgi:app"]  # fmt: skip
    with open(log or os.devnull, "wb") as out:
        server = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=out)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("gunicorn did not start")


def api(port: int, token: str, path: str, method: str = "GET") -> dict:
    """The JSON answer of ``/api/v1/<path>`` on the server at ``port``."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/{path}",
        method=method,
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def start_recognition(port: int, token: str, timeout: float = 60):
    """Start the first camera and wait until it has recognised a frame."""
    api(port, token, "stream/start", "POST")
    deadline = time.monotonic() + timeout
    while api(port, token, "stream/status")["recognition_hz"] == 0:
        if time.monotonic() > deadline:
            raise RuntimeError("recognition did not start")
        time.sleep(0.5)


def open_stream(port: int, path: str = "/stream.mjpg") -> socket.socket:
    """A connection that has asked for the MJPEG stream at ``path`` (nothing read yet)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
    return sock


def count_frames(port: int, paths: list[str], seconds: float, sample=lambda: None):
    """One viewer per path reads its stream; returns each one's frames/s and the samples.

    The viewers get two seconds to connect and start streaming, then their frames are
    counted for ``seconds`` whole seconds, with ``sample()`` called after each one.
    """
    selector = selectors.DefaultSelector()
    viewers = []
    for path in paths:
        sock = open_stream(port, path)
        sock.setblocking(False)
        state = {"frames": 0, "tail": b"", "counting": False}
        selector.register(sock, selectors.EVENT_READ, state)
        viewers.append((sock, state))

    def pump(until):
        while time.monotonic() < until:
            for key, _ in selector.select(timeout=0.2):
                try:
                    chunk = key.fileobj.recv(1 << 18)
                except BlockingIOError:
                    continue
                data = key.data
                # The tail is shorter than a boundary, so no boundary is counted twice.
                joined = data["tail"] + chunk
                if data["counting"]:
                    data["frames"] += joined.count(BOUNDARY)
                data["tail"] = joined[-(len(BOUNDARY) - 1) :]

    try:
        pump(time.monotonic() + 2.0)
        for _, state in viewers:
            state["counting"] = True
        samples = []
        start = time.monotonic()
        for _ in range(int(seconds)):
            pump(time.monotonic() + 1.0)
            samples.append(sample())
        elapsed = time.monotonic() - start
    finally:
        for sock, _ in viewers:
            selector.unregister(sock)
            sock.close()
    return [state["frames"] / elapsed for _, state in viewers], samples


def watch_stream(port: int, token: str, count: int, seconds: float) -> dict:
    """``count`` viewers of the first camera's stream: frames/s as a ratio of the source's."""
    fps, hz = count_frames(
        port,
        ["/stream.mjpg"] * count,
        seconds,
        lambda: api(port, token, "stream/status")["recognition_hz"],
    )
    source_fps = api(port, token, "stream/status")["source_fps"]
    return {
        "viewers": count,
        "source_fps": source_fps,
        "fps_per_viewer_min": round(min(fps), 2),
        "fps_per_viewer_mean": round(statistics.mean(fps), 2),
        "ratio_min": round(min(fps) / source_fps, 3),
        "ratio_mean": round(statistics.mean(fps) / source_fps, 3),
        "recognition_hz_median": round(statistics.median(hz), 2),
    }
