"""The face engine (facerec.engine): one supervised pool for camera frames and one-off jobs."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from facerec import faces
from facerec.boxes import iou, scaled
from facerec.camera.tuning import Tuning
from facerec.engine import Engine, EngineBusy, EngineSettings, EngineUnavailable, FrameRequest
from facerec.engine.worker import recognise
from facerec.gallery import Gallery

from . import engine_jobs
from .conftest import enroll, login_client, photo_samples
from .servers import process_info, wait_for

# The engine, not the database: SQLite alone.
pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def make_engine():
    """``make_engine(**settings)``: an engine of its own, closed after the test."""
    made = []

    def make(preload: bool = False, initializer=None, **settings) -> Engine:
        engine = Engine(EngineSettings(**settings), initializer=initializer, preload=preload)
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.close()


def photo_frame(data_dir, name="unknown/obama-480p.jpg", width=None) -> np.ndarray:
    frame = cv2.imread(str(data_dir / name))
    if width:
        frame = cv2.resize(frame, (width, round(frame.shape[0] * width / frame.shape[1])))
    return frame


def next_result(feed, timeout=120.0):
    return wait_for(feed.poll, timeout=timeout, interval=0.02)


def first_result(feed, frame, timeout=120.0):
    """Offer ``frame`` as a camera does (again and again) until a result comes back: a frame
    may be lost while a worker starts or is replaced."""
    deadline = time.monotonic() + timeout
    seq = 0
    while time.monotonic() < deadline:
        seq += 1
        feed.submit(FrameRequest(seq, Tuning()), frame)
        if result := next_result(feed, timeout=1.0):
            return result
    return None


# ---- one-off jobs -----------------------------------------------------------------------------


def test_are_errors_raised_in_a_worker_raised_unchanged_to_the_caller(make_engine):
    engine = make_engine(job_workers=1)
    with pytest.raises(faces.ImageError, match="empty"):
        engine.run(faces.load_image, b"")
    assert engine.run(abs, -3) == 3


def test_does_a_hung_job_not_block_the_next_one(make_engine):
    engine = make_engine(job_workers=1)
    with pytest.raises(EngineUnavailable, match="no answer within 3 s"):
        engine.run(time.sleep, 60, timeout=3)
    # With one worker, the next job would wait behind the sleeper if it held the worker.
    assert engine.run(abs, -3, timeout=60) == 3


def test_is_a_job_refused_at_once_when_the_queue_is_full(make_engine):
    engine = make_engine(job_workers=1, queue=2)
    engine.run(abs, -1)  # a worker is up
    running = engine.submit(time.sleep, 5)
    queued = [engine.submit(abs, -2), engine.submit(abs, -3)]
    with pytest.raises(EngineBusy) as refused:
        engine.submit(abs, -4)
    assert not running.done()  # refused at once, not after waiting for room
    assert 1 <= refused.value.retry_after <= 30
    assert [future.result(60) for future in queued] == [2, 3]  # the queued ones still run


def test_is_a_job_whose_worker_dies_done_again_by_another(make_engine, tmp_path):
    engine = make_engine(job_workers=1)
    marker = tmp_path / "died"
    assert engine.run(engine_jobs.die_once, str(marker)) == "answered by another worker"
    assert marker.exists() and engine.restarts == 1


def test_does_a_job_that_kills_every_worker_fail_with_engine_unavailable(make_engine):
    engine = make_engine(job_workers=1)
    with pytest.raises(EngineUnavailable, match="the face engine worker"):
        engine.run(engine_jobs.die)
    assert engine.restarts == 2  # tried once more, then given up
    assert engine.run(abs, -5) == 5  # and the engine goes on


def test_do_jobs_waiting_when_the_engine_closes_fail_with_engine_unavailable(make_engine):
    engine = make_engine(job_workers=1)
    engine.run(abs, -1)
    running = engine.submit(time.sleep, 30)
    waiting = engine.submit(abs, -1)
    engine.close()
    for future in (running, waiting):
        with pytest.raises(EngineUnavailable, match="shutting down"):
            future.result(10)
    with pytest.raises(EngineUnavailable):
        engine.submit(abs, -1)


# ---- the web's answers ------------------------------------------------------------------------


def recognize(client, data_dir):
    photo = (data_dir / "unknown" / "obama_small.jpg").read_bytes()
    import io

    return client.post(
        "/api/v1/recognize",
        data={"image": (io.BytesIO(photo), "obama.jpg")},
        content_type="multipart/form-data",
    )


def test_does_a_full_engine_queue_answer_503_with_retry_after_at_once(app_factory, data_dir):
    from facerec import engine as face_engine

    app = app_factory(FACEREC_ENGINE_WORKERS=1, FACEREC_ENGINE_QUEUE=1, FACEREC_ENGINE_TIMEOUT=30)
    client = login_client(app, app.test_client())
    engine = face_engine.of(app)
    engine.run(abs, -1)
    busy = [engine.submit(time.sleep, 4), engine.submit(time.sleep, 4)]  # one runs, one waits
    response = recognize(client, data_dir)
    assert not busy[0].done()  # answered while the engine was still busy: no waiting
    assert response.status_code == 503
    assert response.get_json() == {"error": "The face engine is busy or restarting; try again."}
    assert 1 <= int(response.headers["Retry-After"]) <= 30
    for future in busy:
        future.result(60)
    assert recognize(client, data_dir).status_code == 200  # room again


def test_does_an_engine_that_gives_no_answer_in_time_answer_503_not_500(app_factory, data_dir):
    from facerec import engine as face_engine

    app = app_factory(FACEREC_ENGINE_WORKERS=1, FACEREC_ENGINE_QUEUE=4, FACEREC_ENGINE_TIMEOUT=2)
    client = login_client(app, app.test_client())
    engine = face_engine.of(app)
    engine.run(abs, -1, timeout=120)  # started (its own timeout is the app's 2 s)
    sleeper = engine.submit(time.sleep, 20, timeout=60)
    response = recognize(client, data_dir)  # waits its 2 s behind the sleeper
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert response.get_json() == {"error": "The face engine is busy or restarting; try again."}
    sleeper.result(60)


# ---- camera frames ----------------------------------------------------------------------------


@pytest.fixture
def gallery_db(app, data_dir):
    """The app's database URL, with obama and biden enrolled."""
    enroll(app, "obama", data_dir / "known" / "obama.jpg")
    enroll(app, "biden", data_dir / "known" / "biden.jpg")
    return app.config["SQLALCHEMY_DATABASE_URI"]


