"""Frame sources: a webcam index, a video file (paced to its fps and looped), a URL.

Only this package touches ``cv2.VideoCapture``.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import cv2

log = logging.getLogger(__name__)

URL_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://")


class SourceError(RuntimeError):
    """The camera could not be opened or stopped delivering frames."""


def describe(spec: str) -> str:
    """The source as shown to users: a URL's password and query values (tokens) hidden."""
    spec = (spec or "").strip()
    if spec.lower().startswith(URL_SCHEMES):
        parts = urlsplit(spec)
        if parts.password:
            netloc = f"{parts.username}:***@{parts.hostname}"
            if parts.port:
                netloc += f":{parts.port}"
            parts = parts._replace(netloc=netloc)
        if parts.query:
            keys = [key for key, _ in parse_qsl(parts.query, keep_blank_values=True)]
            parts = parts._replace(query="&".join(f"{key}=***" for key in keys))
        return urlunsplit(parts)
    return spec


class FrameSource:
    """Yields ``(frame_index, bgr_frame)``; ``release()`` frees the device."""

    kind = "source"

    def __init__(self, spec: str):
        self.spec = spec
        self.capture: cv2.VideoCapture | None = None
        self.fps = 0.0

    def release(self):
        if self.capture is not None:
            self.capture.release()
            self.capture = None

    def frames(self, stop):
        raise NotImplementedError


class _LiveSource(FrameSource):
    """A device or stream that delivers frames at its own pace: read as fast as they come."""

    def frames(self, stop):
        index = 0
        failures = 0
        while not stop.is_set():
            ok, frame = self.capture.read()
            if not ok or frame is None:
                failures += 1
                if failures >= 25:
                    raise SourceError(f"{self.kind} stopped delivering frames")
                time.sleep(0.02)
                continue
            failures = 0
            yield index, frame
            index += 1


class WebcamSource(_LiveSource):
    kind = "webcam"

    def __init__(self, spec: str):
        super().__init__(spec)
        index = int(spec)
        if not Path(f"/dev/video{index}").exists() and os.name == "posix":
            raise SourceError(f"no webcam at index {index} (/dev/video{index} does not exist)")
        self.capture = cv2.VideoCapture(index)
        if not self.capture.isOpened():
            self.release()
            raise SourceError(f"cannot open webcam {index}")
        self.fps = self.capture.get(cv2.CAP_PROP_FPS) or 30.0


class UrlSource(_LiveSource):
    kind = "stream"

    def __init__(self, spec: str):
        super().__init__(spec)
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 10000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 10000]
        self.capture = cv2.VideoCapture(spec, cv2.CAP_FFMPEG, params)
        if not self.capture.isOpened():
            self.release()
            raise SourceError(f"cannot open the stream {describe(spec)}")
        self.fps = self.capture.get(cv2.CAP_PROP_FPS) or 25.0


class FileSource(FrameSource):
    """A video file played at its own frame rate, looped; frame_index is the file's frame number."""

    kind = "file"

    def __init__(self, spec: str):
        super().__init__(spec)
        path = Path(spec).expanduser()
        if not path.is_file():
            raise SourceError(f"the video file {spec} does not exist")
        self.capture = cv2.VideoCapture(str(path))
        if not self.capture.isOpened():
            self.release()
            raise SourceError(f"cannot open the video file {spec}")
        fps = self.capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 1 <= fps <= 240 else 25.0

    def frames(self, stop):
        period = 1.0 / self.fps
        next_due = time.monotonic()
        index = 0
        empty_loops = 0
        while not stop.is_set():
            ok, frame = self.capture.read()
            if not ok or frame is None:
                if index == 0:
                    empty_loops += 1
                    if empty_loops > 1:
                        raise SourceError(f"the video file {self.spec} has no readable frames")
                self.capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                index = 0
                continue
            empty_loops = 0
            delay = next_due - time.monotonic()
            if delay > 0:
                if stop.wait(delay):
                    return
            elif delay < -1.0:
                next_due = time.monotonic()  # fell far behind (paused process): resync
            next_due += period
            yield index, frame
            index += 1


def open_source(spec: str) -> FrameSource:
    """Open the source named by FACEREC_CAMERA; raises SourceError with a readable reason."""
    spec = (spec or "").strip()
    if not spec:
        raise SourceError("no camera is configured (set FACEREC_CAMERA)")
    if spec.isdigit():
        return WebcamSource(spec)
    if spec.lower().startswith(URL_SCHEMES):
        return UrlSource(spec)
    return FileSource(spec)
