"""Events benchmark: webhook latency, and streams with webhooks that never answer.

Prints JSON with
- ``latency``: the app in-process with the test clip as the camera and one webhook to a
  local receiver; for each ``sighting.started``, the milliseconds from the recognition
  result that completed the track's identity (the last result the capture thread received
  before the sighting was committed) to the webhook request arriving at the receiver, and
  from the commit to the arrival (facerec's own event path). p50 and p95.
- ``dead_receivers``: the app served by gunicorn as ``make run`` does, 10 MJPEG viewers,
  first with no webhook enabled, then with 5 webhooks to a receiver that accepts connections
  and never answers; each viewer's frames per second as a ratio of the source fps, and how
  many events and failed deliveries happened meanwhile. Target: ratio >= 0.95 with them.

``--long`` measures for five minutes instead of one (latency) and 60 s instead of 15 (viewers).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

# The receivers listen on loopback, which webhooks may reach only when allowed; set before
# facerec reads its configuration (in this process and in the servers it starts).
os.environ["FACEREC_ALLOW_PRIVATE_TARGETS"] = "1"

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

from tests.receivers import Receiver, SilentReceiver


def add_webhooks(db_path: Path, urls, enabled=True, secret="bench-secret"):
    from facerec.events.webhooks import add_webhook
    from facerec.extensions import db

    app = bench_app(db_path)
    try:
        with app.app_context():
            for url in urls:
                add_webhook(url, secret=secret, enabled=enabled)
            db.session.commit()
    finally:
        app.extensions["cameras"].close()


def latency_run(db_path: Path, seconds: float) -> dict:
    """In-process: recognition result -> sighting committed -> webhook request arrives."""
    from facerec import sightings
    from facerec.engine import CameraFeed

    receiver = Receiver()
    add_webhooks(db_path, [receiver.url])
    last_result = [0.0]
    original_poll = CameraFeed.poll

    def timed_poll(self):
        result = original_poll(self)
        if result is not None:
            last_result[0] = time.perf_counter()
        return result

    CameraFeed.poll = timed_poll
    app = clip_app(db_path)
    committed: dict[int, tuple[float, float]] = {}  # sighting id -> (recognition, commit)
    lock = threading.Lock()

    def on_sighting(event, sighting):
        if event == "sighting.started":
            with lock:
                committed[sighting["id"]] = (last_result[0], time.perf_counter())

    # Subscribed before the app's own events subscriber runs on the same thread, so the
    # commit time is taken just before the event is queued.
    sightings.recorder(app).subscribers.insert(0, on_sighting)
    cam = app.extensions["cameras"].first()
    cam.start()
    try:
        time.sleep(seconds)
    finally:
        cam.close()
        sightings.recorder(app).close()
        time.sleep(1.0)  # let the last deliveries arrive
        CameraFeed.poll = original_poll
    from_recognition, from_commit, known = [], [], 0
    for request in receiver.requests:
        if request["headers"].get("X-Facerec-Event") != "sighting.started":
            continue
        sighting = json.loads(request["body"])["sighting"]
        times = committed.get(sighting["id"])
        if times is None:
            continue
        recognised, commit = times
        known += sighting["user_id"] is not None
        from_recognition.append((request["at"] - recognised) * 1000)
        from_commit.append((request["at"] - commit) * 1000)
    receiver.close()
    return {
        "seconds": seconds,
        "sightings_started": len(from_recognition),
        "known": known,
        "recognition_to_webhook_ms": {
            "p50": percentile(from_recognition, 50),
            "p95": percentile(from_recognition, 95),
            "max": percentile(from_recognition, 100),
        },
        "commit_to_webhook_ms": {
            "p50": percentile(from_commit, 50),
            "p95": percentile(from_commit, 95),
        },
    }


def metric(port: int, token: str, name: str) -> float:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and not line.startswith("#")
    )


def dead_receiver_run(db_path: Path, token: str, seconds: float) -> dict:
    silent = SilentReceiver()
    add_webhooks(db_path, [silent.url] * 5, enabled=False)
    port = free_port()
    server = start_server(db_path, port)
    try:
        start_recognition(port, token)
        baseline = watch_stream(port, token, 10, seconds)
        set_enabled(db_path, "webhooks", True)
        events_before = metric(port, token, "facerec_events_published_total")
        failures_before = metric(port, token, 'facerec_webhook_deliveries_total{result="failure"}')
        loaded = watch_stream(port, token, 10, seconds)
        events = metric(port, token, "facerec_events_published_total") - events_before
        failures = (
            metric(port, token, 'facerec_webhook_deliveries_total{result="failure"}')
            - failures_before
        )
    finally:
        server.terminate()
        server.wait(10)
        silent.close()
    return {
        "webhooks": 5,
        "viewers": 10,
        "without_webhooks": {k: baseline[k] for k in ("ratio_min", "ratio_mean", "source_fps")},
        "with_dead_webhooks": {
            **{k: loaded[k] for k in ("ratio_min", "ratio_mean", "recognition_hz_median")},
            "events_published": events,
            "connections_held_by_the_dead_receiver": len(silent.connections),
            "failed_deliveries_so_far": failures,
        },
        "target_ratio_min": 0.95,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true", help="measure for longer (a soak)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        first = Path(tmp) / "latency.db"
        prepare_database(first)
        latency = latency_run(first, 300.0 if args.long else 60.0)
        second = Path(tmp) / "dead.db"
        token = prepare_database(second)
        dead = dead_receiver_run(second, token, 60.0 if args.long else 15.0)
    print(
        json.dumps(
            {"benchmark": "events", "clip": CLIP.name, "latency": latency, "dead_receivers": dead},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
