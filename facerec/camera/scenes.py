"""Scene cuts: a cheap whole-frame change test between consecutive frames.

A cut (an edited video switching shots, a PTZ camera jumping to a preset, a source that loops
or reconnects) means no face of the previous frame can be assumed to be on the next one, so
every track ends there. Within a shot, consecutive frames have nearly the same grey-level
histogram even when people move or the camera pans; across a cut it changes at once.
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np

BINS = 32


def histogram(gray: np.ndarray) -> np.ndarray:
    """The normalised grey-level histogram of a (small) grey frame."""
    hist = cv2.calcHist([gray], [0], None, [BINS], [0, 256])
    return cv2.normalize(hist, hist, 1.0, 0.0, cv2.NORM_L1)


class SceneCutDetector:
    """Says whether each frame starts a new scene.

    A frame is a cut when the Bhattacharyya distance between its histogram and the previous
    frame's is over ``threshold`` and also ``ratio`` times the typical (median) change of the
    last frames, so a shaky or panning camera, whose every frame changes a little more, does
    not cut all the time.
    """

    def __init__(self, threshold: float = 0.15, ratio: float = 4.0, window: int = 30):
        self.threshold = threshold
        self.ratio = ratio
        self._recent: deque[float] = deque(maxlen=window)
        self._previous: np.ndarray | None = None

    def is_cut(self, gray: np.ndarray) -> bool:
        hist = histogram(gray)
        previous, self._previous = self._previous, hist
        if previous is None:
            return True  # the first frame starts the first scene
        change = float(cv2.compareHist(previous, hist, cv2.HISTCMP_BHATTACHARYYA))
        typical = float(np.median(self._recent)) if self._recent else 0.0
        self._recent.append(change)
        return change > self.threshold and change > self.ratio * typical
