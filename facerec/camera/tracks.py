"""Tracks: one face continuously in view, with one identity decided from all its results.

A track starts on a detection the recognition worker reports and is carried between results
by ``Motion`` (optical flow). Each later result confirms it where one of its faces overlaps
the track on the frame the result was computed on. A track ends
- at a scene cut (always: no face of the previous shot is on the next one),
- when its face leaves the picture,
- after ``max_misses`` results in a row with no face at its place.

Identity is a vote, not the latest result. Every result adds weight to its person (or to
"unknown"): the face's height in pixels (a big face is better evidence, as Frigate weighs by
face area) times how clearly the distance is on its side of the threshold. A track takes its
first result's identity; afterwards another identity takes over only when it leads even
without its newest result, so one stray result never renames a track.

Encoding a face costs as much as finding it, so a track asks for it only while it needs it
(``needs_encoding``): while it is new or its vote is close, after the gallery changed, and
otherwise once every re-check interval, so that a wrong name cannot stick. In between, a
result that found the face where the track is only confirms its place. The encoding and the
picture a sighting keeps are those of the track's best face (large, sharp, frontal).
"""

from __future__ import annotations

import itertools
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from ..boxes import iou, overlap_of_smaller
from ..gallery import RecognisedFace
from .motion import Box, Motion

MAX_MISSES = 3  # results in a row without the face before a track ends
MIN_IOU = 0.3  # overlap for a detection to belong to a track
DUPLICATE = 0.5  # two tracks overlapping over this share of the smaller box are one face
CONFIRM_RESULTS = 2  # results before a track is worth remembering (a sighting)
BOX_HISTORY = 120  # frames of box positions kept per track
SETTLE_VOTES = 2  # votes before a name may be settled
SETTLE_LEAD = 2.0  # ...and the name's weight over every other's together

UNKNOWN = None  # the "person" unknown faces vote for

_track_ids = itertools.count(1)


def certainty(distance: float | None, tolerance: float) -> float:
    """0.5 for a distance right at the threshold, up to 1.5 for one far on either side."""
    if distance is None or tolerance <= 0:
        return 1.0  # nobody enrolled: plainly unknown
    return 0.5 + min(1.0, abs(distance - tolerance) / tolerance)


def _same_face(a: Box, b: Box) -> bool:
    return iou(a, b) >= MIN_IOU or overlap_of_smaller(a, b) > DUPLICATE


def _score(face: RecognisedFace) -> float:
    """How good a picture of the face this result holds (faces.Quality.score)."""
    return face.quality.score if face.quality is not None else face.height


@dataclass(frozen=True)
class TrackSummary:
    """What a track amounts to at one moment (handed to other threads: immutable)."""

    track_id: int
    user_id: int | None
    name: str | None
    distance: float | None  # the best (smallest) distance among results for this identity
    started: float  # wall-clock seconds (time.time())
    ended: float | None
    frames: int
    encoding: np.ndarray | None = field(default=None, repr=False, compare=False)
    crop: bytes | None = field(default=None, repr=False, compare=False)
    quality: object | None = field(default=None, repr=False, compare=False)  # faces.Quality


@dataclass(frozen=True)
class TrackEvent:
    kind: str  # "started" | "updated" | "ended"
    track: TrackSummary


