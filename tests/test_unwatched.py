"""Cameras watch all the time (issue 22): with no viewer at all for 3 minutes, the clip's
sightings keep being written and events keep being sent.

The server was started when the session's tests were collected (tests/unwatched.py); this
test runs after every other one, so the minutes have mostly passed by then. Run alone, it
waits for them.
"""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import datetime

import pytest

# Seconds of watching looked at, in three minutes: something must happen in each.
WINDOW = 180.0
MINUTE = 60.0


def sighting_starts(database) -> list[float]:
    with sqlite3.connect(database, timeout=10) as connection:
        rows = connection.execute("SELECT started_at FROM sightings").fetchall()
    return sorted(datetime.fromisoformat(row[0]).timestamp() for row in rows)


def every_minute(times: list[float], first: float) -> list[int]:
    """How many of ``times`` fall in each of the three minutes from ``first``."""
    return [
        sum(first + m * MINUTE <= t < first + (m + 1) * MINUTE for t in times) for m in range(3)
    ]


@pytest.mark.at_the_end
@pytest.mark.timeout(WINDOW + 360)
def test_do_sightings_and_events_go_on_for_3_minutes_with_no_viewer(unwatched):
    # Time passes while the rest of the suite runs; alone, this test waits for it.
    def first_sighting():
        starts = sighting_starts(unwatched.database)
        return starts[0] if starts else None

    deadline = unwatched.started + 120
    while first_sighting() is None and time.monotonic() < deadline:
        time.sleep(1)
    first = first_sighting()
    assert first is not None, unwatched.server.output()[-2000:]
    remaining = first + WINDOW - time.time()
    if remaining > 0:
        time.sleep(remaining + 5)

    assert all(every_minute(sighting_starts(unwatched.database), first)), (
        "a minute without a sighting started",
        every_minute(sighting_starts(unwatched.database), first),
    )
    # The events went out all along too (the receiver stamps each with perf_counter).
    deliveries = unwatched.receiver.requests
    now_wall, now_perf = time.time(), time.perf_counter()
    sent = sorted(now_wall - (now_perf - request["at"]) for request in deliveries)
    assert sent and all(every_minute(sent, sent[0])), every_minute(sent, sent[0]) if sent else 0
    bodies = [json.loads(request["body"]) for request in deliveries]
    assert {"sighting.started", "sighting.ended"} <= {body["event"] for body in bodies}
    # Nobody ever watched: the camera runs without a viewer.
    status = unwatched.status()
    assert status["running"] and status["viewers"] == 0
