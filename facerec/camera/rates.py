"""Events per second over a sliding window: frames captured, published, recognised."""

from __future__ import annotations

import threading
import time
from collections import deque


class RateMeter:
    def __init__(self, window: float = 3.0, clock=time.monotonic):
        self.window = window
        self.clock = clock
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def tick(self, now: float | None = None):
        now = self.clock() if now is None else now
        with self._lock:
            self._times.append(now)
            while self._times and now - self._times[0] > self.window:
                self._times.popleft()

    def rate(self) -> float:
        now = self.clock()
        with self._lock:
            while self._times and now - self._times[0] > self.window:
                self._times.popleft()
            if len(self._times) < 2:
                return 0.0
            span = max(now - self._times[0], self._times[-1] - self._times[0])
            return (len(self._times) - 1) / span if span > 0 else 0.0

    def reset(self):
        with self._lock:
            self._times.clear()