def mapped_blocks() -> set[str]:
    """The shared memory blocks this process has mapped (other processes on the machine,
    other test runs among them, make and free blocks of their own in /dev/shm meanwhile)."""
    lines = Path("/proc/self/maps").read_text().splitlines()
    return {line.split("/dev/shm/")[1].split()[0] for line in lines if "/dev/shm/psm_" in line}


def test_are_frames_of_any_size_recognised_through_shared_memory(make_engine, gallery_db, data_dir):
    before = mapped_blocks()
    engine = make_engine(frame_workers=1, preload=True)
    feed = engine.feed("door", gallery_db)
    for seq, width in enumerate((640, 1920, 854), start=1):  # a larger frame needs a new block
        feed.submit(FrameRequest(seq, Tuning()), photo_frame(data_dir, width=width))
        result = next_result(feed)
        assert result is not None and result.seq == seq
        assert [face.name for face in result.faces] == ["obama"]
        _top, right, _bottom, left = result.faces[0].box
        assert right <= width and (right - left) > width / 10  # boxes in the frame's pixels
    (block,) = mapped_blocks() - before  # one block for the worker, grown once
    feed.close()
    engine.close()
    assert block not in mapped_blocks()  # and freed with it: unmapped and its name gone
    assert not (Path("/dev/shm") / block).exists()


# ---- a detection sub-stream's frame, with the main frame it stands for ------------------------


def known_gallery(data_dir) -> Gallery:
    """The four people of known/, as a worker's gallery (no database needed)."""
    photos = sorted((data_dir / "known").iterdir())
    encodings = [photo_samples(photo)[0].encoding for photo in photos]
    ids = list(range(1, len(photos) + 1))
    return Gallery(encodings, ids, {i: photo.stem for i, photo in zip(ids, photos, strict=True)})


def quarter(rgb: np.ndarray) -> np.ndarray:
    """A sub-stream's picture of ``rgb``: a quarter as wide and high (1280x720 -> 320x180)."""
    return cv2.resize(rgb, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)


