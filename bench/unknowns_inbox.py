"""Unknown visitors at scale: 20,000 unknown sightings in 400 groups, on SQLite (or the
database given with ``--database-url``).

Prints JSON:
- ``grouping``: the milliseconds the placer spends on one ended unknown sighting (take the
  grouping version, read the sighting, match it against the gallery, place it, commit), p50
  and p95 over 100 new sightings of known visitors and strangers, and the milliseconds of
  one full read of every group (what each sighting cost before the index was kept in
  memory, and what a change made elsewhere still costs once). Target: p95 < 20 ms.
- ``events``: 30 unknown sightings ended through the sightings writer with a webhook to a
  local receiver; how long from the commit to the webhook request arriving, and how many
  events arrived before their sighting was grouped (the events never wait for grouping; with
  a placer slowed to 200 ms a sighting, all of them should).
- ``listing``: milliseconds of ``GET /api/v1/unknowns`` (all 400 groups) and of the
  ``/unknowns`` page (the first 50), p50 and p95 of 20 requests each. Target: < 200 ms.
The load average is printed with the figures: compare runs on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
from common import bench_app  # puts the project on sys.path

from tests.receivers import Receiver

SIGHTINGS = 20_000
GROUPS = 400
TARGET_GROUPING_MS = 20.0
TARGET_LIST_MS = 200.0


def percentiles(values: list[float]) -> dict:
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 2),
        "p95": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 2),
    }


def tiny_jpeg(rng) -> bytes:
    from facerec.faces import to_jpeg

    return to_jpeg(rng.integers(0, 255, size=(60, 48, 3), dtype=np.uint8), quality=70)


def fill(app, rng, centres) -> None:
    """SIGHTINGS unknown sightings around GROUPS centres, each in its centre's group."""
    from facerec.extensions import db
    from facerec.models import Account, ApiToken, Sighting, UnknownGroup, utcnow

    crop = tiny_jpeg(rng)
    with app.app_context():
        db.create_all()
        db.session.add_all(UnknownGroup(id=i + 1) for i in range(GROUPS))
        db.session.flush()
        owners = rng.integers(0, GROUPS, size=SIGHTINGS)
        encodings = centres[owners] + rng.normal(0, 0.025, size=(SIGHTINGS, 128))
        start = utcnow() - timedelta(days=30)
        rows = [
            {
                "camera": "main",
                "started_at": start + timedelta(seconds=int(i) * 120),
                "ended_at": start + timedelta(seconds=int(i) * 120 + 8),
                "frames": int(rng.integers(5, 200)),
                "encoding": encodings[i].astype("<f8").tobytes(),
                "crop": crop,
                "group_id": int(owners[i]) + 1,
            }
            for i in range(SIGHTINGS)
        ]
        for chunk in range(0, SIGHTINGS, 2000):
            db.session.execute(db.insert(Sighting), rows[chunk : chunk + 2000])
        account = Account(username="bench", role="admin")
        account.set_password(secrets.token_hex(8))
        db.session.add(account)
        db.session.flush()
        token = "bench_" + secrets.token_urlsafe(24)
        db.session.add(
            ApiToken(
                name="bench", token_hash=ApiToken.hash(token), prefix=token[:8], account=account
            )
        )
        db.session.commit()
        app.config["BENCH_TOKEN"] = token
        app.config["BENCH_ACCOUNT"] = account.id


def new_sighting(app, encoding, crop) -> int:
    from facerec.extensions import db
    from facerec.models import Sighting, utcnow

    with app.app_context():
        row = Sighting(camera="main", started_at=utcnow(), ended_at=utcnow(), frames=20, crop=crop)
        row.vector = encoding
        db.session.add(row)
        db.session.commit()
        return row.id


def grouping_run(app, rng, centres) -> dict:
    from facerec import unknowns

    placer = unknowns.placer(app)
    crop = tiny_jpeg(rng)
    times, placed = [], 0
    with app.app_context():
        start = time.perf_counter()
        placer.index.invalidate()
        placer.place([new_sighting(app, centres[0] + rng.normal(0, 0.025, 128), crop)])
        cold = (time.perf_counter() - start) * 1000
        for i in range(100):
            # Two in three are returning visitors, one in three a stranger.
            centre = centres[rng.integers(0, GROUPS)] if i % 3 else rng.normal(0, 0.056, 128)
            sighting_id = new_sighting(app, centre + rng.normal(0, 0.025, 128), crop)
            start = time.perf_counter()
            placed += placer.place([sighting_id])
            times.append((time.perf_counter() - start) * 1000)
    return {
        "sightings_placed": placed,
        "ms_per_sighting": percentiles(times),
        "full_read_of_every_group_ms": round(cold, 1),
        "index_loads": placer.index.loads,
        "target_ms": TARGET_GROUPING_MS,
        "meets_target": percentiles(times)["p95"] < TARGET_GROUPING_MS,
    }


