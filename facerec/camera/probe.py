"""The Test button: open a source once and say what it delivers.

For each URL tested: a snapshot, the codec, the size, the frame rate (measured over about a
second, besides what the source declares) and the time from the start of opening to the
first frame; or why it could not be opened. For a network camera that is "not reachable",
or the HTTP status it answered, or what facerec found wrong once connected; never the
peer's own words (they would tell one kind of service from another) nor whether a port
refused or ignored the connection.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import cv2

from . import drawing
from .service import CameraService
from .sources import (
    SourceError,
    SourceOptions,
    StreamInfo,
    Unreachable,
    describe,
    is_networked,
    open_source,
    redact,
)
from .substream import SubStream

log = logging.getLogger(__name__)

# Frames are counted for this long after the first one to measure the rate.
MEASURE_FOR = 1.0


@dataclass
class Probe:
    """The result of opening a source once: a snapshot and what was found, or why it failed."""

    jpeg: bytes | None = None
    error: str | None = None
    info: StreamInfo | None = None
    measured_fps: float | None = None  # frames that came in the measuring second (None: unknown)
    status: int | None = None  # the HTTP status of an http(s) camera

    @property
    def width(self) -> int:
        return self.info.width if self.info else 0

    @property
    def height(self) -> int:
        return self.info.height if self.info else 0


NOT_REACHABLE = "not reachable"


def _http_answer(source: str, app) -> tuple[int | None, str | None]:
    """An http(s) camera's HTTP status and, when it cannot give a picture, why not."""
    from .. import outbound

    status = outbound.http_status(source, lan=True, app=app)
    if status is None:
        return None, NOT_REACHABLE
    if 300 <= status < 400:
        return status, (
            f"reachable, but it answered HTTP {status}: a redirect, which cameras do not "
            "follow; enter the address it leads to"
        )
    if status == 401 and urlsplit(source).username is not None:
        return status, None  # it may want Digest sign-in, which opening the camera answers
    if status >= 400:
        return status, f"reachable, but it answered HTTP {status}"
    return status, None


def probe(
    source: str,
    running: CameraService | SubStream | None = None,
    options: SourceOptions | None = None,
    max_width: int = 640,
    app=None,
) -> Probe:
    """Open ``source`` once and describe it; or describe it from ``running``, the camera
    (or sub-stream) reading it already, when it is running."""
    if running is not None and running.running and running.source == source:
        # The device is open already: a webcam cannot be opened twice, and a network camera
        # may allow few sessions. What the camera found when it opened is what it delivers.
        shot = running.snapshot()
        if shot is not None and running.stream is not None:
            return _result(
                shot[1][:, :, ::-1], running.stream, running.measured_fps() or None, max_width
            )
    networked = is_networked(source)
    status = None
    if source.strip().lower().startswith(("http://", "https://")):
        status, problem = _http_answer(source.strip(), app)
        if problem:
            return Probe(error=problem, status=status)
    stop = threading.Event()
    opened = None
    try:
        opened = open_source(source, options)
        frames = opened.frames(stop)
        _index, frame = next(frames, (None, None))
        if frame is None:
            return Probe(error="the source opened but delivered no frame", status=status)
        info = opened.stream_info(frame, time.monotonic())
        found = _result(frame, info, _measure(frames), max_width)
        found.status = status
        return found
    except SourceError as exc:
        log.info("testing camera %s failed: %s", describe(source), redact(str(exc), source))
        unreachable = isinstance(exc, Unreachable)
        return Probe(
            error=NOT_REACHABLE if unreachable else redact(str(exc), source), status=status
        )
    except Exception as exc:  # an OpenCV error: say so rather than fail the page
        log.warning("testing camera %s failed: %s", describe(source), exc.__class__.__name__)
        return Probe(error=NOT_REACHABLE if networked else "the camera cannot be read")
    finally:
        stop.set()
        if opened is not None:
            opened.release()


def _measure(frames) -> float | None:
    """Frames a second over about MEASURE_FOR seconds after the first (None: too few came)."""
    started = time.monotonic()
    for count, _item in enumerate(frames, 1):
        elapsed = time.monotonic() - started
        if elapsed >= MEASURE_FOR:
            return count / elapsed
    return None


def _result(frame, info: StreamInfo, measured: float | None, max_width: int) -> Probe:
    height, width = frame.shape[:2]
    if width > max_width:
        frame = cv2.resize(frame, (max_width, round(height * max_width / width)))
    return Probe(drawing.encode_jpeg(frame, 85), info=info, measured_fps=measured)
