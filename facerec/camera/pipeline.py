"""The pipeline of one camera: frames in, frames to show out, each with the faces found on it.

What goes to the face engine (the newest frame only: frames that arrive while it is busy are
dropped, never queued) is decided frame by frame, cheapest first:

- **nothing moves and no face is in view**: nothing (the frame is *gated*);
- **a scene cut**: the whole frame, at once (every face in it is new);
- **a face needs encoding** (new, its name in doubt, the enrolled people changed, or its
  re-check is due): the frame, at once, to be searched around the faces in view, with the
  faces that need no encoding marked as settled;
- **something moves where no face is known**: a search where it moves (and around the faces
  in view), at once when the movement starts (after ``PAUSE`` without any), and then no
  more often than the camera's movement interval (``Tuning.movement_interval``) while it
  goes on, nor so often that these searches take more than ``MOVEMENT_SHARE`` of a core
  (judged by how long the last one took): a scene that never stops moving costs a few
  searches a second, not every frame the engine can take, and someone coming into a still
  scene is searched on their first moving frame;
- **only the settled faces move**: a search around them, a few times a second;
- **nothing moves but faces are in view**: a search around them once a second, so that
  their boxes stay on them.

Regions covering most of the frame are searched as the whole frame (cheaper).

A frame is shown once a result covering it is in, or after at most ``delay`` frames (at once
when no result is coming for it, or results stop coming: the worker starting): faces are
drawn on the very frames they were found in, and a face that a result finds is drawn back
to the first frame of its scene where optical flow can follow it. Between results, tracks
(``tracks.Tracks``) carry each face and its consensus identity from frame to frame, and end
at scene cuts.

A camera with a detection sub-stream (``substream``: a second, smaller stream of the same
scene, read by a thread of its own) has its faces looked for in the sub-stream's newest frame
instead: the request (regions, settled faces) is scaled down onto that frame, and the main
frame goes with it, for the engine to encode each face that needs it from the main frame's
larger picture of it (``facerec.engine.worker.recognise``). The result's boxes are on the
main frame, where tracks and viewers have them. While the sub-stream has no fresh frame,
nothing goes to the engine and every track ends (no stale names): recognition pauses, the
main stream goes on.

No thread and no clock of its own: the capture thread calls ``push()`` for each frame, and
tests drive it with a fake engine feed and a fake clock.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from ..boxes import Box, area, grown, merged, overlap_of_smaller, scaled
from ..engine import FrameRequest
from ..gallery import RecognisedFace
from .motion import Motion
from .movement import MovementGate
from .rates import RateMeter
from .tracks import TrackEvent, Tracks
from .tuning import Tuning

# A held frame older than this (seconds) may leave beside another one to catch up.
CATCH_UP = 0.5
# A result counts as overdue after this long (seconds), or three times the usual wait if
# longer: frames are then shown without it (the worker is restarting). Frames are held at
# most ``delay`` frames anyway; this only says when to stop waiting altogether.
RESULTS_STALE = 2.0
# Searches around faces whose names are settled: while they move, and while all is still.
SETTLED_INTERVAL = 0.2
STILL_INTERVAL = 1.0
# Movement away from faces after this long without any (seconds: three frames at 30 fps)
# starts anew, and is searched at once whatever the movement interval; at a frame rate too
# low for three frames in that time (10 fps and less), after one frame without any at least.
PAUSE = 0.1
# While it goes on, searches for movement alone take at most this share of a core: one that
# took the engine longer (the whole frame moving: a panning camera, a crowd) waits longer
# than the movement interval before the next.
MOVEMENT_SHARE = 0.2
# Around a face, the search looks this far beyond its box (times its size), at least this
# wide (pixels of the frame): far enough for where it may have gone meanwhile.
FACE_MARGIN = 0.75
REGION_MIN = 160
MOVEMENT_MARGIN = 0.25
# Regions covering more than this share of the frame: the whole frame is searched instead.
WHOLE_FRAME = 0.6


@dataclass
class Shown:
    """A frame leaving the pipeline: what to draw on it and what happened to tracks."""

    seq: int
    index: int
    frame: np.ndarray
    faces: list[RecognisedFace] = field(default_factory=list)
    events: list[TrackEvent] = field(default_factory=list)


@dataclass
class Counters:
    """What a camera's pipeline did and skipped, since the camera was made (for /metrics)."""

    frames_gated: int = 0  # frames not sent to the face engine: nothing moved, no face
    detections: int = 0  # results of a search for faces
    encodings: int = 0  # faces encoded and matched
    encodings_skipped: int = 0  # faces found where a settled face was, not encoded
    last_detection: float = -float("inf")  # on the pipeline's clock


