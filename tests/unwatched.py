"""A server that watches the test clip for the whole test session, with nobody watching.

Started when the session's tests are collected (only when a test marked ``at_the_end``
is among them: see conftest.py), so that the minutes it must run without a viewer pass
while the rest of the suite runs, instead of being added to it. It runs at a lower
priority (nice 10), so the tests proper come first; its sightings are written to its own
database and its events posted to a local receiver.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import urllib.request
from pathlib import Path

from facerec import create_app
from facerec.events.webhooks import add_webhook
from facerec.extensions import db

from .conftest import CLIP, DATA, enroll
from .receivers import Receiver
from .servers import Gunicorn, add_api_token


class UnwatchedServer:
    def __init__(self, folder: Path, server: Gunicorn, receiver: Receiver, token: str):
        self.folder = folder
        self.token = token
        self.server = server
        self.receiver = receiver
        self.started = time.monotonic()
        self.database = folder / "server.db"

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

    def status(self) -> dict:
        """The camera's status, as the API gives it."""
        request = urllib.request.Request(
            self.server.url + "/api/v1/stream/status",
            headers={"Authorization": f"Bearer {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def stop(self):
        self.server.stop()
        self.receiver.close()
        shutil.rmtree(self.folder, ignore_errors=True)
