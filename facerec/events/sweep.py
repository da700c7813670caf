"""The MQTT sink's sweep: find the retained topics facerec left that belong to nobody now.

After each connect the publisher subscribes to where it keeps retained topics; the broker
answers with what it holds (``retain`` set: not facerec's own live messages). A moment after
the subscription is acknowledged, every topic found that is not a current person's or
camera's (the old name topics after the upgrade to keys, a person deleted while facerec was
not connected) is cleared with an empty retained message, and the subscription dropped.
"""

from __future__ import annotations

import threading
import time

from . import topics

GRACE = 1.0  # seconds after the acknowledgement for the broker to send what it holds


class Sweep:
    def __init__(self, prefix: str):
        self.filters = topics.sweep_filters(prefix)
        self.prefix = prefix
        self.found: set[str] = set()
        self._mid: int | None = None
        self._due: float | None = None
        self._lock = threading.Lock()

    def begin(self, client, subscribe_ok: int) -> bool:
        """Subscribe through paho ``client``; False if it could not even ask."""
        result, mid = client.subscribe([(topic, 1) for topic in self.filters])
        if result != subscribe_ok:
            return False
        with self._lock:
            self._mid = mid
        return True

    def acknowledged(self, mid: int):
        with self._lock:
            if mid == self._mid:
                self._due = time.monotonic() + GRACE

    def heard(self, message):
        """A message on a swept filter: remember it if the broker held it for facerec."""
        if message.retain and message.payload and topics.is_ours(message.topic, self.prefix):
            with self._lock:
                self.found.add(message.topic)

    @property
    def due(self) -> bool:
        with self._lock:
            return self._due is not None and time.monotonic() >= self._due

    def stale(self, kept: set[str]) -> list[str]:
        """The topics found that are not in ``kept``, to be cleared."""
        with self._lock:
            return sorted(self.found - kept)