class Pipeline:
    def __init__(
        self,
        feed,
        tuning: Tuning,
        *,
        delay: int = 12,
        first_seq: int = 0,
        clock=time.monotonic,
        wall_clock=time.time,
        recognition_rate: RateMeter | None = None,
        counters: Counters | None = None,
        substream=None,
    ):
        """``feed``: the camera's handle on the engine (``submit(request, frame)``, ``poll()``,
        ``busy``: a frame is with the engine or waiting for it).

        ``first_seq``: frame numbers go on from there (a reopened source must not reuse the
        numbers that results of the previous run may still carry).

        ``substream``: the camera's detection sub-stream (``newest()``: ``(number, bgr)`` of
        its newest fresh frame, or None), or None to look for faces in the frames pushed.
        """
        self.feed = feed
        self.tuning = tuning
        self.delay = max(0, delay)
        self.clock = clock
        self.motion = Motion()
        self.gate = MovementGate(tuning.motion_area)
        self.tracks = Tracks(self.motion, tuning.tolerance, clock=wall_clock, ticker=clock)
        self.recognition_rate = recognition_rate or RateMeter(clock=clock)
        self.counters = counters or Counters()
        self.seq = self._first_seq = first_seq
        self._size = (0, 0)  # the frames' width, height
        self._held: deque = deque()  # (seq, index, frame, taken at): waiting for a result
        self._results: deque = deque()  # results not yet applied (their frame not shown yet)
        self._last_index: int | None = None
        self._newest_result = -1
        self._submitted: dict[int, float] = {}  # seq -> when, for frames not answered yet
        self._last_submitted = -1
        self._submitted_at = -float("inf")
        self._movement_at = -float("inf")  # when a frame went to be searched where it moved
        self._moved_at = -float("inf")  # when something last moved away from the faces...
        self._moved_seq = -1  # ...and on which frame
        self._movement_seq = -1  # the frame sent last to be searched where it moved...
        self._movement_cost = 0.0  # ...and the engine's seconds on the last one answered
        self._searches_movement = False  # whether the request being sent is such a search
        self._encoding: list = []  # the tracks whose faces the request being sent encodes
        self._wait = 0.0  # a running mean of seconds from a frame submitted to its result
        self.substream = substream
        self._detected: int | None = None  # the number of the sub-stream frame sent last

    def push(self, index: int, frame: np.ndarray) -> list[Shown]:
        """One captured frame in; the frames to show now (usually one, at times none or two)."""
        now = self.clock()
        self.seq += 1
        self._size = (frame.shape[1], frame.shape[0])
        # A file starting over is a cut whatever the picture looks like.
        looped = self._last_index is not None and index < self._last_index
        self._last_index = index
        cut = self.motion.add_frame(self.seq, frame, new_scene=looped)

        result = self.feed.poll()
        # A result for a frame of an earlier pipeline of the camera (before its source
        # reopened, or of its sub-stream alone) belongs to other frames: dropped.
        if result is not None and result.seq > self._first_seq:
            self._received(result, now)
        request = self._request(cut, now)
        if request is None:
            self.counters.frames_gated += 1
        elif self.substream is None:
            self._submit(request, frame, now)
        else:
            self._submit_substream(request, frame, now)
        self._held.append((self.seq, index, frame, now))
        return self._release(now)

    def _submit(self, request: FrameRequest, frame: np.ndarray, now: float, main=None):
        if main is None:
            self.feed.submit(request, frame)
        else:
            self.feed.submit(request, frame, main=main)
        self._last_submitted, self._submitted_at = self.seq, now
        self._submitted[self.seq] = now
        if self._searches_movement:
            self._movement_at, self._movement_seq = now, self.seq
        for track in self._encoding:
            track.asked(now)

    # ---- the detection sub-stream ----------------------------------------------------------

    def _submit_substream(self, request: FrameRequest, frame: np.ndarray, now: float):
        """``request``, asked of this main frame, asked of the sub-stream's newest frame (about
        the same moment, smaller): regions and settled faces scaled down onto it, faces to be
        looked for there and encoded from this main frame, their boxes coming back on it."""
        newest = self.substream.newest()
        if newest is None:
            # Unavailable or stalled: recognition pauses, and no name stays on screen that
            # nothing checks any more.
            if self.tracks.live:
                self.tracks.end_all()
            return
        number, small = newest
        if number == self._detected:
            return  # the sub-stream is slower than the main stream: this one was searched
        self._detected = number
        height, width = frame.shape[:2]
        sx, sy = width / small.shape[1], height / small.shape[0]
        regions = request.regions
        if regions is not None:
            regions = [scaled(box, 1 / sx, 1 / sy) for box in regions]
        settled = tuple(scaled(box, 1 / sx, 1 / sy) for box in request.settled)
        request = dataclasses.replace(request, regions=regions, settled=settled)
        self._submit(request, small, now, main=frame)

    # ---- what goes to the engine ----------------------------------------------------------

    def _received(self, result, now: float):
        self.recognition_rate.tick(now)
        if result.seq == self._movement_seq:
            self._movement_cost = result.seconds
        self._results.append(result)
        self._newest_result = max(self._newest_result, result.seq)
        sent = self._submitted.get(result.seq)
        if sent is not None:
            self._wait += 0.2 * (now - sent - self._wait)
        self._submitted = {seq: at for seq, at in self._submitted.items() if seq > result.seq}
        counters = self.counters
        counters.detections += 1
        counters.encodings += result.encoded
        counters.encodings_skipped += result.located
        counters.last_detection = now

    def _request(self, cut: bool, now: float) -> FrameRequest | None:
        """What to ask the engine about this frame, if anything (see the module docstring)."""
        tuning = self.tuning
        self._searches_movement, self._encoding = False, []
        if not tuning.motion_gate:
            return FrameRequest(self.seq, tuning)
        scale = self.motion.scale
        moving = [tuple(v / scale for v in box) for box in self._movement(cut)]
        if not moving:
            self.motion.mark_still(self.seq)  # the tracks' boxes stay: no optical flow
        if cut:
            self._searches_movement = True
            return FrameRequest(self.seq, tuning)  # a new scene: every face is new
        # Decided first from where the tracks were on the frame shown last (cheap), with a
        # margin; only a frame that goes to the engine has its faces carried to it.
        live = self.tracks.live
        width, height = self._size
        near = [grown(t.box, FACE_MARGIN, REGION_MIN, width, height) for t in live]
        elsewhere = [r for r in moving if not any(overlap_of_smaller(r, f) > 0.5 for f in near)]
        encode = [t.needs_encoding(now, tuning.recheck) for t in live]
        waited = now - self._submitted_at
        # Movement away from the faces in view is searched at once when it starts (after a
        # still moment), then at most once per movement interval while it goes on: a scene
        # that never stops moving (people gesturing, an audience) costs a search that often,
        # not every frame the engine can take.
        interval = tuning.movement_interval  # 0: no limit at all
        if interval:
            interval = max(interval, self._movement_cost / MOVEMENT_SHARE)
        # A still moment is a frame at least: at 10 fps two moving frames are PAUSE apart, and
        # without it every frame of a movement that goes on would be searched as a new one.
        paused = now - self._moved_at >= PAUSE and self._moved_seq < self.seq - 1
        search_movement = bool(elsewhere) and (paused or now - self._movement_at >= interval)
        if elsewhere:
            self._moved_at, self._moved_seq = now, self.seq
        faces_move = bool(live) and len(elsewhere) < len(moving)
        due = (
            search_movement  # something new
            or any(encode)  # a face to encode
            or (faces_move and waited >= SETTLED_INTERVAL)  # known faces move
            or (live and waited >= STILL_INTERVAL)  # they stand still
        )
        if not due:
            return None
        self._searches_movement = search_movement
        # Carried to this frame by optical flow when the engine takes the frame now; while it
        # is busy the frame may well be replaced by the next, so the boxes of the frame shown
        # last (a few frames old) do.
        carry = not self.feed.busy
        around, settled = [], []
        for track, needed in zip(live, encode, strict=True):
            box = self.motion.jump(track.box, self.tracks.seq, self.seq) if carry else track.box
            if box is None:
                continue
            around.append(grown(box, FACE_MARGIN, REGION_MIN, width, height))
            if needed:
                self._encoding.append(track)
            else:
                settled.append(box)
        if search_movement:
            around += [grown(r, MOVEMENT_MARGIN, REGION_MIN, width, height) for r in elsewhere]
        regions = merged(around)
        if sum(area(r) for r in regions) > WHOLE_FRAME * width * height:
            regions = None
        return FrameRequest(self.seq, tuning, regions=regions, settled=tuple(settled))

    def _movement(self, cut: bool) -> list[Box]:
        gray = self.motion.gray(self.seq)
        return self.gate.update(gray, cut) if gray is not None else []

    # ---- what is shown --------------------------------------------------------------------

    def _overdue(self, now: float) -> bool:
        """No result is to be waited for: none came yet (the worker is starting), or the one
        the held frames wait for is late (it is restarting)."""
        if self._newest_result < 0:
            return True
        if not self._submitted:
            return False
        oldest = min(self._submitted.values())
        return now - oldest > max(RESULTS_STALE, 3 * self._wait)

    def _release(self, now: float) -> list[Shown]:
        flowing = not self._overdue(now)
        shown: list[Shown] = []
        while self._held:
            seq, index, frame, taken = self._held[0]
            covered = self._newest_result >= seq
            coming = flowing and seq <= self._last_submitted  # a result will cover it
            if not (covered or len(self._held) > self.delay or not coming):
                break
            # One frame out per frame in: frames released together reach a viewer as one
            # (each viewer takes the newest), so a result must not flush a burst. Frames
            # older than CATCH_UP may go two at a time, so a slow source's delay does not
            # stay at its longest. Results that stopped coming flush what waited for them.
            if shown and flowing and now - taken < CATCH_UP:
                break
            if len(shown) > 1 and flowing:
                break
            self._held.popleft()
            shown.append(self._show(seq, index, frame))
        return shown

    def _show(self, seq: int, index: int, frame: np.ndarray) -> Shown:
        tracks = self.tracks
        tracks.advance(seq)
        while self._results and self._results[0].seq <= seq:
            done = self._results.popleft()
            tracks.apply(done.seq, done.faces, done.gallery_version)
        faces = tracks.faces()
        if self._results:  # the next result's new faces, carried back to this frame
            faces += tracks.preview(self._results[0].seq, self._results[0].faces)
        return Shown(seq, index, frame, faces, tracks.events())

    def finish(self) -> list[TrackEvent]:
        """The camera stops (or its source broke): every track ends."""
        self.tracks.end_all()
        return self.tracks.events()
