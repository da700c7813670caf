"""Notifications benchmark: from a track's first frame to the message accepted by SMTP, and
streams while a notification target keeps failing.

Prints JSON with
- ``latency``: the app in-process with the test clip as the camera (nobody enrolled: every
  face is an unknown visitor) and one target, "anyone, no cool-down", sending through Apprise
  to a real SMTP server (aiosmtpd) on loopback; for each message, the milliseconds from the
  sighting's start (the wall-clock time of the track's first recognised frame, as stored)
  to the server accepting the mail (its DATA answered). p50, p95, max. Target: p50 <= 1000.
  Also from the sighting's start being committed (the event queued) to the mail accepted.
- ``failing_target``: the app served by gunicorn as ``make run`` does, 10 MJPEG viewers,
  first with the targets disabled, then with 3 targets whose mail server refuses every
  connection (each message retried with backoff); each viewer's frames per second as a ratio
  of the source's, and how many messages failed meanwhile. Target: the ratio unchanged.

``--long`` measures for five minutes instead of one (latency) and 60 s instead of 15 (viewers).
Run: ``.venv/bin/python bench/notifications.py`` (``make bench`` runs every benchmark).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from datetime import UTC
from pathlib import Path

from common import (  # puts the project on sys.path
    CLIP,
    bench_app,
    clip_app,
    free_port,
    percentile,
    prepare_database,
    set_enabled,
    start_recognition,
    start_server,
    watch_stream,
)

from tests.receivers import SmtpServer, closed_port_url


def add_targets(db_path: Path, urls, enabled=True):
    from facerec.events.targets import TargetFields, save_target
    from facerec.extensions import db

    app = bench_app(db_path, FACEREC_ALLOW_PRIVATE_TARGETS="1")
    try:
        with app.app_context():
            for url in urls:
                target = save_target(TargetFields(url=url, cooldown=0), app=app)
                target.enabled = enabled
            db.session.commit()
    finally:
        app.extensions["cameras"].close()


def latency_run(db_path: Path, seconds: float) -> dict:
    """In-process: a track's first frame -> sighting -> event -> Apprise -> SMTP accepted."""
    from facerec import events, sightings
    from facerec.extensions import db
    from facerec.models import Sighting

    smtp = SmtpServer()
    add_targets(db_path, [smtp.url("bench@example.org")])
    os.environ["FACEREC_ALLOW_PRIVATE_TARGETS"] = "1"
    os.environ["FACEREC_BASE_URL"] = "http://bench.example"
    app = clip_app(db_path)
    committed: dict[int, float] = {}  # sighting id -> wall time its start was committed

    def on_sighting(event, sighting):
        if event == "sighting.started":
            committed[sighting["id"]] = time.time()

    # Before the app's own subscriber (the event bus) on the writer's thread: the time is
    # taken as the event is queued.
    sightings.recorder(app).subscribers.insert(0, on_sighting)
    cam = app.extensions["cameras"].first()
    cam.start()
    try:
        time.sleep(seconds)
    finally:
        cam.close()
        app.extensions["sightings"].close()
        app.extensions["events"].flush(10)
        time.sleep(2.0)  # let the last messages arrive
    delays, from_commit = [], []
    with app.app_context():
        for (_at, message, _to), arrived in zip(smtp.messages, smtp.arrived, strict=True):
            body = message.get_body(("plain",)).get_content()
            found = re.search(r"before_id=(\d+)", body)
            if not found:
                continue
            row = db.session.get(Sighting, int(found.group(1)) - 1)
            if row is None:
                continue
            first_frame = row.started_at.replace(tzinfo=UTC).timestamp()
            delays.append((arrived - first_frame) * 1000)
            if row.id in committed:
                from_commit.append((arrived - committed[row.id]) * 1000)
    events.close(app, timeout=2)
    smtp.stop()
    return {
        "seconds": seconds,
        "messages": len(delays),
        "first_frame_to_smtp_accepted_ms": {
            "p50": percentile(delays, 50),
            "p95": percentile(delays, 95),
            "max": percentile(delays, 100),
        },
        "target_p50_ms": 1000,
        # The notification path alone: the sighting's start committed (the event queued)
        # to the mail accepted; the rest is the track being recognised and agreed on.
        "event_to_smtp_accepted_ms": {
            "p50": percentile(from_commit, 50),
            "p95": percentile(from_commit, 95),
        },
    }


def failing_target_run(db_path: Path, token: str, seconds: float) -> dict:
    refused = closed_port_url().replace("http://", "mailto://").replace("/hook", "")
    url = f"{refused}?from=facerec@example.net&to=nobody@example.org&mode=insecure"
    add_targets(db_path, [url] * 3, enabled=False)
    port = free_port()
    os.environ["FACEREC_ALLOW_PRIVATE_TARGETS"] = "1"
    os.environ["FACEREC_NOTIFY_BACKOFF"] = "1,2,4"
    server = start_server(db_path, port)
    try:
        start_recognition(port, token)
        baseline = watch_stream(port, token, 10, seconds)
        set_enabled(db_path, "notification_targets", True)
        loaded = watch_stream(port, token, 10, seconds)
    finally:
        server.terminate()
        server.wait(10)
    import sqlite3

    with sqlite3.connect(db_path) as conn:
        failed = conn.execute(
            "SELECT count(*) FROM notification_deliveries WHERE NOT ok"
        ).fetchone()
    return {
        "targets": 3,
        "viewers": 10,
        "without_failing_targets": {k: baseline[k] for k in ("ratio_min", "ratio_mean")},
        "with_failing_targets": {
            **{k: loaded[k] for k in ("ratio_min", "ratio_mean", "recognition_hz_median")},
            "failed_attempts_logged": failed[0],
        },
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true", help="measure for longer (a soak)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        first = Path(tmp) / "latency.db"
        prepare_database(first, people=False)
        latency = latency_run(first, 300.0 if args.long else 60.0)
        second = Path(tmp) / "failing.db"
        token = prepare_database(second)
        failing = failing_target_run(second, token, 60.0 if args.long else 15.0)
    print(
        json.dumps(
            {
                "benchmark": "notifications",
                "clip": CLIP.name,
                "load_average": os.getloadavg(),
                "latency": latency,
                "failing_target": failing,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
