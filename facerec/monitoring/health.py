"""The checks behind /readyz (and /healthz), in the IETF health check draft's shape.

``application/health+json``: ``{"status": "pass"|"warn"|"fail", "checks": {key: [check]}}``.
Anonymous: states and short reasons, never a person's name, a path or a source URL.
"""

from __future__ import annotations

import logging
import time

from flask import current_app
from sqlalchemy import text

from .. import engine, events, instance
from ..camera.sources import precheck
from ..events.sink import FAIL, PASS, WARN, check
from ..extensions import db

MEDIA_TYPE = "application/health+json"
log = logging.getLogger(__name__)


def liveness(started: float) -> dict:
    """The process answers: nothing outside it (database, cameras, broker) is asked."""
    uptime = round(time.monotonic() - started, 1)
    return {
        "status": PASS,
        "checks": {"uptime": [check(PASS, "system", observed_value=uptime, observed_unit="s")]},
    }


def readiness() -> dict:
    """Can this server do its job: the database, recognition, every camera, every sink."""
    from . import camera_name, cameras

    services = [(camera_name(cam), cam) for cam in cameras()]
    checks = {
        "database": [_database()],
        **_recognizer([cam for _, cam in services]),
        "camera": [_camera(name, cam) for name, cam in services],
    }
    for sink in events.sinks():
        checks.update(_sink_health(sink))
    return {"status": overall(checks), "checks": checks}


def _sink_health(sink) -> dict[str, list[dict]]:
    try:
        return sink.health()
    except Exception:  # a sink's bug (or a database gone mid-check) is reported, not a 500
        db.session.rollback()
        log.exception("the %s sink could not report its health", sink.name)
        return {sink.name: [check(WARN, "system", output="its state could not be read")]}


def overall(checks: dict[str, list[dict]]) -> str:
    """The worst status of all: fail, else warn, else pass."""
    statuses = {entry["status"] for entries in checks.values() for entry in entries}
    return FAIL if FAIL in statuses else WARN if WARN in statuses else PASS


def _database() -> dict:
    """The database answers, its file is still the one opened, and it takes writes (a server
    whose writes go nowhere or fail is not ready, whatever a SELECT says)."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        db.session.rollback()
        return check(FAIL, "datastore", output="the database does not answer")
    problem = instance.database_problem(current_app._get_current_object())
    if problem:
        return check(FAIL, "datastore", output=problem)
    return check(PASS, "datastore")


def _recognizer(services) -> dict[str, list[dict]]:
    """The recognition workers of the running cameras: alive, or being (re)started."""
    running = [cam for cam in services if cam.running]
    restarts = [check(PASS, observed_value=engine.of().restarts)]
    states = []
    for cam in running:
        feed = cam.feed
        if feed is None:
            states.append("starting")
        elif feed.alive():
            states.append("running")
        else:
            states.append("down")
    if not states:
        state = check(PASS, observed_value="idle")
    elif "down" in states:
        state = check(FAIL, observed_value="down", output="a recognition worker is not running")
    else:
        state = check(PASS, observed_value="starting" if "starting" in states else "running")
    return {"recognizer": [state], "recognizer:restarts": restarts}


def _camera(name: str, cam) -> dict:
    state = cam.state
    fields = {"component_id": name, "observed_value": state}
    if state == "unavailable":
        return check(FAIL, output="the source cannot be opened", **fields)
    if state in ("running", "starting"):
        return check(PASS, **fields)
    reason = precheck(cam.source)  # why it could not start, if that shows without opening it
    if reason:
        return check(FAIL, output=reason, **fields)
    return check(PASS, **fields)
