"""What the benchmarks share: the test data, a prepared database, gunicorn as `make run` runs it."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
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


def prepare_database(database: Path | str, people: bool = True) -> str:
    """The people of known/ (named after their files) and an API token; returns the token.

    ``database`` is a SQLite file or a database URL; ``people=False`` leaves nobody enrolled.
    """
    from facerec import create_app, faces
    from facerec.extensions import db
    from facerec.models import ApiToken, FaceSample, User

    url = database_url(database)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
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
    cmd = [str(gunicorn), "--worker-class", "gthread", "--workers", "1",
           "--threads", str(threads), "--bind", f"127.0.0.1:{port}", "wsgi:app"]  # fmt: skip
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
