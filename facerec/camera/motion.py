"""How boxes move between frames: sparse optical flow over small grey copies of the frames.

Recognition results arrive a few frames after the frame they were computed on, and only a
few times a second. ``Motion`` keeps a short history of small grey frames, says which scene
each belongs to (``scenes.SceneCutDetector``), and moves a box from one frame to a later one
by the median flow of the corner points inside it.
"""

from __future__ import annotations

from collections import OrderedDict

import cv2
import numpy as np

from .scenes import SceneCutDetector

TRACK_WIDTH = 320
HISTORY = 90

Box = tuple[float, float, float, float]  # top, right, bottom, left, in full-frame pixels

_LK = {
    "winSize": (15, 15),
    "maxLevel": 2,
    "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 10, 0.03),
}


class Motion:
    def __init__(self, history: int = HISTORY):
        self.history = history
        self._grays: OrderedDict[int, np.ndarray] = OrderedDict()
        self._scenes: OrderedDict[int, int] = OrderedDict()
        self._still: set[int] = set()  # frames in which the motion gate saw nothing move
        self._cuts = SceneCutDetector()
        self._scene = 0
        self._scale = 1.0
        self._size = (0, 0)  # full-frame width, height

    def add_frame(self, seq: int, bgr: np.ndarray, new_scene: bool = False) -> bool:
        """Remember a small grey copy of frame ``seq``; True if it starts a new scene.

        ``new_scene`` forces a cut (a looping file starting again, a reopened source).
        """
        height, width = bgr.shape[:2]
        self._size = (width, height)
        self._scale = min(1.0, TRACK_WIDTH / width)
        small = cv2.resize(bgr, None, fx=self._scale, fy=self._scale, interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        cut = self._cuts.is_cut(gray) or new_scene
        if cut:
            self._scene += 1
        self._grays[seq] = gray
        self._scenes[seq] = self._scene
        while len(self._grays) > self.history:
            oldest, _gray = self._grays.popitem(last=False)
            self._scenes.popitem(last=False)
            self._still.discard(oldest)
        return cut

    def mark_still(self, seq: int):
        """Nothing moved in frame ``seq`` (the motion gate says so): a box stays where it
        was on the frame before, with no optical flow worked out."""
        if seq in self._grays:
            self._still.add(seq)

    def gray(self, seq: int) -> np.ndarray | None:
        """The small grey copy of frame ``seq`` (``scale`` times its size)."""
        return self._grays.get(seq)

    @property
    def scale(self) -> float:
        """The small grey frames' size over the full frames'."""
        return self._scale

    def scene(self, seq: int) -> int | None:
        """The scene frame ``seq`` belongs to (None once it is out of the history)."""
        return self._scenes.get(seq)

    def same_scene(self, a: int, b: int) -> bool:
        scene = self.scene(a)
        return scene is not None and scene == self.scene(b)

    def move(self, box: Box, start: int, end: int) -> Box | None:
        """``box`` on frame ``start`` carried to frame ``end`` (same scene), or None if the
        face left the picture or the frames are no longer known."""
        if not self.same_scene(start, end):
            return None
        for seq in range(start, end):
            box = self.step(box, seq)
            if box is None:
                return None
        return box

    def jump(self, box: Box, start: int, end: int) -> Box | None:
        """``box`` on frame ``start`` carried to frame ``end`` in one look (cheaper than
        ``move`` over many frames, for a guess of where a face is now); None if it left the
        picture or the frames are not of one scene."""
        if start == end:
            return box
        prev, cur = self._grays.get(start), self._grays.get(end)
        if prev is None or cur is None or not self.same_scene(start, end):
            return None
        return self._inside(self._flow(box, prev, cur))

    def _inside(self, box: Box) -> Box | None:
        top, right, bottom, left = box
        cy, cx = (top + bottom) / 2, (left + right) / 2
        width, height = self._size
        return box if 0 <= cx < width and 0 <= cy < height else None

    def step(self, box: Box, seq: int) -> Box | None:
        """``box`` moved from frame ``seq`` to frame ``seq + 1``; None when it left the picture.

        A box without enough texture to follow stays where it is, and so does every box
        when nothing moved in frame ``seq + 1``.
        """
        if seq + 1 in self._still:
            return box
        prev, cur = self._grays.get(seq), self._grays.get(seq + 1)
        if prev is None or cur is None:
            return box
        return self._inside(self._flow(box, prev, cur))

    def back(self, box: Box, seq: int) -> Box | None:
        """``box`` on frame ``seq`` carried back to frame ``seq - 1``, or None unless the
        flow clearly follows it there (same scene, enough of its points found again)."""
        cur, prev = self._grays.get(seq), self._grays.get(seq - 1)
        if cur is None or prev is None or not self.same_scene(seq - 1, seq):
            return None
        return self._flow(box, cur, prev, strict=True)

    def _flow(self, box: Box, prev: np.ndarray, cur: np.ndarray, strict: bool = False):
        """The box moved by the median flow of its corners; ``box`` itself when there is too
        little texture to tell (None instead when ``strict``)."""
        lost = None if strict else box
        s = self._scale
        top, right, bottom, left = (v * s for v in box)
        h, w = prev.shape
        y0, y1 = int(max(0, top)), int(min(h, bottom))
        x0, x1 = int(max(0, left)), int(min(w, right))
        if y1 - y0 < 4 or x1 - x0 < 4:
            return lost
        mask = np.zeros_like(prev)
        mask[y0:y1, x0:x1] = 255
        points = cv2.goodFeaturesToTrack(prev, 30, 0.01, 3, mask=mask)
        if points is None or len(points) < 3:
            return lost
        moved, status, _err = cv2.calcOpticalFlowPyrLK(prev, cur, points, None, **_LK)
        good = status.reshape(-1) == 1
        if good.sum() < 3 or (strict and good.sum() < 0.6 * len(points)):
            return lost
        delta = np.median((moved - points).reshape(-1, 2)[good], axis=0) / s
        dx, dy = float(delta[0]), float(delta[1])
        return (top / s + dy, right / s + dx, bottom / s + dy, left / s + dx)