def test_is_a_face_found_in_the_sub_stream_named_from_the_main_frames_larger_picture(data_dir):
    gallery = known_gallery(data_dir)
    main = faces.load_image(data_dir / "unknown/obama-480p.jpg")  # 853x480, obama's face 107 px
    small = quarter(main)  # his face 27 px high: a poorer encoding, farther from his own
    (where,) = faces.detect(main, upsample=1)
    strict = FrameRequest(7, Tuning(tolerance=0.25))  # a camera that wants close matches
    (alone,) = recognise(small, strict, gallery).faces
    assert alone.name is None and alone.distance > 0.25  # the sub-stream's picture: unknown
    result = recognise(small, strict, gallery, main)
    (face,) = result.faces
    assert face.name == "obama" and face.distance < 0.15  # the main frame's: obama, closely
    assert iou(face.box, where) > 0.8  # where he is on the main frame
    assert (result.encoded, result.refound) == (1, 1)
    assert cv2.imdecode(np.frombuffer(face.crop, np.uint8), cv2.IMREAD_COLOR).shape[0] > 100


def test_is_a_face_that_moved_between_the_two_frames_boxed_where_it_is_on_the_main_one(data_dir):
    gallery = known_gallery(data_dir)
    photo = faces.load_image(data_dir / "unknown/two_people.jpg")
    small = quarter(photo)
    main = np.roll(photo, 40, axis=1)  # taken a moment later: both faces 40 px to the right
    result = recognise(small, FrameRequest(1, Tuning()), gallery, main)
    assert sorted(face.name for face in result.faces) == ["biden", "obama"]
    on_main = faces.detect(main, upsample=1)
    for face in result.faces:  # each box on its face where it is now, not where it was
        assert max(iou(face.box, box) for box in on_main) > 0.7
        assert max(iou(face.box, box) for box in faces.detect(photo, upsample=1)) < 0.7
    assert result.refound == 2
    alone = {face.name: face for face in recognise(small, FrameRequest(1, Tuning()), gallery).faces}
    for face in result.faces:  # the larger picture of each is the closer one
        assert face.distance < alone[face.name].distance


def test_is_a_face_not_found_again_on_the_main_frame_encoded_from_the_sub_stream(data_dir):
    gallery = known_gallery(data_dir)
    photo = faces.load_image(data_dir / "unknown/obama-480p.jpg")
    small = quarter(photo)
    (in_small,) = faces.detect(small, upsample=1)
    gone = np.full_like(photo, 128)  # on the main frame a moment later: turned away, gone
    result = recognise(small, FrameRequest(3, Tuning()), gallery, gone)
    (face,) = result.faces
    assert face.name == "obama"  # named from the sub-stream's picture, as without a main frame
    sx, sy = photo.shape[1] / small.shape[1], photo.shape[0] / small.shape[0]
    assert face.box == scaled(in_small, sx, sy)  # on the main frame all the same
    assert (result.encoded, result.refound) == (1, 0)


def test_is_a_sub_stream_frame_sent_with_its_main_frame_through_shared_memory(
    make_engine, gallery_db, data_dir
):
    engine = make_engine(frame_workers=1, preload=True)
    feed = engine.feed("door", gallery_db)
    main = photo_frame(data_dir)  # BGR, as a camera's frames
    strict = Tuning(tolerance=0.25)
    feed.submit(FrameRequest(1, strict), quarter(main))
    assert [face.name for face in next_result(feed).faces] == [None]  # the small one alone
    feed.submit(FrameRequest(2, strict), quarter(main), main=main)
    result = next_result(feed)
    assert result.seq == 2 and [face.name for face in result.faces] == ["obama"]
    (where,) = faces.detect(main[:, :, ::-1].copy(), upsample=1)
    assert iou(result.faces[0].box, where) > 0.8  # on the main frame
    feed.submit(FrameRequest(3, Tuning()), main)  # one frame again: as before
    (face,) = next_result(feed).faces
    assert face.name == "obama" and iou(face.box, where) > 0.8


def test_does_each_camera_bring_its_own_tuning(make_engine, gallery_db, data_dir):
    engine = make_engine(frame_workers=1, preload=True)
    strict, lenient = engine.feed("strict", gallery_db), engine.feed("lenient", gallery_db)
    frame = photo_frame(data_dir, "unknown/obama2.jpg")  # obama at a distance of about 0.35
    strict.submit(FrameRequest(1, Tuning(tolerance=0.2)), frame)
    lenient.submit(FrameRequest(1, Tuning(tolerance=0.6)), frame)
    assert [f.name for f in next_result(strict).faces] == [None]
    assert [f.name for f in next_result(lenient).faces] == ["obama"]


