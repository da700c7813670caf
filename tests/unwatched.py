"""A server that watches the test clip with nobody watching (tests/test_unwatched.py).

gunicorn serves facerec with ``camera`` (the clip, or a copy of it at a lower frame rate) as
its camera; Lin is enrolled and a webhook posts every event to a local receiver, both added
while the server already runs (it sees them at once). Nothing ever opens its stream: its
sightings are read from its own database, its events from the receiver, its status through
the API.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.request
from pathlib import Path

from facerec import create_app
from facerec.events.webhooks import add_webhook
from facerec.extensions import db

from .conftest import DATA, enroll
from .receivers import Receiver
from .servers import Gunicorn, add_api_token


class UnwatchedServer:
    def __init__(self, folder: Path, camera: Path):
        self.receiver = Receiver()
        self.server = Gunicorn(
            folder,
            threads=4,
            FACEREC_CAMERA=str(camera),
            FACEREC_ALLOW_PRIVATE_TARGETS="1",
            FACEREC_ENGINE_WORKERS="1",
            FACEREC_RECOGNITION_WORKERS="1",
        )
        self.database = folder / "server.db"
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": self.server.database_url,
                "SECRET_KEY": "x",
                "TESTING": True,
                "FACEREC_ALLOW_PRIVATE_TARGETS": "1",
            }
        )
        enroll(app, "lin-manuel-miranda", DATA / "known" / "lin-manuel-miranda.png")
        with app.app_context():
            add_webhook(self.receiver.url)
            db.session.commit()
            db.engine.dispose()
        self.token = add_api_token(self.server.database_url)

    def sightings(self) -> int:
        """How many sightings its database holds."""
        with sqlite3.connect(self.database, timeout=10) as connection:
            return connection.execute("SELECT count(*) FROM sightings").fetchone()[0]

    def events(self) -> list[str]:
        """The events posted to the receiver so far, in order (``sighting.started``...)."""
        return [json.loads(request["body"])["event"] for request in list(self.receiver.requests)]

    def status(self) -> dict:
        """The camera's status, as the API gives it."""
        request = urllib.request.Request(
            self.server.url + "/api/v1/stream/status",
            headers={"Authorization": f"Bearer {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def output(self) -> str:
        return self.server.output()[-3000:]

    def stop(self):
        self.server.stop()
        self.receiver.close()
