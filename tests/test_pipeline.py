"""A camera's pipeline (facerec.camera.pipeline) on its own: a fake engine feed, a fake clock,
no thread. What is shown when, and with which faces."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest

from facerec.camera.pipeline import CATCH_UP, MOVEMENT_SHARE, Pipeline
from facerec.camera.tuning import Tuning
from facerec.engine import FrameResult
from facerec.gallery import RecognisedFace

FPS = 30.0
BOX = (100.0, 220.0, 220.0, 100.0)  # top, right, bottom, left


def face(user_id=1, box=BOX):
    return RecognisedFace(box, user_id, {1: "Ada"}.get(user_id), 0.4)


def scene(seed: int = 1, brightness: int = 120) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.integers(-40, 40, (360, 640, 1))
    return np.clip(brightness + noise, 0, 255).astype(np.uint8).repeat(3, axis=2)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeFeed:
    """Stands for the engine: records what is submitted, answers what the test says."""

    def __init__(self):
        self.requests = []
        self.sizes = []  # (width, height) of each frame submitted
        self.mains = []  # ...and of the main frame that went with it (None: none did)
        self.answers: deque[FrameResult] = deque()

    def submit(self, request, frame, main=None):
        self.requests.append(request)
        self.sizes.append((frame.shape[1], frame.shape[0]))
        self.mains.append(None if main is None else (main.shape[1], main.shape[0]))

    def poll(self):
        return self.answers.popleft() if self.answers else None

    busy = False  # answers come when the test says; the engine is never seen busy

    def answer(self, seq: int, faces=(), seconds: float = 0.1):
        """A result for frame ``seq`` that took the engine ``seconds``."""
        self.answers.append(FrameResult(seq, list(faces), seconds, 1))


# Every frame to the engine (the gate off), for the rules of what is shown when.
EVERY_FRAME = Tuning(motion_gate=False)


class Camera:
    """A pipeline fed at 30 fps (or ``fps``) from a fake clock."""

    def __init__(self, delay=3, tuning: Tuning = EVERY_FRAME, first_seq=0, substream=None, fps=FPS):
        self.fps = fps
        self.clock = Clock()
        self.feed = FakeFeed()
        self.pipeline = Pipeline(
            self.feed,
            tuning,
            delay=delay,
            first_seq=first_seq,
            clock=self.clock,
            substream=substream,
        )
        self.index = 0
        self.picture = scene()

    def frame(self, picture=None, index=None):
        """One frame captured; the frames shown as ``(seq, names drawn)``."""
        self.clock.now += 1 / self.fps
        index = self.index if index is None else index
        self.index = index + 1
        shown = self.pipeline.push(index, self.picture if picture is None else picture)
        return [(s.seq, sorted(f.name or "?" for f in s.faces)) for s in shown]


def test_is_every_frame_shown_at_once_while_no_results_come():
    camera = Camera(delay=3)
    assert [camera.frame() for _ in range(5)] == [[(n, [])] for n in range(1, 6)]


def test_does_every_frame_go_to_the_engine_with_the_cameras_tuning():
    tuning = Tuning(tolerance=0.5, detect_width=480, motion_gate=False)
    camera = Camera(tuning=tuning, first_seq=41)  # numbers go on after a reopened source
    for _ in range(3):
        camera.frame()
    assert [r.seq for r in camera.feed.requests] == [42, 43, 44]
    assert all(r.tuning is tuning for r in camera.feed.requests)


def test_is_a_frame_held_until_its_result_is_in_and_drawn_with_its_faces():
    camera = Camera(delay=5)
    assert camera.frame() == [(1, [])]  # no results yet: shown at once
    camera.feed.answer(1)
    assert camera.frame() == []  # results come now: frame 2 waits for its own
    assert camera.frame() == []
    camera.feed.answer(3, [face()])  # a result computed on frame 3
    assert camera.frame() == [(2, ["Ada"])]  # Ada drawn back to frame 2 (same scene)
    assert camera.frame() == [(3, ["Ada"])]  # one frame out per frame in: no burst
    assert camera.frame() == []  # frame 4 waits for a result at least as new


def test_does_a_frame_leave_after_delay_frames_without_its_result():
    camera = Camera(delay=3)
    camera.frame()
    shown = []
    for _ in range(8):
        camera.feed.answer(1)  # results keep coming, but for an old frame
        shown.append(camera.frame())
    assert shown[:3] == [[], [], []]  # held: at most `delay` frames
    assert shown[3:] == [[(n, [])] for n in range(2, 7)]  # then one out per frame in


def test_do_frames_held_long_leave_two_at_a_time_to_catch_up():
    camera = Camera(delay=12)
    camera.frame()
    camera.feed.answer(1)
    for _ in range(6):
        camera.frame()  # held, waiting for results
    camera.clock.now += CATCH_UP  # a slow result: the held frames are old now
    camera.feed.answer(7)
    assert [seq for seq, _names in camera.frame()] == [2, 3]


def test_does_a_looping_file_end_every_track_and_report_it():
    camera = Camera(delay=0)
    for _ in range(3):
        camera.frame(index=10)  # the same picture at the end of the file...
        camera.feed.answer(camera.pipeline.seq, [face()])
    assert camera.frame(index=11) == [(4, ["Ada"])]
    shown = camera.pipeline.push(0, camera.picture)  # ...and the file starting over
    assert shown[0].faces == []
    assert [e.kind for e in shown[0].events] == ["ended"]
    assert camera.pipeline.finish() == []  # nothing left to end


# ---- the gate: what goes to the engine at all -----------------------------------------------


def noisy(picture: np.ndarray, rng) -> np.ndarray:
    """``picture`` with fresh sensor noise, as a still camera delivers it frame after frame."""
    noise = rng.normal(0, 6, picture.shape)
    return np.clip(picture.astype(float) + noise, 0, 255).astype(np.uint8)


def with_square(picture: np.ndarray, left: int, top: int = 150, size: int = 80) -> np.ndarray:
    """Something bright (a person, as far as movement goes) at ``left``."""
    out = picture.copy()
    out[top : top + size, left : left + size] = 250
    return out


def answering(camera, frames, faces=(), seconds: float = 0.1):
    """Feed ``frames``; every new request is answered at once with ``faces``."""
    for picture in frames:
        asked = len(camera.feed.requests)
        camera.frame(picture)
        if len(camera.feed.requests) > asked:
            camera.feed.answer(camera.feed.requests[-1].seq, faces, seconds)


def test_does_a_still_empty_scene_send_nothing_to_the_engine():
    camera = Camera(tuning=Tuning())
    rng = np.random.default_rng(3)
    shown = [camera.frame(noisy(camera.picture, rng)) for _ in range(90)]
    assert len(camera.feed.requests) == 1  # the first frame starts the scene: searched whole
    assert camera.feed.requests[0].regions is None
    assert camera.pipeline.counters.frames_gated == 89
    assert all(len(out) == 1 for out in shown)  # and the stream goes on, frame by frame


def test_is_someone_entering_searched_where_they_move_and_nowhere_else():
    camera = Camera(tuning=Tuning())
    for _ in range(5):
        camera.frame()
    asked = len(camera.feed.requests)
    camera.frame(with_square(camera.picture, left=400))
    (request,) = camera.feed.requests[asked:]
    assert request.settled == ()
    (region,) = request.regions  # around the movement, not the whole frame
    top, right, bottom, left = region
    assert left <= 400 and right >= 480 and top <= 150 and bottom >= 230
    assert (right - left) * (bottom - top) < 0.5 * 640 * 360


def test_is_a_scene_cut_searched_whole():
    camera = Camera(tuning=Tuning())
    for _ in range(3):
        camera.frame()
    asked = len(camera.feed.requests)
    camera.frame(scene(seed=9, brightness=40))
    (request,) = camera.feed.requests[asked:]
    assert request.regions is None


def test_is_a_settled_face_located_not_encoded_until_its_recheck_is_due():
    tuning = Tuning(recheck=2.0)
    camera = Camera(tuning=tuning, delay=0)
    answering(camera, [camera.picture] * 6, [face()])  # new: encoded until its name settles
    votes = camera.pipeline.tracks.live[0].results
    assert votes >= 3
    asked = len(camera.feed.requests)
    answering(camera, [camera.picture] * 45, [face()])  # 1.5 s, nothing moving
    later = camera.feed.requests[asked:]
    assert len(later) == 1  # a look once a second keeps the box on the face
    assert len(later[0].settled) == 1  # ...where the face is found, not encoded
    assert later[0].regions and len(later[0].regions) == 1  # around the face only
    camera.clock.now += tuning.recheck  # the re-check is due: encoded again
    asked = len(camera.feed.requests)
    camera.frame()
    (due,) = camera.feed.requests[asked:]
    assert due.settled == ()


def moving_square(picture: np.ndarray, frames: int):
    """``frames`` pictures of something that never stops moving, over ``picture``."""
    rng = np.random.default_rng(5)
    for n in range(frames):
        yield noisy(with_square(picture, left=40 + (n * 7) % 480), rng)


def test_does_constant_movement_away_from_faces_cost_a_few_searches_a_second():
    tuning = Tuning(movement_interval=0.25)
    camera = Camera(tuning=tuning, delay=0)
    answering(camera, [camera.picture] * 5)
    asked, first = len(camera.feed.requests), camera.pipeline.seq + 1
    # 3 s of movement, the engine always free, each search cheap (a small region)
    answering(camera, moving_square(camera.picture, 90), seconds=0.02)
    searches = camera.feed.requests[asked:]
    assert len(searches) <= 3 / tuning.movement_interval + 1
    assert len(searches) >= 3 / tuning.movement_interval - 1  # ...but searched all along
    assert searches[0].seq == first  # its first moving frame: at once
    assert all(r.regions for r in searches)  # where it moves, not the whole frame


# 29.97 fps divided by three, and 8 fps: two moving frames are a tenth of a second apart or
# more, as long as the pause after which movement counts as new.
@pytest.mark.parametrize("fps", [29.97 / 3, 8.0])
def test_does_constant_movement_at_a_low_frame_rate_cost_a_search_per_interval_not_per_frame(
    fps,
):
    tuning = Tuning(movement_interval=0.25)
    camera = Camera(tuning=tuning, delay=0, fps=fps)
    answering(camera, [camera.picture] * 3)
    asked, first = len(camera.feed.requests), camera.pipeline.seq + 1
    frames = round(3 * fps)  # 3 s of movement, the engine always free, each search cheap
    answering(camera, moving_square(camera.picture, frames), seconds=0.02)
    searches = camera.feed.requests[asked:]
    assert len(searches) <= 3 / tuning.movement_interval + 1, (len(searches), frames)
    assert len(searches) >= 3 / (2 * tuning.movement_interval)  # ...but searched all along
    assert searches[0].seq == first  # its first moving frame (after a still one): at once


def test_do_costly_searches_for_movement_take_at_most_their_share_of_a_core():
    camera = Camera(tuning=Tuning(movement_interval=0.25), delay=0)
    answering(camera, [camera.picture] * 5)
    asked = len(camera.feed.requests)
    # 6 s of movement, each search 0.3 s of the engine's time (the whole frame, say)
    answering(camera, moving_square(camera.picture, 180), seconds=0.3)
    searched = 0.3 * (len(camera.feed.requests) - asked)
    assert searched <= MOVEMENT_SHARE * 6 + 0.3  # the first, at once, comes on top


def test_does_a_movement_interval_of_0_search_every_moving_frame():
    camera = Camera(tuning=Tuning(movement_interval=0), delay=0)
    answering(camera, [camera.picture] * 5)
    asked = len(camera.feed.requests)
    answering(camera, moving_square(camera.picture, 30))
    assert len(camera.feed.requests) - asked == 30


def test_are_a_scene_cut_and_a_new_face_searched_at_once_amid_constant_movement():
    camera = Camera(tuning=Tuning(movement_interval=0.25), delay=0)
    answering(camera, moving_square(camera.picture, 20))
    asked = len(camera.feed.requests)
    cut_to = scene(seed=9, brightness=40)
    camera.frame(cut_to)  # a cut, 1/30 s after the last frame
    (cut,) = camera.feed.requests[asked:]
    assert cut.seq == camera.pipeline.seq and cut.regions is None
    camera.feed.answer(cut.seq, [face(user_id=None)])  # a stranger in the new scene
    moving = moving_square(cut_to, 30)
    camera.frame(next(moving))  # the result comes in: the stranger's track starts
    for picture in moving:
        asked = len(camera.feed.requests)
        camera.frame(picture)
        (request,) = camera.feed.requests[asked:]  # encoded on every frame, still new...
        assert request.settled == ()
        camera.feed.answer(request.seq, [face(user_id=None)])
        if camera.pipeline.tracks.live[0].settled():
            break
    else:
        raise AssertionError("the stranger's name never settled")
    asked = len(camera.feed.requests)
    answering(camera, moving, [face(user_id=None)])
    later = camera.feed.requests[asked:]
    assert later and all(len(r.settled) == 1 for r in later)  # ...then found, not encoded


def test_does_the_gate_off_send_every_frame_whole():
    camera = Camera(tuning=Tuning(motion_gate=False))
    rng = np.random.default_rng(4)
    for _ in range(10):
        camera.frame(noisy(camera.picture, rng))
    assert len(camera.feed.requests) == 10
    assert all(r.regions is None and r.settled == () for r in camera.feed.requests)
    assert camera.pipeline.counters.frames_gated == 0


# ---- a detection sub-stream: faces looked for in the small frames, drawn on the main ones ----


class FakeSubStream:
    """Stands for a camera's sub-stream reader: its newest frame, numbered, or None (down)."""

    def __init__(self, picture: np.ndarray):
        self.number, self.picture = 1, picture

    def newest(self):
        return None if self.picture is None else (self.number, self.picture)

    def next(self):
        self.number += 1


