"""Keeps face boxes on faces between two recognition results, with sparse optical flow.

Recognition results arrive a few frames after the frame they were computed on. The tracker
keeps a short history of small grayscale frames so a result can be carried forward from its
own frame to the one being shown, and moves every box along with the image in between.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace

import cv2
import numpy as np

TRACK_WIDTH = 320
HISTORY = 90


@dataclass(frozen=True)
class TrackedFace:
    box: tuple[float, float, float, float]  # top, right, bottom, left, in full-frame pixels
    user_id: int | None
    name: str | None
    distance: float | None


_LK = {
    "winSize": (15, 15),
    "maxLevel": 2,
    "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 10, 0.03),
}


class FaceTracker:
    def __init__(self):
        self._grays: OrderedDict[int, np.ndarray] = OrderedDict()
        self._scale = 1.0
        self.faces: list[TrackedFace] = []
        self.seq = -1  # the frame the current boxes belong to

    def add_frame(self, seq: int, bgr: np.ndarray):
        """Remember a (small, gray) copy of frame ``seq`` for later tracking."""
        self._scale = min(1.0, TRACK_WIDTH / bgr.shape[1])
        small = cv2.resize(bgr, None, fx=self._scale, fy=self._scale, interpolation=cv2.INTER_AREA)
        self._grays[seq] = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        while len(self._grays) > HISTORY:
            self._grays.popitem(last=False)

    def set_result(self, seq: int, faces: list[TrackedFace]):
        """Replace the boxes with a recognition result computed on frame ``seq``."""
        self.faces = list(faces)
        self.seq = seq

    def advance(self, seq: int) -> list[TrackedFace]:
        """Move the boxes from their frame to frame ``seq`` and return them."""
        if self.seq < 0 or seq <= self.seq:
            return self.faces
        if not self.faces:
            self.seq = seq
            return self.faces
        step = self.seq
        while step < seq:
            nxt = step + 1
            a, b = self._grays.get(step), self._grays.get(nxt)
            if a is not None and b is not None:
                self.faces = [self._flow(face, a, b) for face in self.faces]
            step = nxt
        self.seq = seq
        return self.faces

    def _flow(self, face: TrackedFace, prev: np.ndarray, cur: np.ndarray) -> TrackedFace:
        s = self._scale
        top, right, bottom, left = (v * s for v in face.box)
        h, w = prev.shape
        y0, y1 = int(max(0, top)), int(min(h, bottom))
        x0, x1 = int(max(0, left)), int(min(w, right))
        if y1 - y0 < 4 or x1 - x0 < 4:
            return face
        mask = np.zeros_like(prev)
        mask[y0:y1, x0:x1] = 255
        points = cv2.goodFeaturesToTrack(prev, 30, 0.01, 3, mask=mask)
        if points is None or len(points) < 3:
            return face
        moved, status, _err = cv2.calcOpticalFlowPyrLK(prev, cur, points, None, **_LK)
        good = status.reshape(-1) == 1
        if good.sum() < 3:
            return face
        delta = np.median((moved - points).reshape(-1, 2)[good], axis=0) / s
        dx, dy = float(delta[0]), float(delta[1])
        return replace(face, box=(top / s + dy, right / s + dx, bottom / s + dy, left / s + dx))
