"""A server that watches the test clip with nobody watching, while the suite runs.

Started when the session's tests are collected (only when a test marked ``at_the_end``
is among them: see conftest.py), so that the periods it must run without a viewer pass
while the rest of the suite runs, instead of being added to it. It runs at a lower
priority (nice 10), so the tests proper come first; its sightings are written to its own
database and its events posted to a local receiver. Once it has watched long enough, a
thread of the test process notes what it did and stops it, so it does not take CPU from
the rest of the suite for longer than it must.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from facerec import create_app
from facerec.events.webhooks import add_webhook
from facerec.extensions import db

from .conftest import CLIP, DATA, enroll
from .receivers import Receiver
from .servers import Gunicorn, add_api_token

# One loop of the test clip, in seconds (275 frames at 29.97 fps): Lin is seen once a loop.
LOOP = 275 / 29.97
# Watching must go on for this many loops after the first sighting, with nobody watching.
LOOPS = 2
# Seconds allowed for the server to start and see Lin the first time, and then for the
# loops to be watched: generous, since it runs at a low priority on a shared machine.
FIRST_SIGHTING = 120.0
WATCHING = 120.0


@dataclass
class Watched:
    """What the server did with nobody watching: when each sighting started (wall-clock
    seconds), the events it sent, its status at the end."""

    starts: list[float] = field(default_factory=list)
    bodies: list[dict] = field(default_factory=list)
    status: dict = field(default_factory=dict)
    output: str = ""


class UnwatchedServer:
    def __init__(self, folder: Path, server: Gunicorn, receiver: Receiver, token: str):
        self.folder = folder
        self.token = token
        self.server = server
        self.receiver = receiver
        self.database = folder / "server.db"
        self.watched = Watched()
        self._recorder = threading.Thread(target=self._record, daemon=True)
        self._recorder.start()

    @classmethod
    def start(cls) -> UnwatchedServer:
        folder = Path(tempfile.mkdtemp(prefix="facerec-unwatched-"))
        receiver = Receiver()
        server = Gunicorn(
            folder,
            threads=4,
            nice=10,
            FACEREC_CAMERA=str(CLIP),
            FACEREC_ALLOW_PRIVATE_TARGETS="1",
            FACEREC_ENGINE_WORKERS="1",
            FACEREC_RECOGNITION_WORKERS="1",
        )
        # The people and the webhook go in while it already runs: it sees them at once.
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": server.database_url,
                "SECRET_KEY": "x",
                "TESTING": True,
                "FACEREC_ALLOW_PRIVATE_TARGETS": "1",
            }
        )
        enroll(app, "lin-manuel-miranda", DATA / "known" / "lin-manuel-miranda.png")
        with app.app_context():
            add_webhook(receiver.url)
            db.session.commit()
            db.engine.dispose()
        return cls(folder, server, receiver, add_api_token(server.database_url))

    def sighting_starts(self) -> list[float]:
        with sqlite3.connect(self.database, timeout=10) as connection:
            rows = connection.execute("SELECT started_at FROM sightings").fetchall()
        return sorted(datetime.fromisoformat(row[0]).timestamp() for row in rows)

    def status(self) -> dict:
        """The camera's status, as the API gives it."""
        request = urllib.request.Request(
            self.server.url + "/api/v1/stream/status",
            headers={"Authorization": f"Bearer {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def _deliveries(self) -> list[dict]:
        return [json.loads(request["body"]) for request in list(self.receiver.requests)]

    def _enough(self) -> bool:
        """Sightings started over ``LOOPS`` loops, and their events sent (ended ones too)."""
        starts = self.sighting_starts()
        if len(starts) <= LOOPS or starts[-1] - starts[0] < LOOPS * LOOP:
            return False
        ended = {
            body["sighting"]["id"]
            for body in self._deliveries()
            if body["event"] == "sighting.ended"
        }
        return len(ended) >= LOOPS

    def _record(self):
        watched = self.watched
        try:
            deadline = time.monotonic() + FIRST_SIGHTING
            while not self.sighting_starts() and time.monotonic() < deadline:
                time.sleep(1)
            deadline = time.monotonic() + WATCHING
            while not self._enough() and time.monotonic() < deadline:
                time.sleep(1)
            watched.starts = self.sighting_starts()
            watched.status = self.status()
            watched.bodies = self._deliveries()
        finally:
            watched.output = self.server.output()[-2000:]
            self.server.stop()

    def result(self, timeout: float) -> Watched:
        """What it did, once it is done (waiting up to ``timeout`` seconds)."""
        self._recorder.join(timeout)
        return self.watched

    def stop(self):
        self._recorder.join(30)
        self.server.stop()
        self.receiver.close()
        shutil.rmtree(self.folder, ignore_errors=True)
