"""Tracks become sightings: who was seen, on which camera, when, with a crop of their face.

- ``writer.SightingWriter``: listens to every camera service and writes one row per track
  from its own thread; ``subscribe(callback)`` hears of every committed change.
- ``queries``: the filtered, newest-first history the API, the history page and its CSV share.
- ``retention``: expired sightings, searches and audit entries are deleted, per kind.
"""

from __future__ import annotations

from pathlib import Path

from flask import current_app

from ..config import current_settings
from .retention import Periods, Retention, prune
from .writer import SightingWriter, Subscriber

__all__ = [
    "Periods",
    "Retention",
    "SightingWriter",
    "init_app",
    "prune",
    "recorder",
    "subscribe",
]


def recorder(app=None) -> SightingWriter:
    """The app's SightingWriter."""
    return (app or current_app).extensions["sightings"]


def subscribe(callback: Subscriber, app=None):
    """Call ``callback(event, sighting_dict)`` after each sighting is committed.

    Called on the writer thread (never the capture thread), in an app context; keep it short
    or hand the work on. ``event`` is ``sighting.started``, ``sighting.updated`` or
    ``sighting.ended``; the dict is the API's sighting shape.
    """
    recorder(app).subscribers.append(callback)


def init_app(app):
    """The app's sightings writer, attached to its camera(s), and the retention pruning."""
    # Events the database cannot take wait in memory, then in the instance folder.
    writer = SightingWriter(app, spool=Path(app.instance_path) / "pending-sightings")
    app.extensions["sightings"] = writer
    from .. import camera

    camera.registry(app).on_service(writer.listener_for)
    periods = Periods.of(current_settings(app))
    retention = Retention(app, periods.known, periods.unknown)
    app.extensions["retention"] = retention
    app.before_request(retention.prune_if_due)
    return writer
