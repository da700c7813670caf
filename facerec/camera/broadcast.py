"""The newest annotated frame of a camera, and every viewer of it.

A frame is annotated (boxes and names drawn on) and JPEG-encoded once for all its viewers
(once per requested width), and only while someone watches: with nobody watching, the
camera keeps the picture and its faces, and draws and encodes them when a viewer or a
snapshot asks. Each viewer waits on one frame counter and always gets the newest frame: a
slow viewer skips frames, it never builds a backlog.
"""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np

from . import drawing


class Broadcast:
    def __init__(self, jpeg_quality: int = 80):
        self.jpeg_quality = jpeg_quality
        self._cond = threading.Condition()
        self._frame_id = 0
        self._bgr: np.ndarray | None = None  # the newest frame, as captured
        self._faces: list = []  # what to draw on it
        self._annotated: tuple[int, np.ndarray | None] = (0, None)
        self._jpeg: tuple[int, bytes] = (0, b"")  # (frame id, its JPEG)
        self._encode_lock = threading.Lock()
        self._scaled: dict[int, tuple[int, bytes]] = {}  # width -> (frame id, jpeg)
        self._scale_locks: dict[int, threading.Lock] = {}
        self._width_viewers: dict[int, int] = {}
        self._viewers = 0
        self._closed = False
        self.encoded = 0  # full-size JPEGs encoded (one per watched frame)

    @property
    def viewers(self) -> int:
        return self._viewers

    @property
    def frame_id(self) -> int:
        return self._frame_id

    def publish(self, frame: np.ndarray, faces=()) -> int:
        """Make ``frame`` (BGR) with ``faces`` drawn on it the newest; returns its id."""
        with self._cond:
            self._frame_id += 1
            self._bgr, self._faces = frame, list(faces)
            # Viewers of a smaller width get their own size (encoded on their first request).
            watched = self._viewers > sum(self._width_viewers.values())
            frame_id = self._frame_id
        if watched:
            self._jpeg_of(frame_id)  # encoded once here, before the viewers wake
        with self._cond:
            self._cond.notify_all()
        return frame_id

    def placeholder(self, title: str, detail: str = "") -> int:
        """Show a card saying why there is no picture (stopped, unavailable...)."""
        return self.publish(drawing.placeholder(title, detail))

    def latest(self) -> tuple[int, bytes]:
        """``(frame id, JPEG)`` of the newest frame (encoded now if nobody watched it)."""
        with self._cond:
            frame_id = self._frame_id
        return self._jpeg_of(frame_id)

    def _jpeg_of(self, frame_id: int) -> tuple[int, bytes]:
        """The JPEG of frame ``frame_id``, or of a newer one when it has moved on."""
        with self._encode_lock:
            if self._jpeg[0] >= frame_id:
                return self._jpeg
            current, frame = self._drawn()
            if frame is None:
                return self._jpeg
            self._jpeg = (current, drawing.encode_jpeg(frame, self.jpeg_quality))
            self.encoded += 1
            return self._jpeg

    def frames(self, resend_after: float = 1.0, width: int | None = None, fps: float | None = None):
        """Yield JPEG frames for one viewer: always the newest, never a backlog.

        With no new frame for ``resend_after`` seconds (camera stopped, source stalled)
        the current frame is sent again so the page keeps showing it. ``width`` downscales
        (each width is encoded once per frame, shared by its viewers); ``fps`` caps the rate.
        """
        width = width or None
        period = 1.0 / fps if fps else 0.0
        due = 0.0
        with self._cond:
            self._viewers += 1
            if width:
                self._width_viewers[width] = self._width_viewers.get(width, 0) + 1
        try:
            last = -1
            while True:
                with self._cond:
                    self._cond.wait_for(
                        lambda seen=last: self._frame_id != seen or self._closed,
                        timeout=resend_after,
                    )
                    if self._closed:
                        return
                    fresh = self._frame_id != last
                    last = self._frame_id
                if period:
                    now = time.monotonic()
                    if fresh and now < due:
                        continue  # over this viewer's frame rate: skip to a later frame
                    due = max(due + period, now - period) if fresh else due
                jpeg = (self._scaled_jpeg(last, width) if width else None) or self._jpeg_of(last)[1]
                yield jpeg
        finally:
            with self._cond:
                self._viewers -= 1
                if width:
                    self._width_viewers[width] -= 1
                    if not self._width_viewers[width]:
                        del self._width_viewers[width]
                        self._scaled.pop(width, None)

    def _scaled_jpeg(self, frame_id: int, width: int) -> bytes | None:
        """Frame ``frame_id`` at ``width`` pixels, encoded once for every viewer of that width.

        None when the frame is not that wide (the full-size JPEG is sent).
        """
        with self._cond:
            lock = self._scale_locks.setdefault(width, threading.Lock())
        with lock:
            with self._cond:
                cached = self._scaled.get(width)
                if cached and cached[0] >= frame_id:
                    return cached[1]
            current, frame = self._drawn()
            if frame is None or width >= frame.shape[1]:
                return None
            height = max(1, round(frame.shape[0] * width / frame.shape[1]))
            small = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
            jpeg = drawing.encode_jpeg(small, self.jpeg_quality)
            with self._cond:
                if width in self._width_viewers:
                    self._scaled[width] = (current, jpeg)
            return jpeg

    def _drawn(self) -> tuple[int, np.ndarray | None]:
        """``(frame id, picture)`` of the newest frame with its faces drawn on, drawn once."""
        with self._cond:
            current, frame, faces = self._frame_id, self._bgr, self._faces
            if self._annotated[0] == current:
                return self._annotated
        if frame is not None and faces:
            frame = drawing.annotate(frame, faces)
        with self._cond:
            if self._annotated[0] < current:
                self._annotated = (current, frame)
        return current, frame

    def close(self):
        """End every viewer's stream."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
