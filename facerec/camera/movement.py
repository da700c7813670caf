"""Whether anything moves in a camera's picture, and where: the gate before face detection.

Each small grey frame the tracker already keeps is compared with a background that adapts
(a running average), so slow light changes fade into it; a pixel has changed when it differs
from the background by more than sensor noise (a few times the typical difference of the
whole picture, and never less than ``MIN_CHANGE`` grey levels, on a blurred copy). Something
moves when at least ``min_area`` of the picture changed; the changed pixels, joined up, give
the moving regions. A scene cut is movement everywhere (and starts a new background).
"""

from __future__ import annotations

import cv2
import numpy as np

from ..boxes import Box

MIN_CHANGE = 10.0  # grey levels, on the blurred frame
NOISE_FACTOR = 4.0  # a change this many times the picture's median change is not noise
ADAPT = 0.05  # how fast the background takes in what stays (per frame)
_OPEN = np.ones((3, 3), np.uint8)
_JOIN = np.ones((9, 9), np.uint8)


class MovementGate:
    def __init__(self, min_area: float = 0.001):
        """``min_area``: the share of the picture that must change to count as movement."""
        self.min_area = min_area
        self._background: np.ndarray | None = None

    def update(self, gray: np.ndarray, cut: bool = False) -> list[Box]:
        """The moving regions of this frame, in its own pixels ([] when nothing moves)."""
        height, width = gray.shape[:2]
        blurred = cv2.GaussianBlur(gray, (5, 5), 0).astype(np.float32)
        if cut or self._background is None or self._background.shape != blurred.shape:
            self._background = blurred
            return [(0.0, float(width), float(height), 0.0)]
        change = cv2.absdiff(blurred, self._background)
        # The typical change, from one pixel in 16 (the median of all costs more than the rest).
        threshold = max(MIN_CHANGE, NOISE_FACTOR * float(np.median(change[::4, ::4])))
        changed = cv2.morphologyEx((change > threshold).astype(np.uint8), cv2.MORPH_OPEN, _OPEN)
        cv2.accumulateWeighted(blurred, self._background, ADAPT)
        if changed.mean() < self.min_area:
            return []
        joined = cv2.dilate(changed, _JOIN)
        contours, _hierarchy = cv2.findContours(joined, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        regions = []
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            regions.append((float(y), float(x + w), float(y + h), float(x)))
        return regions