# The main stream at 640x360 (``scene()``), the sub-stream a quarter as wide and high. The
# engine answers with boxes on the main frame (it gets both frames).
SMALL = scene()[::4, ::4].copy()
SMALL_BOX = (25.0, 55.0, 55.0, 25.0)  # BOX in the sub-stream's pixels


def test_are_faces_looked_for_in_the_sub_stream_and_encoded_and_drawn_on_the_main_frame():
    sub = FakeSubStream(SMALL)
    camera = Camera(delay=0, substream=sub)
    camera.frame()
    # The engine got the sub-stream's frame to look for faces in, with the main frame it
    # stands for to encode them from (and to put their boxes on).
    assert (camera.feed.sizes, camera.feed.mains) == ([(160, 90)], [(640, 360)])
    camera.feed.answer(1, [face(box=BOX)])
    sub.next()
    (shown,) = camera.pipeline.push(1, camera.picture)
    assert shown.frame.shape == (360, 640, 3)  # viewers get the main frame...
    (drawn,) = shown.faces
    assert drawn.name == "Ada" and drawn.box == BOX  # ...with the face where it is on it


def test_does_a_camera_without_a_sub_stream_send_its_frames_alone():
    camera = Camera(delay=0)
    camera.frame()
    assert (camera.feed.sizes, camera.feed.mains) == ([(640, 360)], [None])


