"""Slowing down password guessing: failed sign-ins counted per client address.

Kept in memory, so it holds for one server process (the deployment runs one gunicorn
worker, which must own the camera anyway); a restart forgets the counts.
"""

from __future__ import annotations

import threading
import time
from collections import deque


class LoginThrottle:
    """Refuse sign-ins from an address after ``limit`` failures within ``window`` seconds."""

    def __init__(self, limit: int = 5, window: float = 60.0, clock=time.monotonic):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and now - times[0] >= self.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, key: str) -> int:
        """Seconds until ``key`` may try again; 0 when it may try now."""
        with self._lock:
            now = self.clock()
            times = self._recent(key, now)
            if len(times) < self.limit:
                return 0
            return max(1, int(self.window - (now - times[-self.limit]) + 0.999))

    def failed(self, key: str):
        with self._lock:
            now = self.clock()
            if len(self._failures) > 10_000:  # forget idle addresses now and then
                for stale in [k for k, t in self._failures.items() if now - t[-1] >= self.window]:
                    del self._failures[stale]
            self._failures.setdefault(key, deque()).append(now)
