"""Frame sources (facerec.camera.sources): what each kind of FACEREC_CAMERA value opens."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from facerec import faces
from facerec.camera.snapshots import HttpSource
from facerec.camera.sources import (
    FileSource,
    RtspSource,
    SourceError,
    UrlSource,
    WebcamSource,
    describe,
    open_source,
    precheck,
    source_type,
)


def write_video(path, photos, fps=10.0, size=(320, 240)):
    """A small AVI made of the shared photos, one frame each (no media file is committed)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    for photo in photos:
        rgb = faces.load_image(photo)
        writer.write(cv2.resize(rgb[:, :, ::-1], size))
    writer.release()
    return path


@pytest.fixture
def short_video(tmp_path, data_dir):
    photos = [data_dir / "known" / name for name in ("obama.jpg", "biden.jpg", "obama.jpg")]
    return write_video(tmp_path / "three.avi", photos)


@pytest.mark.parametrize(
    ("spec", "shown"),
    [
        ("rtsp://viewer:s3cret@cam.local:554/stream1", "rtsp://viewer:***@cam.local:554/stream1"),
        (
            "http://cam.local/video.mjpg?token=abc&user=x",
            "http://cam.local/video.mjpg?token=***&user=***",
        ),
        ("  /videos/door.mp4 ", "/videos/door.mp4"),
        ("0", "0"),
    ],
)
def test_does_describe_hide_passwords_and_query_values_but_keep_the_rest(spec, shown):
    assert describe(spec) == shown
    assert "s3cret" not in describe(spec) and "abc" not in describe(spec)


@pytest.mark.parametrize(
    ("spec", "kind", "paced", "networked"),
    [
        ("0", WebcamSource, False, False),
        (" rtsp://cam.local/stream1 ", RtspSource, False, True),
        ("RTSPS://cam.local/stream1", RtspSource, False, True),
        # A snapshot camera or a stream: told apart by what it answers (snapshots.py).
        ("HTTP://cam.local/video.mjpg", HttpSource, False, True),
        ("rtmp://cam.local/live", UrlSource, False, True),
        ("/videos/door.mp4", FileSource, True, False),
    ],
)
def test_does_each_kind_of_source_say_how_it_plays(spec, kind, paced, networked):
    assert source_type(spec) is kind
    assert kind.paced is paced and kind.networked is networked


def test_does_the_precheck_say_why_a_source_cannot_start_without_naming_it(tmp_path, short_video):
    assert precheck("") == "no camera is configured"
    assert precheck("7") == "the webcam is not connected"
    assert precheck(str(tmp_path / "nowhere.mp4")) == "the video file does not exist"
    assert precheck("rtsp://cam.local:99999/stream") == "the camera URL is not valid"
    # Only opening them tells: a reachable-looking URL and a file that exists pass.
    assert precheck("rtsp://cam.local:554/stream") is None
    assert precheck(str(short_video)) is None


def test_is_an_empty_camera_setting_refused_with_what_to_set():
    with pytest.raises(SourceError, match="set FACEREC_CAMERA"):
        open_source("  ")


def test_is_a_missing_webcam_named_by_its_device():
    with pytest.raises(SourceError, match=r"no webcam at index 7 \(/dev/video7 does not exist\)"):
        open_source("7")


def test_is_a_missing_video_file_reported_by_its_path(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        open_source(str(tmp_path / "nowhere.mp4"))


def test_is_a_file_that_is_not_a_video_refused(tmp_path):
    bogus = tmp_path / "notes.mp4"
    bogus.write_text("not a video")
    with pytest.raises(SourceError):
        source = open_source(str(bogus))
        try:
            list(zip(range(3), source.frames(threading.Event()), strict=False))
        finally:
            source.release()


def test_does_a_video_file_loop_with_its_own_frame_numbers(short_video):
    source = open_source(str(short_video))
    assert isinstance(source, FileSource) and source.fps == pytest.approx(10.0)
    try:
        got = list(zip(range(7), source.frames(threading.Event()), strict=False))
    finally:
        source.release()
    indexes = [index for _, (index, _frame) in got]
    assert indexes == [0, 1, 2, 0, 1, 2, 0]
    # The frames are the pictures: the first and the second differ, the loop repeats them.
    first, second, again = got[0][1][1], got[1][1][1], got[3][1][1]
    assert first.shape == (240, 320, 3)
    assert np.abs(first.astype(int) - second.astype(int)).mean() > 10
    assert np.abs(first.astype(int) - again.astype(int)).mean() < 3


def test_is_a_video_file_played_at_its_own_frame_rate(short_video):
    source = open_source(str(short_video))
    try:
        started = time.monotonic()
        frames = list(zip(range(11), source.frames(threading.Event()), strict=False))
        elapsed = time.monotonic() - started
    finally:
        source.release()
    assert len(frames) == 11
    # 10 periods of 0.1 s at 10 fps: not a burst, and not twice as slow either.
    assert 0.9 < elapsed < 10


def test_does_stopping_end_the_frames_at_once(short_video):
    source = open_source(str(short_video))
    stop = threading.Event()
    try:
        frames = source.frames(stop)
        next(frames)
        stop.set()
        assert list(frames) == []
    finally:
        source.release()
    assert source.capture is None  # released: the device is free again
