"""Watching all the time at the cost of what changes (issue 22): the motion gate, faces
encoded only while they need it, a wrong name corrected, someone entering named at once."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from facerec.camera.tuning import Tuning
from facerec.engine import Engine, EngineSettings

from .conftest import CLIP, enroll, login_client
from .servers import wait_for

# Video and the camera pipeline: SQLite alone.
pytestmark = pytest.mark.sqlite_only

FPS = 15.0


def clip_frame(index: int) -> np.ndarray:
    capture = cv2.VideoCapture(str(CLIP))
    capture.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = capture.read()
    capture.release()
    assert ok
    return frame


# Clip frame 50: the profile close-up, where no face is detectable (the faces README).
FACELESS = 50


def write_video(path: Path, frames, fps: float = FPS) -> Path:
    """An MJPEG AVI of ``frames`` (kept close to the pictures: no inter-frame smoothing)."""
    frames = iter(frames)
    first = next(frames)
    height, width = first.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened()
    writer.write(first)
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


class Noise:
    """Sensor noise for a still camera: a fresh pattern on every frame (drawn from a pool, so
    that making a long video stays quick)."""

    def __init__(self, shape, seed: int, sigma: float = 5.0, pool: int = 24):
        rng = np.random.default_rng(seed)
        self.rng = rng
        self.patterns = [rng.normal(0, sigma, shape).astype(np.float32) for _ in range(pool)]

    def on(self, picture: np.ndarray) -> np.ndarray:
        noise = self.patterns[int(self.rng.integers(len(self.patterns)))]
        shift = int(self.rng.integers(picture.shape[1]))
        return np.clip(picture + np.roll(noise, shift, axis=1), 0, 255).astype(np.uint8)


def obama_entering(background: np.ndarray, data_dir: Path, step: int, height: int = 220):
    """``background`` with obama (unknown/obama-480p.jpg, his head and shoulders) drawn in,
    ``step`` frames after he came in: he drifts a little, as a person standing does."""
    photo = cv2.imread(str(data_dir / "unknown" / "obama-480p.jpg"))
    scale = height / photo.shape[0]
    person = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    out = background.copy()
    left = 380 + round(6 * np.sin(step / 4))
    top = 360 - person.shape[0]
    width = min(person.shape[1], out.shape[1] - left)
    out[top:, left : left + width] = person[:, :width]
    return out


class Published:
    """A camera's published frames as a viewer gets them: index, names drawn, when."""

    def __init__(self, cam):
        self.frames: list[tuple[int, set, float]] = []
        self.events = []
        cam.listeners.append(self)

    def __call__(self, info):
        self.events += info.events
        if info.frame_index is not None:
            self.frames.append((info.frame_index, {f.name for f in info.faces}, time.monotonic()))


def detections(client, camera="main") -> int:
    return client.get(f"/api/v1/cameras/{camera}/status").get_json()["detections"]


def test_does_a_still_faceless_scene_cost_no_detection_and_keep_its_rate(app_factory, tmp_path):
    """After start-up, no face detection at all for 10 s, and every frame still published."""
    background = clip_frame(FACELESS)
    noise = Noise(background.shape, seed=22)
    # 25 s at 15 fps: the 10 s looked at end well before the file starts over (a cut).
    video = write_video(tmp_path / "still.avi", (noise.on(background) for _ in range(375)))
    app = app_factory(FACEREC_CAMERA=str(video))
    client = login_client(app, app.test_client())
    cam = app.extensions["cameras"].first()
    published = Published(cam)
    cam.start()
    # Start-up: the first frame starts a scene and is searched once.
    assert wait_for(lambda: detections(client) >= 1, timeout=120)
    before = detections(client)
    start = len(published.frames)

    def seconds_watched():
        frames = published.frames
        return frames[-1][2] - frames[start][2] if len(frames) > start else 0.0

    watched = wait_for(lambda: seconds_watched() >= 10.0, timeout=60)
    assert watched, "the camera did not publish 10 s of frames"
    frames = published.frames[start:]
    status = client.get("/api/v1/cameras/main/status").get_json()
    assert status["detections"] == before  # nothing searched for 10 s
    assert status["frames_gated"] >= len(frames) - 1
    assert status["activity"] == "watching"
    # The stream kept the source's rate: every frame of the file, one after the other.
    indexes = [index for index, _names, _at in frames]
    assert indexes == list(range(indexes[0], indexes[0] + len(indexes)))
    # The live page says what the camera does, in words; /metrics counts what it spared.
    html = client.get("/").get_data(as_text=True)
    assert ">Watching: nothing moving</span>" in html
    metrics = client.get("/metrics").get_data(as_text=True)
    assert f'facerec_detections_total{{camera="main"}} {float(before)}' in metrics
    assert 'facerec_frames_gated_total{camera="main"}' in metrics
    assert 'facerec_encodings_skipped_total{camera="main"}' in metrics
    assert 'facerec_camera_activity{activity="watching",camera="main"} 1.0' in metrics