class Track:
    def __init__(
        self, face: RecognisedFace, seq: int, tolerance: float, now: float, tick: float = 0.0
    ):
        """``now``: wall-clock seconds (when it started); ``tick``: the pipeline's clock."""
        self.id = next(_track_ids)
        self.tolerance = tolerance
        self.box: Box = face.box
        self.boxes: OrderedDict[int, Box] = OrderedDict({seq: face.box})
        self.scores: dict[int | None, float] = {}
        self.names: dict[int, str | None] = {}
        self.closest: dict[int | None, float] = {}  # smallest distance
        self.finest: dict[int | None, RecognisedFace] = {}  # best picture (faces.quality)
        self.voted_at = tick  # when it last got a vote (the pipeline's clock)
        self.recheck_asked = -float("inf")  # when its settled face was last sent to be encoded
        self.identity: int | None = UNKNOWN
        self.results = 0
        self.misses = 0
        self.frames = 0
        self.started = now
        self.ended: float | None = None
        self.announced = False  # whether "started" was reported
        self.vote(face, tick)

    # ---- identity ------------------------------------------------------------------------

    def vote(self, face: RecognisedFace, tick: float = 0.0):
        """Count one result's face towards the track's identity."""
        self.voted_at = tick
        weight = max(face.height, 1.0) * certainty(face.distance, self.tolerance)
        who = face.user_id
        self.scores[who] = self.scores.get(who, 0.0) + weight
        if who is not None:
            self.names[who] = face.name  # the newest name: a rename shows at once
        if face.distance is not None:
            self.closest[who] = min(face.distance, self.closest.get(who, face.distance))
        if who not in self.finest or _score(face) > _score(self.finest[who]):
            self.finest[who] = face
        if self.results == 0:
            self.identity = who
        else:
            leader = max(self.scores, key=lambda k: (self.scores[k], k == self.identity))
            if leader != self.identity:
                without_newest = self.scores[leader] - (weight if leader == who else 0.0)
                if without_newest > self.scores.get(self.identity, 0.0):
                    self.identity = leader
        self.results += 1

    def forget_votes(self):
        """The gallery changed (someone enrolled, renamed, deleted): start the vote afresh."""
        self.scores.clear()
        self.names.clear()
        self.closest.clear()
        self.finest.clear()
        self.results = 0

    def settled(self) -> bool:
        """Enough votes, and its name clearly ahead of every other together."""
        if self.results < SETTLE_VOTES:
            return False
        lead = self.scores.get(self.identity, 0.0)
        others = sum(score for who, score in self.scores.items() if who != self.identity)
        return lead >= SETTLE_LEAD * others

    def needs_encoding(self, tick: float, recheck: float) -> bool:
        """Whether its face should be encoded at the next result (``tick``: now, on the
        pipeline's clock; ``recheck``: seconds between two votes of a settled track).

        A settled track's re-check is asked once: the frames that follow, until its vote
        is in, find it without encoding it again."""
        return not self.settled() or tick - max(self.voted_at, self.recheck_asked) >= recheck

    def asked(self, tick: float):
        """Its face was sent to be encoded (``tick``: the pipeline's clock)."""
        if self.settled():
            self.recheck_asked = tick

    def face(self) -> RecognisedFace:
        """The track where it is now, with its consensus identity."""
        return RecognisedFace(self.box, self.identity, self.name, self.closest.get(self.identity))

    @property
    def name(self) -> str | None:
        return self.names.get(self.identity) if self.identity is not None else None

    def summary(self) -> TrackSummary:
        face = self.finest.get(self.identity)
        return TrackSummary(
            track_id=self.id,
            user_id=self.identity,
            name=self.name,
            distance=self.closest.get(self.identity),
            started=self.started,
            ended=self.ended,
            frames=self.frames,
            encoding=face.encoding if face else None,
            crop=face.crop if face else None,
            quality=face.quality if face else None,
        )

    # ---- position ------------------------------------------------------------------------

    def place(self, seq: int, box: Box):
        self.box = box
        self.boxes[seq] = box
        while len(self.boxes) > BOX_HISTORY:
            self.boxes.popitem(last=False)

    def box_at(self, seq: int) -> Box | None:
        return self.boxes.get(seq)


