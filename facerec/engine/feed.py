"""A camera's handle on the engine: the newest frame in, the latest result out.

A camera has at most one frame with a worker and one waiting (the newest: a newer frame
replaces it and the older one is counted as dropped, never queued). A camera with a detection
sub-stream offers two frames at once: the sub-stream's to look for faces in, and the main
stream's to encode them from. ``submit()`` never
blocks and ``poll()`` never waits, so capture goes on at the source's rate whatever the
engine does.
"""

from __future__ import annotations

import threading
import time

from .stats import LatencyStats
from .worker import FrameRequest, FrameResult


class CameraFeed:
    """Made by ``Engine.feed()``; the engine calls the methods below the line."""

    def __init__(self, engine, camera: str, database: str):
        self._engine = engine
        self.camera = camera
        self.database = database  # whose gallery its frames are matched against
        self._lock = threading.Lock()
        self._waiting: tuple[FrameRequest, tuple] | None = None  # (request, frames)
        self._in_flight = False
        self._result: FrameResult | None = None
        self.served_at = 0.0  # when its last frame went to a worker (fair turns)
        self.dropped = 0
        self.restarts = 0
        self.latency = LatencyStats()  # frame handed to a worker -> its result (/metrics)

    def submit(self, request: FrameRequest, frame_bgr, main=None):
        """Offer a frame; it replaces this camera's waiting frame (counted as dropped).

        ``main``: the main stream's frame ``frame_bgr`` (a sub-stream's) stands for; faces
        found in ``frame_bgr`` are encoded from it, and the result's boxes are on it.
        """
        frames = (frame_bgr,) if main is None else (frame_bgr, main)
        with self._lock:
            if self._waiting is not None:
                self.dropped += 1
            self._waiting = (request, frames)
        self._engine.dispatch()

    def poll(self) -> FrameResult | None:
        """The newest result not yet taken, or None."""
        with self._lock:
            result, self._result = self._result, None
        return result

    @property
    def busy(self) -> bool:
        """A frame of this camera is with a worker or waiting for one."""
        with self._lock:
            return self._in_flight or self._waiting is not None

    def alive(self) -> bool:
        """A worker process is running, or none was needed yet (health checks)."""
        return self._engine.alive()

    def close(self):
        """Leave the engine (the workers stay for the other cameras and jobs)."""
        with self._lock:
            self._waiting = None
        self._engine.remove_feed(self)

    # ---- called by the engine, with its lock held ------------------------------------------

    def waiting(self) -> bool:
        with self._lock:
            return self._waiting is not None and not self._in_flight

    def take(self) -> tuple[FrameRequest, tuple] | None:
        """The waiting frame (with its main frame, if any), now with a worker."""
        with self._lock:
            taken, self._waiting = self._waiting, None
            if taken is not None:
                self._in_flight = True
                self.served_at = time.monotonic()
            return taken

    def finished(self, result: FrameResult | None):
        """The worker answered (None: it could not recognise that frame)."""
        with self._lock:
            self._in_flight = False
            if result is not None:
                self._result = result
                self.latency.observe(time.monotonic() - self.served_at)

    def lost(self):
        """The worker holding this camera's frame died or hung: that frame is lost."""
        with self._lock:
            self._in_flight = False
            self.restarts += 1
