"""The checks behind /healthz. Anonymous: states and short reasons, never a name or a path."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import text

from .. import camera
from ..camera.sources import precheck
from ..extensions import db


def checks() -> dict:
    from . import camera_name, cameras

    services = [(camera_name(cam), cam) for cam in cameras()]
    result = {
        "database": _database(),
        "recognizer": _recognizer([cam for _, cam in services]),
        "cameras": {name: _camera(cam) for name, cam in services},
    }
    publisher = current_app.extensions.get("mqtt")
    if publisher is not None:
        result["mqtt"] = (
            {"status": "ok", "state": "connected"}
            if publisher.connected
            else {
                "status": "failing",
                "state": "disconnected",
                "reason": "the broker is not reachable",
            }
        )
    return result


def _database() -> dict:
    try:
        db.session.execute(text("SELECT 1"))
        return {"status": "ok"}
    except Exception:
        db.session.rollback()
        return {"status": "failing", "reason": "the database does not answer"}


def _recognizer(services) -> dict:
    """The recognition workers of the running cameras: alive, or being (re)started."""
    running = [cam for cam in services if cam.running]
    restarts = camera.registry().pool.restarts
    if not running:
        return {"status": "ok", "state": "idle", "restarts": restarts}
    states = []
    for cam in running:
        recognizer = cam.recognizer
        if recognizer is None:
            states.append("starting")
        elif recognizer.alive():
            states.append("running")
        else:
            states.append("down")
    if "down" in states:
        return {"status": "failing", "state": "down", "restarts": restarts}
    state = "starting" if "starting" in states else "running"
    return {"status": "ok", "state": state, "restarts": restarts}


def _camera(cam) -> dict:
    state = cam.state
    if state == "unavailable":
        return {"status": "failing", "state": state, "reason": "the source cannot be opened"}
    if state in ("running", "starting"):
        return {"status": "ok", "state": state}
    reason = precheck(cam.source)  # why it could not start, if that shows without opening it
    if reason:
        return {"status": "failing", "state": state, "reason": reason}
    return {"status": "ok", "state": state}