def events_run(app, rng, centres, slow: float) -> dict:
    """Ended unknown sightings through the writer; webhook arrival vs grouping."""
    from facerec import sightings, unknowns
    from facerec.camera.tracks import TrackEvent, TrackSummary
    from facerec.events.webhooks import add_webhook
    from facerec.extensions import db
    from facerec.models import Webhook

    receiver = Receiver()
    with app.app_context():
        hook = add_webhook(receiver.url)
        db.session.commit()
        hook_id = hook.id
    placer = unknowns.placer(app)
    grouped_at: dict[int, float] = {}
    committed_at: dict[int, float] = {}
    real_place = placer.place

    def timed_place(ids):
        if slow:
            time.sleep(slow)
        count = real_place(ids)
        now = time.perf_counter()
        for sighting_id in ids:
            grouped_at.setdefault(sighting_id, now)
        return count

    def on_commit(event, sighting):
        if event == "sighting.ended":
            committed_at[sighting["id"]] = time.perf_counter()

    placer.place = timed_place
    writer = sightings.recorder(app)
    writer.subscribers.insert(0, on_commit)
    crop = tiny_jpeg(rng)
    count = 30
    try:
        for i in range(count):
            encoding = centres[rng.integers(0, GROUPS)] + rng.normal(0, 0.025, 128)
            now = time.time()
            summary = TrackSummary(1000 + i, None, None, None, now - 5, now, 20, encoding, crop)
            writer.put("main", TrackEvent("ended", summary))
            time.sleep(0.05)
        receiver.wait(count, timeout=60, event="sighting.ended")
        writer.flush(30)
        placer.flush(60)
    finally:
        placer.place = real_place
        writer.subscribers.remove(on_commit)
        with app.app_context():
            db.session.delete(db.session.get(Webhook, hook_id))
            db.session.commit()
    arrivals = {}
    for request in receiver.requests:
        if request["headers"].get("X-Facerec-Event") == "sighting.ended":
            arrivals[json.loads(request["body"])["sighting"]["id"]] = request["at"]
    receiver.close()
    latency = [(arrivals[i] - committed_at[i]) * 1000 for i in arrivals if i in committed_at]
    before = sum(1 for i, at in arrivals.items() if at < grouped_at.get(i, float("inf")))
    return {
        "placer_slowed_by_ms": round(slow * 1000),
        "events": len(arrivals),
        "commit_to_webhook_ms": percentiles(latency) if latency else None,
        "arrived_before_grouped": before,
    }


def listing_run(app) -> dict:
    from facerec.auth.accounts import Account  # noqa: F401  (the login loader)

    token = app.config["BENCH_TOKEN"]
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = f"{app.config['BENCH_ACCOUNT']}:0"
    api_times, page_times = [], []
    groups = 0
    for _ in range(20):
        start = time.perf_counter()
        response = client.get("/api/v1/unknowns", headers={"Authorization": f"Bearer {token}"})
        api_times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.get_json()
        groups = len(response.get_json()["groups"])
        start = time.perf_counter()
        page = client.get("/unknowns")
        page_times.append((time.perf_counter() - start) * 1000)
        assert page.status_code == 200, page.status_code
    return {
        "groups_listed": groups,
        "api_ms": percentiles(api_times),
        "page_ms": percentiles(page_times),
        "target_ms": TARGET_LIST_MS,
        "meets_target": max(percentiles(api_times)["p95"], percentiles(page_times)["p95"])
        < TARGET_LIST_MS,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="a PostgreSQL URL (default: a SQLite file)")
    parser.add_argument("--seed", type=int, default=int.from_bytes(os.urandom(2), "big"))
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    centres = rng.normal(0, 0.056, size=(GROUPS, 128))
    with tempfile.TemporaryDirectory() as tmp:
        database = args.database_url or Path(tmp) / "unknowns.db"
        app = bench_app(database, FACEREC_ALLOW_PRIVATE_TARGETS="1")
        try:
            fill(app, rng, centres)
            listing = listing_run(app)
            grouping = grouping_run(app, rng, centres)
            events = [events_run(app, rng, centres, slow) for slow in (0.0, 0.2)]
        finally:
            from facerec import shutdown

            shutdown(app)
    print(
        json.dumps(
            {
                "benchmark": "unknown visitors at scale",
                "database": "postgresql" if args.database_url else "sqlite",
                "seed": args.seed,
                "unknown_sightings": SIGHTINGS,
                "groups": GROUPS,
                "load_average": [round(x, 2) for x in os.getloadavg()],
                "grouping": grouping,
                "events": events,
                "listing": listing,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