def test_is_a_sub_stream_frame_searched_once_however_many_main_frames_stand_for_it():
    sub = FakeSubStream(SMALL)
    camera = Camera(delay=0, substream=sub)
    for _ in range(3):
        camera.frame()  # the main stream at 30 fps, the sub-stream slower
    assert len(camera.feed.requests) == 1
    sub.next()
    camera.frame()
    assert [r.seq for r in camera.feed.requests] == [1, 4]


def test_are_the_regions_and_settled_faces_asked_of_the_sub_stream_scaled_down_onto_it():
    sub = FakeSubStream(SMALL)
    camera = Camera(tuning=Tuning(recheck=2.0), delay=0, substream=sub)
    for _ in range(50):  # the face settles, then is looked at around where it is
        asked = len(camera.feed.requests)
        camera.frame()
        sub.next()
        if len(camera.feed.requests) > asked:
            camera.feed.answer(camera.feed.requests[-1].seq, [face(box=BOX)])
    looked = [r for r in camera.feed.requests if r.regions is not None and r.settled]
    assert looked, camera.feed.requests
    for request in looked:
        (settled,) = request.settled
        assert np.allclose(settled, SMALL_BOX, atol=2)  # where the face is in the small frame
        (region,) = request.regions
        top, right, bottom, left = region
        assert 0 <= left <= 25 and 55 <= right <= 160 and 0 <= top <= 25 and 55 <= bottom <= 90


def test_does_recognition_pause_while_the_sub_stream_is_down_and_the_main_stream_go_on():
    sub = FakeSubStream(SMALL)
    camera = Camera(delay=0, substream=sub)
    for _ in range(3):
        camera.frame()
        camera.feed.answer(camera.pipeline.seq, [face(box=BOX)])
        sub.next()
    assert camera.frame() == [(4, ["Ada"])]
    asked = len(camera.feed.requests)
    sub.picture = None  # the sub-stream drops
    shown = [camera.pipeline.push(0, camera.picture) for _ in range(5)]
    assert len(camera.feed.requests) == asked  # nothing to look for faces in
    assert all(len(out) == 1 for out in shown)  # every main frame still shown...
    assert shown[0][0].faces == [] and [e.kind for e in shown[0][0].events] == ["ended"]
    sub.picture = SMALL  # back: recognition resumes
    sub.next()
    camera.frame()
    assert len(camera.feed.requests) == asked + 1
