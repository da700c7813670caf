"""A camera's detection sub-stream: a second, smaller stream of the same scene that faces are
looked for in, while viewers watch the main stream (the way IP cameras offer a 320x180 or
640x360 "sub-stream" beside their full-size one).

The sub-stream has a thread of its own that reads it, keeps only its newest frame, and
reopens it when it drops, with the same pauses as the main stream; the two never wait for
each other. Recognition takes the newest sub-stream frame beside each main frame: faces are
looked for in it, and encoded from the main frame, where they are larger (each one found
again there around its box scaled onto it; see ``facerec.engine.worker.recognise``), their
boxes coming back on the main frame. While the sub-stream is unavailable
recognition pauses and the main stream goes on; while the main stream is unavailable the
sub-stream stays open and recognition goes on in its frames alone (``frames()``: faces
detected and encoded in them), the viewers seeing why the main stream is unavailable.
"""

from __future__ import annotations

import logging
import threading
import time

from .sources import SourceError, SourceOptions, StreamInfo, describe, open_source, redact

log = logging.getLogger(__name__)

# Longest pause between two attempts to open the sub-stream, in seconds (as the main stream).
RETRY_MAX = 2.0


class SubStream:
    def __init__(self, spec: str, options: SourceOptions, camera: str = "main"):
        self.spec = spec
        self.options = options
        self.camera = camera
        self.state = "stopped"
        self.error: str | None = None
        self.stream: StreamInfo | None = None
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)  # a new frame is the newest
        self._newest: tuple[int, object, float] | None = None  # (number, bgr, arrived at)
        self._count = 0
        self._since: tuple[int, float] | None = None  # (number, time) of the first frame
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self):
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop = threading.Event()
        self.state, self.error = "starting", None
        self._thread = threading.Thread(
            target=self._run, args=(self._stop,), name="facerec-substream", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0):
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        self._thread = None
        with self._lock:
            self._newest = None
        self.state = "stopped"

    def newest(self) -> tuple[int, object] | None:
        """``(number, bgr)`` of the newest sub-stream frame, or None when there is no fresh
        one (not open yet, unavailable, or stalled). ``number`` grows with every frame."""
        with self._lock:
            newest = self._newest
        # Older than the camera timeout: the reader is about to report a stall.
        if newest is None or time.monotonic() - newest[2] > self.options.timeout:
            return None
        return newest[0], newest[1]

    def frames(self, stop: threading.Event, seconds: float):
        """Each new frame as ``(number, bgr)`` for ``seconds`` (or until ``stop``), skipping
        those that came while the caller was busy: recognition on the sub-stream alone."""
        deadline = time.monotonic() + seconds
        last = None
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            with self._arrived:
                newest = self._newest
                if newest is None or newest[0] == last:
                    self._arrived.wait(min(left, 0.25))
                    continue
            last = newest[0]
            if time.monotonic() - newest[2] <= self.options.timeout:
                yield newest[0], newest[1]

    @property
    def source(self) -> str:
        return self.spec

    @property
    def running(self) -> bool:
        return self.state == "running"

    def snapshot(self):
        """The newest frame as ``(number, rgb)``, or None (what the Test button shows)."""
        newest = self.newest()
        return None if newest is None else (newest[0], newest[1][:, :, ::-1].copy())

    def measured_fps(self) -> float:
        """Frames a second since the sub-stream last opened."""
        with self._lock:
            since, newest = self._since, self._newest
        if since is None or newest is None or newest[2] <= since[1]:
            return 0.0
        return (newest[0] - since[0]) / (newest[2] - since[1])

    def status(self) -> dict:
        return {
            "source": describe(self.spec),
            "state": self.state,
            "error": self.error,
            "stream": self.stream.to_dict() if self.stream else None,
        }

    def _run(self, stop: threading.Event):
        backoff = 1.0
        while not stop.is_set():
            try:
                source = open_source(self.spec, self.options)
            except Exception as exc:  # SourceError, or an OpenCV error
                self._unavailable(exc, backoff)
                if stop.wait(backoff):
                    break
                backoff = min(backoff * 2, RETRY_MAX)
                continue
            try:
                backoff = 1.0
                first = True
                for _index, frame in source.frames(stop):
                    now = time.monotonic()
                    with self._lock:
                        self._count += 1
                        self._newest = (self._count, frame, now)
                        if first:
                            self._since = (self._count, now)
                        self._arrived.notify_all()
                    if first:
                        self.stream = source.stream_info(frame, now)
                        self.state, self.error, first = "running", None, False
            except Exception as exc:
                self._unavailable(exc, backoff)
            finally:
                source.release()
            if not stop.is_set() and stop.wait(backoff):
                break
        self.state = "stopped"

    def _unavailable(self, exc: BaseException, retry_in: float):
        why = str(exc) if isinstance(exc, SourceError) else f"camera error: {exc}"
        why = redact(why, self.spec)
        if self.error != why:
            log.warning(
                "camera %s: sub-stream %s unavailable: %s", self.camera, describe(self.spec), why
            )
        with self._lock:
            self._newest = None
        self.error = why
        self.state = "unavailable"
