"""Frame sources: a webcam index, a video file (paced to its fps and looped), a URL.

Only this package touches ``cv2.VideoCapture``. Each kind of source is a ``FrameSource``
subclass that says which camera settings it reads (``handles``), whether it plays at its own
declared rate (``paced``), whether it is reached over the network (``networked``) and why it
cannot start, when that can be told without opening it (``precheck``). ``source_type(spec)``
is the one place that reads a source's kind from its text: adding a kind of camera is a
subclass listed in ``SOURCE_TYPES``.
"""

from __future__ import annotations

import logging
import os
import re
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import cv2

log = logging.getLogger(__name__)

URL_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://")


# OpenCV hands these FFmpeg options to every capture it opens. FFmpeg follows HTTP redirects
# by default, so a camera URL could lead it to any address, this server's own included:
# no camera follows one (the Test button says where it leads instead). Set once, when this
# module is loaded and before any capture thread reads the environment, beside any option
# the administrator set there.
FFMPEG_OPTIONS = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
if "max_redirects" not in os.environ.get(FFMPEG_OPTIONS, ""):
    os.environ[FFMPEG_OPTIONS] = "|".join(
        item for item in (os.environ.get(FFMPEG_OPTIONS, ""), "max_redirects;0") if item
    )


class SourceError(RuntimeError):
    """The camera could not be opened or stopped delivering frames."""


_MASK = "***"


def _split_url(spec: str):
    """``(scheme, userinfo, hostport, path, query, fragment)`` without interpreting the port.

    urlsplit's ``.port`` raises on a port such as ``:99999`` or ``:abc``; the masking below
    must work on any text an operator may have typed, so it never asks for it.
    """
    scheme, netloc, path, query, fragment = urlsplit(spec)
    userinfo, at, hostport = netloc.rpartition("@")
    return scheme, (userinfo if at else None), hostport, path, query, fragment


def _mask_pairs(text: str, separators: str) -> str:
    """``key=value`` pairs (split on any of ``separators``) with every value hidden."""
    out, pair = [], ""
    for char in text + separators[0]:
        if char in separators:
            key, eq, _value = pair.partition("=")
            out.append(f"{key}={_MASK}" if eq else pair)
            out.append(char)
            pair = ""
        else:
            pair += char
    return "".join(out[:-1])


def describe(spec: str) -> str:
    """The source as shown to users and written to logs: every credential in a URL hidden.

    Hidden: the password of ``user:password@host``, every query value (often an access
    token), every ``key=value`` in the path (DVRs take ``/user=admin&password=x/`` there) and
    the fragment. Never raises, whatever the text (a bad port included).
    """
    spec = (spec or "").strip()
    if not UrlSource.handles(spec):
        return spec
    try:
        scheme, userinfo, hostport, path, query, fragment = _split_url(spec)
    except ValueError:  # e.g. an unbalanced "[" in the host: show the scheme only
        return f"{spec.split(':', 1)[0]}://{_MASK}"
    netloc = hostport
    if userinfo is not None:
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}:{_MASK}@{hostport}" if colon else f"{user}@{hostport}"
    path = "/".join(_mask_pairs(segment, "&;") for segment in path.split("/"))
    if query:
        query = _mask_pairs(query, "&;")
    if fragment:
        fragment = _MASK
    return urlunsplit((scheme, netloc, path, query, fragment))


def secrets_of(spec: str) -> list[str]:
    """The credential strings ``describe`` hides, longest first (for ``redact``)."""
    spec = (spec or "").strip()
    if not UrlSource.handles(spec):
        return []
    try:
        _scheme, userinfo, _host, path, query, fragment = _split_url(spec)
    except ValueError:
        return [spec]
    found = []
    if userinfo and ":" in userinfo:
        found.append(userinfo.partition(":")[2])
    for part in re.split(r"[/&;]", path) + re.split(r"[&;]", query):
        _key, eq, value = part.partition("=")
        if eq and value:
            found.append(value)
    if fragment:
        found.append(fragment)
    found = {item for item in found if item}
    found |= {unquote(item) for item in found}
    return sorted(found, key=len, reverse=True)


def redact(text: str, spec: str) -> str:
    """``text`` (an error message, say) with the whole URL and each of its secrets hidden."""
    text = str(text)
    spec = (spec or "").strip()
    if spec and spec in text:
        text = text.replace(spec, describe(spec))
    for secret in secrets_of(spec):
        # Whole words only: a one-letter password must not blank every "x" of the message.
        text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", _MASK, text)
    return text


def check_url(spec: str):
    """A URL camera's address must at least parse: a clear configuration error if not."""
    problem = _url_problem(spec)
    if problem is not None:
        raise SourceError(
            f"the camera URL {describe(spec)} {problem} (check FACEREC_CAMERA)"
        ) from None


