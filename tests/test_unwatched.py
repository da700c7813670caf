"""Cameras watch all the time (issue 22): with no viewer at all, the clip's sightings keep
being written and events keep being sent, loop after loop.

The issue's acceptance speaks of three minutes because the camera used to stop 120 s after
its last viewer. That stop is now off unless configured (``FACEREC_IDLE_TIMEOUT`` 0), so
nothing in the server counts minutes without a viewer any more: what has to be shown is that
watching goes on by itself, sighting after sighting, which a few loops of the clip show
without adding minutes to the suite. The server was started when the session's tests were
collected and stops itself once it has watched long enough (tests/unwatched.py); this test
runs after every other one, so in a whole run that has happened by then. Run alone, it
waits for it (some 30 s on an idle machine).
"""

from __future__ import annotations

import pytest

from .unwatched import FIRST_SIGHTING, LOOP, LOOPS, WATCHING


@pytest.mark.at_the_end
@pytest.mark.timeout(FIRST_SIGHTING + WATCHING + 120)
def test_do_sightings_and_events_go_on_with_no_viewer(unwatched):
    watched = unwatched.result(timeout=FIRST_SIGHTING + WATCHING + 60)

    # Lin was seen afresh loop after loop, long after the first time.
    starts = watched.starts
    assert len(starts) > LOOPS, (starts, watched.output)
    assert starts[-1] - starts[0] >= LOOPS * LOOP, starts
    # Every sighting was announced, and the ended ones said so.
    events = {}
    for body in watched.bodies:
        events.setdefault(body["sighting"]["id"], set()).add(body["event"])
    assert len(events) >= len(starts) - 1, (len(starts), events)
    assert sum("sighting.ended" in kinds for kinds in events.values()) >= LOOPS, events
    # Nobody ever watched: the camera ran without a viewer, and said so.
    assert watched.status["running"] and watched.status["viewers"] == 0
    assert watched.status["activity"] in {"watching", "recognising"}
