"""Nothing lost in an outage: sightings the database could not take are kept and written
when it is back (tested with a real PostgreSQL server stopped while the clip plays)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import create_engine, select

from facerec import shutdown
from facerec.extensions import db
from facerec.models import Sighting

from .conftest import enroll, make_app
from .servers import wait_for

OUTAGE = 20.0  # seconds, as the hardening pass stopped it


def when(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def test_is_every_sighting_of_a_postgresql_outage_written_when_it_is_back(
    tmp_path, data_dir, clip_10fps
):
    from .pgserver import PostgresServer

    server = PostgresServer().start()
    app = None
    try:
        server.create_database("outage")
        url = server.url("outage")
        engine = create_engine(url)
        db.metadata.create_all(engine)
        engine.dispose()
        # The clip at 10 fps: its sightings are the subject, not its frame rate.
        app = make_app(tmp_path, url, FACEREC_CAMERA=str(clip_10fps), FACEREC_METRICS_PUBLIC=True)
        for photo in sorted((data_dir / "known").iterdir()):
            enroll(app, photo.stem, photo)
        writer = app.extensions["sightings"]
        started: list[float] = []  # every track the camera started, when
        cam = app.extensions["cameras"].first()
        cam.listeners.append(
            lambda info: started.extend(e.track.started for e in info.events if e.kind == "started")
        )
        cam.start()
        assert wait_for(lambda: writer.written > 0, timeout=90), "no sighting before the outage"

        server.halt()
        down = time.time()
        pending = 0
        while time.time() - down < OUTAGE:  # the clip plays on, its sightings are kept
            pending = max(pending, writer.pending)
            time.sleep(0.5)
        metrics = app.test_client().get("/metrics").get_data(as_text=True)
        server.resume()
        up = time.time()

        assert pending > 0, "nothing was kept during the outage"
        assert "facerec_sightings_pending" in metrics
        assert wait_for(lambda: writer.pending == 0, timeout=60), writer.pending
        cam.stop()
        assert writer.flush(30)
        outage = [moment for moment in started if down <= moment <= up]
        assert outage, "no track started during the outage: nothing was tested"
        with app.app_context():
            stored = set(db.session.scalars(select(Sighting.started_at)))
        missing = [moment for moment in outage if when(moment) not in stored]
        assert not missing, f"{len(missing)} of {len(outage)} sightings lost"
        assert writer.failed == 0
    finally:
        if app is not None:
            shutdown(app)
        server.stop()