def test_does_one_worker_serve_three_cameras_in_turn(make_engine, gallery_db, data_dir):
    """More cameras than workers: each camera's newest frame is recognised in turn."""
    engine = make_engine(frame_workers=1, preload=True)
    frame = photo_frame(data_dir)
    feeds = [engine.feed(name, gallery_db) for name in ("a", "b", "c")]
    results = {feed.camera: [] for feed in feeds}
    seq = 0
    deadline = time.monotonic() + 120
    while min(len(r) for r in results.values()) < 3 and time.monotonic() < deadline:
        for feed in feeds:  # three capture loops offering frames at their own pace
            seq += 1
            feed.submit(FrameRequest(seq, Tuning()), frame)
            result = feed.poll()
            if result is not None:
                results[feed.camera].append(result)
        time.sleep(0.01)
    assert engine.workers == 1
    counts = sorted(len(r) for r in results.values())
    assert counts[0] >= 3, results
    assert counts[-1] - counts[0] <= 1  # strictly in turn: none is served twice ahead
    assert all(got[-1].faces[0].name == "obama" for got in results.values())
    assert all(feed.dropped > 0 for feed in feeds)  # older frames were replaced, not queued


def test_does_a_photo_request_not_wait_behind_the_cameras(make_engine, gallery_db, data_dir):
    engine = make_engine(frame_workers=1, job_workers=1, preload=True)
    feed = engine.feed("door", gallery_db)
    frame = photo_frame(data_dir, width=1920)
    stop = threading.Event()

    def capture():  # a camera keeping its worker busy all the time
        seq = 0
        while not stop.is_set():
            seq += 1
            feed.submit(FrameRequest(seq, Tuning()), frame)
            feed.poll()
            time.sleep(0.01)

    camera = threading.Thread(target=capture, daemon=True)
    camera.start()
    try:
        assert next_result(feed) is not None or feed.latency.count > 0
        pids = {engine.run(engine_jobs.own_pid) for _ in range(3)}
        assert len(pids) == 1 and engine.workers == 2  # a worker of its own for requests
        assert engine.run(faces.faces_in_image, data_dir / "unknown/obama_small.jpg")
    finally:
        stop.set()
        camera.join(5)


def test_is_a_worker_still_loading_its_models_left_to_start(make_engine, gallery_db, data_dir):
    """Loading dlib's models outlasts a result's timeout on a busy machine: not a stuck worker."""
    engine = make_engine(
        frame_workers=1, result_timeout=3.0, initializer=(time.sleep, (6,)), preload=True
    )
    feed = engine.feed("door", gallery_db)
    feed.submit(FrameRequest(1, Tuning()), np.zeros((48, 64, 3), np.uint8))
    assert next_result(feed) is not None  # after 6 s of starting, well past the 3 s
    assert engine.restarts == 0


def test_is_a_frozen_worker_replaced_and_reaped_without_holding_up_capture(
    make_engine, gallery_db, data_dir
):
    engine = make_engine(frame_workers=1, result_timeout=3, preload=True)
    feed = engine.feed("door", gallery_db)
    assert first_result(feed, np.zeros((48, 64, 3), np.uint8)) is not None
    restarts = engine.restarts
    (frozen,) = engine.pids()
    try:
        os.kill(frozen, signal.SIGSTOP)  # frozen while waiting for a frame
        big = np.zeros((1080, 1920, 3), np.uint8)
        submitting = threading.Thread(
            target=feed.submit, args=(FrameRequest(2, Tuning()), big), daemon=True
        )
        submitting.start()
        submitting.join(timeout=10)
        assert not submitting.is_alive(), "submit() waited for a frozen worker"
        assert wait_for(lambda: engine.restarts > restarts, timeout=30)
        assert feed.restarts >= 1  # that camera's frame was lost with it
        # The old worker is gone for good: not stopped, not a zombie.
        assert wait_for(lambda: process_info(frozen) is None, timeout=15), process_info(frozen)
        # The replacement takes over: the next frame is recognised.
        result = first_result(feed, photo_frame(data_dir))
        assert result is not None and result.faces[0].name == "obama"
        assert frozen not in engine.pids()
    finally:
        info = process_info(frozen)
        if info is not None and info["ppid"] == os.getpid() and info["state"] == "T":
            os.kill(frozen, signal.SIGKILL)  # still our frozen worker (not a reused pid)