def test_is_someone_entering_an_empty_scene_named_from_their_first_frames(
    app_factory, tmp_path, data_dir
):
    background = clip_frame(FACELESS)
    noise = Noise(background.shape, seed=5)
    still = [noise.on(background) for _ in range(int(5 * FPS))]  # 5 s: empty and still
    entering = [noise.on(obama_entering(background, data_dir, step)) for step in range(75)]
    video = write_video(tmp_path / "entering.avi", still + entering)
    # Frames wait for the result computed on them (up to 6 s here, so a busy machine names
    # him on the same frames an idle one does; the wait is a setting, not the point).
    app = app_factory(FACEREC_CAMERA=str(video), FACEREC_STREAM_DELAY=int(6 * FPS))
    enroll(app, "obama", data_dir / "known" / "obama.jpg")
    cam = app.extensions["cameras"].first()
    published = Published(cam)
    cam.start()
    first_in = len(still)

    def named_after_entering():
        return next(
            (i for i, names, _at in published.frames if i >= first_in and "obama" in names), None
        )

    assert wait_for(lambda: named_after_entering() is not None, timeout=120)
    assert named_after_entering() - first_in <= 0.5 * FPS  # within 0.5 s of his first frame
    empty = [names for index, names, _at in published.frames if index < first_in]
    assert empty and not any(names for names in empty)  # nobody named in the empty scene


def test_is_a_track_named_wrongly_renamed_when_its_person_is_enrolled(
    app_factory, tmp_path, data_dir
):
    background = clip_frame(FACELESS)
    noise = Noise(background.shape, seed=7)
    frames = [noise.on(obama_entering(background, data_dir, step)) for step in range(450)]
    video = write_video(tmp_path / "obama.avi", frames)  # 30 s of one person, one scene
    app = app_factory(FACEREC_CAMERA=str(video), FACEREC_RECHECK_INTERVAL=2.0)
    cam = app.extensions["cameras"].first()
    published = Published(cam)
    cam.start()

    def started_unknown():
        return next(
            (e.track for e in published.events if e.kind == "started" and e.track.name is None),
            None,
        )

    assert wait_for(started_unknown, timeout=120), "no unknown track started"
    track = started_unknown().track_id
    obama = enroll(app, "obama", data_dir / "known" / "obama.jpg")  # while he is in view

    def renamed():
        return next(
            (
                e.track
                for e in published.events
                if e.kind == "updated" and e.track.track_id == track and e.track.user_id == obama
            ),
            None,
        )

    assert wait_for(renamed, timeout=60), "the unknown track was not renamed"
    assert not any(e.kind == "ended" and e.track.track_id == track for e in published.events)


def drive(engine, database, frames, tuning, period):
    """Every frame through a pipeline on a fake clock, each answer waited for: what a machine
    fast enough for every frame does. Returns the pipeline's counters and the names shown."""
    from facerec.camera.pipeline import Pipeline

    now = [0.0]
    feed = engine.feed("drive", database)
    pipeline = Pipeline(feed, tuning, delay=0, clock=lambda: now[0])
    waiting: list = []

    class Waited:
        def submit(self, request, frame):
            feed.submit(request, frame)
            waiting.append(request.seq)

        busy = False

        def poll(self):
            if not waiting:
                return None
            result = wait_for(feed.poll, timeout=120, interval=0.01)
            assert result is not None, "the engine gave no answer"
            waiting.clear()
            return result

    pipeline.feed = Waited()
    shown = []
    try:
        for index, frame in enumerate(frames):
            now[0] += period
            for out in pipeline.push(index, frame):
                shown.append({f.name for f in out.faces})
    finally:
        feed.close()
    return pipeline.counters, shown


def test_does_the_clip_need_at_most_a_third_of_the_encodings(app, data_dir, enroll_known):
    """The stage and the audience of the clip, every third frame: the encodings with the gate
    and settled tracks against encoding every face of every frame (as before)."""
    enroll_known(app)
    capture = cv2.VideoCapture(str(CLIP))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    frames = frames[150::3]  # Lin close on stage, then the audience
    database = app.config["SQLALCHEMY_DATABASE_URI"]
    engine = Engine(EngineSettings(frame_workers=1, job_workers=1))
    period = 3 / 29.97
    try:
        gated, shown = drive(engine, database, frames, Tuning(), period)
        every, _ = drive(engine, database, frames, Tuning(motion_gate=False), period)
    finally:
        engine.close()
    assert every.encodings >= 20  # the faces are there to be encoded
    assert gated.encodings <= every.encodings / 3, (gated, every)
    assert gated.encodings_skipped > 0  # settled faces were found again, not encoded
    # The names stay right: Lin on the stage, nobody named in the audience.
    stage = shown[: (210 - 150) // 3]
    assert sum("lin-manuel-miranda" in names for names in stage) >= 0.8 * len(stage)
    audience = shown[(211 - 150) // 3 + 1 :]
    assert not any(names - {None} for names in audience)