def _url_problem(spec: str) -> str | None:
    """Why a camera URL cannot be used, as the end of a sentence; None when it parses."""
    try:
        _scheme, _userinfo, hostport, *_ = _split_url(spec)
        port = urlsplit(spec).port
    except ValueError as exc:
        reason = str(exc)
        if "port" in reason.lower():
            reason = "the port must be a number from 1 to 65535"
        return f"is not valid: {reason}"
    if not hostport or port == 0:
        return "names no host or port"
    return None


class FrameSource:
    """Yields ``(frame_index, bgr_frame)``; ``release()`` frees the device.

    A subclass says what it is, so that nothing else guesses it from the setting's text.
    """

    kind = "source"  # the word messages use for it ("the stream stopped delivering frames")
    paced = False  # True: plays at its declared fps (a file); else frames come as they arrive
    networked = False  # True: reached over the network; retried often, as it comes back alone

    @classmethod
    def handles(cls, spec: str) -> bool:
        """Whether ``spec`` (stripped, not empty) names a source of this kind."""
        raise NotImplementedError

    @classmethod
    def precheck(cls, spec: str) -> str | None:
        """Why this source cannot start, when that shows without opening it, else None.

        Said without naming the source (health checks answer anonymous callers).
        """
        return None

    def __init__(self, spec: str):
        self.spec = spec
        self.capture: cv2.VideoCapture | None = None
        self.fps = 0.0

    def release(self):
        if self.capture is not None:
            self.capture.release()
            self.capture = None

    def _open(self, capture: cv2.VideoCapture, failure: str) -> float:
        """Keep ``capture`` if it opened, else release it and raise ``failure``.

        Returns the frame rate it reports (0 when it does not say).
        """
        self.capture = capture
        if not capture.isOpened():
            self.release()
            raise SourceError(failure)
        return capture.get(cv2.CAP_PROP_FPS)

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
    """A local video device by its index: ``0`` is /dev/video0."""

    kind = "webcam"

    @classmethod
    def handles(cls, spec: str) -> bool:
        return spec.isdigit()

    @classmethod
    def precheck(cls, spec: str) -> str | None:
        if os.name == "posix" and not Path(f"/dev/video{int(spec)}").exists():
            return "the webcam is not connected"
        return None

    def __init__(self, spec: str):
        super().__init__(spec)
        index = int(spec)
        if self.precheck(spec):
            raise SourceError(f"no webcam at index {index} (/dev/video{index} does not exist)")
        self.fps = self._open(cv2.VideoCapture(index), f"cannot open webcam {index}") or 30.0


class UrlSource(_LiveSource):
    """A network stream FFmpeg reads: RTSP, HTTP (MJPEG, HLS...), RTMP."""

    kind = "stream"
    networked = True

    @classmethod
    def handles(cls, spec: str) -> bool:
        return spec.lower().startswith(URL_SCHEMES)

    @classmethod
    def precheck(cls, spec: str) -> str | None:
        return "the camera URL is not valid" if _url_problem(spec) else None

    def __init__(self, spec: str):
        super().__init__(spec)
        check_url(spec)
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 10000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 10000]
        capture = cv2.VideoCapture(spec, cv2.CAP_FFMPEG, params)
        self.fps = self._open(capture, f"cannot open the stream {describe(spec)}") or 25.0


class FileSource(FrameSource):
    """A video file played at its own frame rate, looped; frame_index is the file's frame number."""

    kind = "file"
    paced = True

    @classmethod
    def handles(cls, spec: str) -> bool:
        return True  # whatever no other kind takes is a path

    @classmethod
    def precheck(cls, spec: str) -> str | None:
        return None if Path(spec).expanduser().is_file() else "the video file does not exist"

    def __init__(self, spec: str):
        super().__init__(spec)
        path = Path(spec).expanduser()
        if not path.is_file():
            raise SourceError(f"the video file {spec} does not exist")
        fps = self._open(cv2.VideoCapture(str(path)), f"cannot open the video file {spec}")
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


# Asked in order: the first kind that handles a setting reads it (a file path comes last).
SOURCE_TYPES: list[type[FrameSource]] = [WebcamSource, UrlSource, FileSource]


def source_type(spec: str) -> type[FrameSource] | None:
    """The kind of source ``spec`` names (None for an empty setting)."""
    spec = (spec or "").strip()
    if not spec:
        return None
    return next(kind for kind in SOURCE_TYPES if kind.handles(spec))


def precheck(spec: str) -> str | None:
    """Why the source ``spec`` cannot start, when that shows without opening it."""
    kind = source_type(spec)
    if kind is None:
        return "no camera is configured"
    return kind.precheck((spec or "").strip())


def is_networked(spec: str) -> bool:
    kind = source_type(spec)
    return kind is not None and kind.networked


def open_source(spec: str) -> FrameSource:
    """Open the source named by FACEREC_CAMERA; raises SourceError with a readable reason."""
    kind = source_type(spec)
    if kind is None:
        raise SourceError("no camera is configured (set FACEREC_CAMERA)")
    return kind(spec.strip())
