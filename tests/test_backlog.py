"""The backlog of sighting events waiting for the database: memory, then a spool file."""

from __future__ import annotations

import stat

from facerec.camera.tracks import TrackEvent, TrackSummary
from facerec.sightings.backlog import Backlog


def event(number: int) -> tuple[str, TrackEvent]:
    summary = TrackSummary(number, None, None, None, 1000.0 + number, None, 1, crop=b"jpeg")
    return "main", TrackEvent("started", summary)


def drain(backlog: Backlog) -> list[int]:
    out = []
    while (item := backlog.peek()) is not None:
        out.append(item[1].track.track_id)
        backlog.pop()
    return out


def test_does_a_long_outage_go_to_disk_and_come_back_in_order(tmp_path):
    spool = tmp_path / "pending-sightings"
    backlog = Backlog(spool, memory=3)
    for number in range(10):
        backlog.append(event(number))
    assert len(backlog) == 10
    assert spool.exists() and stat.S_IMODE(spool.stat().st_mode) == 0o600
    assert drain(backlog) == list(range(10))
    assert len(backlog) == 0 and not spool.exists()  # read back: the file goes


def test_does_the_next_start_find_what_a_stopped_server_kept(tmp_path):
    spool = tmp_path / "pending-sightings"
    backlog = Backlog(spool, memory=5)
    for number in range(8):  # five in memory, three on disk
        backlog.append(event(number))
    backlog.spill()  # the server stops with the database still away: all of them to disk
    again = Backlog(spool, memory=5)
    assert len(again) == 8
    assert drain(again) == list(range(8))