class Tracks:
    """Every track of one camera. Driven by the capture thread, frame after frame.

    Per published frame ``seq``: ``advance(seq)`` moves the tracks onto it (ending them at a
    cut or when their face left), then ``apply(seq, faces, gallery_version)`` for each
    recognition result computed on a frame up to ``seq``. ``faces()`` is what to draw;
    ``events()`` hands over what happened to tracks since the last call.
    """

    def __init__(
        self,
        motion: Motion,
        tolerance: float = 0.6,
        *,
        max_misses: int = MAX_MISSES,
        confirm_results: int = CONFIRM_RESULTS,
        clock=time.time,
        ticker=time.monotonic,
    ):
        """``clock``: wall-clock time for when tracks start and end; ``ticker``: the
        pipeline's clock, for when a track last got a vote."""
        self.motion = motion
        self.tolerance = tolerance
        self.max_misses = max_misses
        self.confirm_results = confirm_results
        self.clock = clock
        self.ticker = ticker
        self.live: list[Track] = []
        self.seq = -1
        self.gallery_version: int | None = None
        self.stale_results = 0  # results dropped because a cut came after their frame
        self._events: list[TrackEvent] = []
        self._preview_seq = -1
        self._preview: list[dict[int, Box | None]] = []

    def advance(self, seq: int):
        """Carry every track onto frame ``seq``."""
        if self.seq < 0:
            self.seq = seq
        while self.seq < seq:
            step = self.seq
            self.seq += 1
            if not self.motion.same_scene(step, self.seq):
                self.end_all()
                continue
            for track in list(self.live):
                box = self.motion.step(track.box, step)
                if box is None:
                    self._end(track)
                else:
                    track.place(self.seq, box)
        self._merge_duplicates()  # flow may carry two tracks onto one face
        for track in self.live:
            track.frames += 1

    def apply(self, seq: int, faces: list[RecognisedFace], gallery_version: int | None = None):
        """A recognition result computed on frame ``seq`` (at most the current frame)."""
        if gallery_version is not None:
            if self.gallery_version is not None and gallery_version != self.gallery_version:
                for track in self.live:
                    track.forget_votes()
            self.gallery_version = gallery_version
        if not self.motion.same_scene(seq, self.seq):
            self.stale_results += 1  # a cut since: its faces are not on this picture
            return
        # A face is compared with each track where the track was on frame ``seq``; with a
        # track that began after ``seq`` (results overtaking each other), the face is carried
        # forward to where the track is now, so one face never starts a second track.
        carried: dict[int, Box | None] = {}

        def now_box(i: int) -> Box | None:
            if i not in carried:
                carried[i] = self.motion.move(faces[i].box, seq, self.seq)
            return carried[i]

        pairs = []
        for i, face in enumerate(faces):
            for j, track in enumerate(self.live):
                then = track.box_at(seq)
                if then is not None:
                    pairs.append((iou(face.box, then), i, j))
                elif (moved := now_box(i)) is not None:
                    pairs.append((iou(moved, track.box), i, j))
        pairs.sort(reverse=True)
        matched_faces, matched_tracks = set(), set()
        for overlap, i, j in pairs:
            if overlap < MIN_IOU:
                break
            if i in matched_faces or j in matched_tracks:
                continue
            matched_faces.add(i)
            matched_tracks.add(j)
            track = self.live[j]
            self._confirm(track, faces[i], seq, None if track.box_at(seq) else now_box(i))
        for j, track in enumerate(list(self.live)):
            if j not in matched_tracks and track.box_at(seq) is not None:
                track.misses += 1
                if track.misses >= self.max_misses:
                    self._end(track)
        for i, face in enumerate(faces):
            if i not in matched_faces and face.identified:
                self._start(face, seq)
        self._merge_duplicates()

    def _confirm(self, track: Track, face: RecognisedFace, seq: int, now: Box | None = None):
        """``face`` (found on frame ``seq``) is this track's; ``now``: its box carried to the
        current frame, when the track has no box for ``seq``."""
        if now is None:
            # The detection is where the face really was on frame `seq`; the flow since then
            # says how far it moved.
            then = track.box_at(seq)
            shift = [cur - before for cur, before in zip(track.box, then, strict=True)]
            now = tuple(v + d for v, d in zip(face.box, shift, strict=True))
        track.place(self.seq, now)
        track.misses = 0
        if not face.identified:
            return  # found where it was expected, not encoded: its name stands
        before = track.identity
        track.vote(face, self.ticker())
        if not track.announced and track.results >= self.confirm_results:
            track.announced = True
            self._events.append(TrackEvent("started", track.summary()))
        elif track.announced and track.identity != before:
            self._events.append(TrackEvent("updated", track.summary()))

    def _start(self, face: RecognisedFace, seq: int):
        box = self.motion.move(face.box, seq, self.seq)
        if box is None:
            return
        track = Track(face, seq, self.tolerance, self.clock(), self.ticker())
        track.place(self.seq, box)
        self.live.append(track)
        if track.results >= self.confirm_results:
            track.announced = True
            self._events.append(TrackEvent("started", track.summary()))

    def _merge_duplicates(self):
        """Two tracks on one face (boxes overlapping over ``DUPLICATE`` of the smaller) are
        one person: the one with more behind it (announced, more votes, older) stays, and
        the other ends there. One box is drawn per face."""
        ranked = sorted(self.live, key=lambda t: (t.announced, t.results, -t.id), reverse=True)
        kept: list[Track] = []
        for track in ranked:
            if any(overlap_of_smaller(track.box, other.box) > DUPLICATE for other in kept):
                self._end(track)
            else:
                kept.append(track)

    def _end(self, track: Track):
        self.live.remove(track)
        track.ended = self.clock()
        if track.announced:
            self._events.append(TrackEvent("ended", track.summary()))

    def end_all(self):
        """End every track (a scene cut, or the camera stopping)."""
        for track in list(self.live):
            self._end(track)

    def faces(self) -> list[RecognisedFace]:
        return [track.face() for track in self.live]

    def preview(self, seq: int, faces: list[RecognisedFace]) -> list[RecognisedFace]:
        """The faces of a result computed on a later frame ``seq`` that no track holds yet,
        carried back to the current frame (while the flow can follow them there), so that a
        face is named from the first frames it is on, not from the first one recognised."""
        if seq <= self.seq or not self.motion.same_scene(self.seq, seq):
            return []
        if seq != self._preview_seq:
            self._preview_seq = seq
            self._preview = [{seq: face.box} for face in faces]
        shown = []
        for face, boxes in zip(faces, self._preview, strict=True):
            box = self._carry_back(boxes, self.seq)
            if box is not None and not any(_same_face(box, t.box) for t in self.live):
                shown.append(face.moved(box))
        return shown

    def _carry_back(self, boxes: dict[int, Box | None], target: int) -> Box | None:
        earliest = min(boxes)
        box = boxes[earliest]
        while earliest > target and box is not None:
            box = self.motion.back(box, earliest)
            earliest -= 1
            boxes[earliest] = box
        return boxes.get(target)

    def events(self) -> list[TrackEvent]:
        events, self._events = self._events, []
        return events
