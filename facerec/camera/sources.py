"""Frame sources: a webcam index, a video file (paced to its fps and looped), a URL (RTSP,
HTTP MJPEG, or a snapshot camera: see ``snapshots``).

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
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import cv2

log = logging.getLogger(__name__)

URL_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://")


# OpenCV hands these FFmpeg options to every capture it opens. FFmpeg follows HTTP redirects
# by default, so a camera URL could lead it to any address, this server's own included:
# no camera follows one (the Test button says where it leads instead). They are in force
# from when this module is loaded, before any capture thread reads the environment, beside
# any option the administrator set there; a camera's own options (its RTSP transport) are
# added per open by ``ffmpeg_options`` below.
FFMPEG_OPTIONS = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
BASE_FFMPEG_OPTIONS = os.environ.get(FFMPEG_OPTIONS, "")
if "max_redirects" not in BASE_FFMPEG_OPTIONS:
    BASE_FFMPEG_OPTIONS = "|".join(
        item for item in (BASE_FFMPEG_OPTIONS, "max_redirects;0") if item
    )
os.environ[FFMPEG_OPTIONS] = BASE_FFMPEG_OPTIONS


class SourceError(RuntimeError):
    """The camera could not be opened or stopped delivering frames."""


class Unreachable(SourceError):
    """A network camera could not be reached at all: connection refused, no answer, an
    unknown host name (the message says which; the Test button says only "not reachable")."""


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


TRANSPORTS = ("tcp", "udp")


@dataclass(frozen=True)
class SourceOptions:
    """How to read one camera's source, beside the source itself (its table row, the settings)."""

    # RTSP only: RTP inside the RTSP connection (tcp, the default: UDP loses packets behind
    # NAT and on Wi-Fi) or as UDP datagrams (udp: a little less delay on a clean network).
    transport: str = "tcp"
    # Network cameras: the longest wait to connect, and for the next frame once streaming; a
    # camera silent that long with its connection open has stalled.
    timeout: float = 5.0
    # Snapshot cameras (one JPEG per HTTP request): requests per second.
    snapshot_rate: float = 2.0


@dataclass(frozen=True)
class StreamInfo:
    """What a source turned out to deliver: the Test button and the camera status show it."""

    kind: str  # file, webcam, rtsp, stream (HTTP MJPEG and other FFmpeg URLs), snapshot
    codec: str  # "H.264", "MJPEG", "JPEG"..., or "" when the source does not say
    width: int
    height: int
    fps: float  # what the source declares (0: it does not say)
    first_frame: float  # seconds from the start of opening to the first frame

    @property
    def first_frame_ms(self) -> int:
        """The time to the first frame in whole milliseconds (as the status and the Test
        button say it)."""
        return round(self.first_frame * 1000)

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "codec": self.codec,
            "width": self.width,
            "height": self.height,
            "fps": round(self.fps, 2),
            "first_frame_ms": self.first_frame_ms,
        }


# FFmpeg's codec tags (what CAP_PROP_FOURCC reports) in the words camera menus use.
_CODEC_NAMES = {
    "h264": "H.264",
    "avc1": "H.264",
    "hevc": "H.265",
    "hev1": "H.265",
    "hvc1": "H.265",
    "h265": "H.265",
    "mjpg": "MJPEG",
    "mjpeg": "MJPEG",
    "jpeg": "JPEG",
    "mp4v": "MPEG-4",
    "yuyv": "raw YUYV",
}


def codec_name(fourcc: float) -> str:
    """OpenCV's FOURCC property as a codec name ("" when the backend does not say)."""
    code = int(fourcc or 0)
    if code <= 0:
        return ""
    tag = code.to_bytes(4, "little").decode("latin-1").strip("\0 ")
    return _CODEC_NAMES.get(tag.lower(), tag)


class FfmpegOptions:
    """OpenCV gives FFmpeg the options of every open from one process-wide environment
    variable (OPENCV_FFMPEG_CAPTURE_OPTIONS), read during the open. A camera's own options
    (an RTSP camera's transport) are added to the base ones only while no open that wants
    others is in progress: opens wanting the same options run side by side, an open wanting
    others waits for them to finish (opens take seconds at most). Later options win in
    FFmpeg, so a camera's transport overrides one the administrator set for all."""

    def __init__(self, base: str):
        self._cond = threading.Condition()
        self._base = base
        self._current = base
        self._opening = 0

    @contextmanager
    def using(self, extra: str | None):
        """Hold the base options plus ``extra`` ("key;value|...") for one open; None: any
        options will do (the base ones are always there)."""
        wanted = None if extra is None else "|".join(item for item in (self._base, extra) if item)
        with self._cond:
            self._cond.wait_for(
                lambda: self._opening == 0 or wanted is None or wanted == self._current
            )
            if wanted is not None and wanted != self._current:
                os.environ[FFMPEG_OPTIONS] = wanted
                self._current = wanted
            self._opening += 1
        try:
            yield
        finally:
            with self._cond:
                self._opening -= 1
                self._cond.notify_all()


ffmpeg_options = FfmpegOptions(BASE_FFMPEG_OPTIONS)


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

    @classmethod
    def open(cls, spec: str, options: SourceOptions) -> FrameSource:
        """Open ``spec`` (a kind may hand it to another, as an http URL that is a stream)."""
        return cls(spec, options)

    def __init__(self, spec: str, options: SourceOptions | None = None):
        self.spec = spec
        self.options = options or SourceOptions()
        self.capture: cv2.VideoCapture | None = None
        self.fps = 0.0
        # When opening began, so that the time to the first frame can be told.
        self.opened_at = time.monotonic()

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

    def codec(self) -> str:
        return codec_name(self.capture.get(cv2.CAP_PROP_FOURCC)) if self.capture else ""

    def stream_info(self, frame, first_frame_at: float) -> StreamInfo:
        """What this source delivers, from its first frame and when that frame came."""
        height, width = frame.shape[:2]
        return StreamInfo(
            self.kind, self.codec(), width, height, self.fps, first_frame_at - self.opened_at
        )

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

    def __init__(self, spec: str, options: SourceOptions | None = None):
        super().__init__(spec, options)
        index = int(spec)
        if self.precheck(spec):
            raise SourceError(f"no webcam at index {index} (/dev/video{index} does not exist)")
        self.fps = self._open(cv2.VideoCapture(index), f"cannot open webcam {index}") or 30.0


DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443, "rtmp": 1935}


def network_failure(exc: BaseException, host: str, port: int, timeout: float) -> str:
    """Why a connection to a camera failed, in words (never the peer's own error text)."""
    where = f"{host}:{port}"
    if isinstance(exc, socket.gaierror):
        return f"the camera's host name {host} is not known (DNS)"
    if isinstance(exc, ConnectionRefusedError):
        return (
            f"{where} refused the connection: nothing listens there (the camera is off or "
            "restarting, or the port is wrong)"
        )
    if isinstance(exc, TimeoutError):
        return (
            f"no answer from {where} within {timeout:g} s (the camera is off, stalled, or the "
            "network does not reach it)"
        )
    if isinstance(exc, ConnectionError):
        return f"{where} dropped the connection (the camera restarted or the network failed)"
    strerror = getattr(exc, "strerror", None)
    return f"cannot reach {where}: {strerror or exc.__class__.__name__}"


def reach(spec: str, timeout: float):
    """Connect to a network camera's host and port once, so that a camera that cannot be
    reached says why in words (FFmpeg only says it could not open the URL)."""
    parts = urlsplit(spec)
    host, port = parts.hostname, parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
    if not host or not port:
        return  # udp:// and the like: nothing to connect to before FFmpeg
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise Unreachable(network_failure(exc, host, port, timeout)) from None


class UrlSource(_LiveSource):
    """A network stream read by FFmpeg: RTSP, HTTP MJPEG and what else FFmpeg reads.

    A read that waits the whole timeout means the camera stopped sending without closing
    the connection (a stall): that ends the stream at once, so it is reopened, rather than
    waiting on it for ever. A read that fails at once means the camera ended the stream.
    """

    kind = "stream"
    networked = True

    @classmethod
    def handles(cls, spec: str) -> bool:
        return spec.lower().startswith(URL_SCHEMES)

    @classmethod
    def precheck(cls, spec: str) -> str | None:
        return "the camera URL is not valid" if _url_problem(spec) else None

    def __init__(self, spec: str, options: SourceOptions | None = None):
        super().__init__(spec, options)
        check_url(spec)
        timeout = self.options.timeout
        reach(spec, timeout)
        milliseconds = max(1, round(timeout * 1000))
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            milliseconds,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            milliseconds,
        ]
        with ffmpeg_options.using(self.ffmpeg_options()):
            started = time.monotonic()
            capture = cv2.VideoCapture(spec, cv2.CAP_FFMPEG, params)
        if not capture.isOpened() and time.monotonic() - started >= 0.95 * timeout:
            capture.release()
            parts = urlsplit(spec)
            raise Unreachable(
                f"{parts.hostname}:{parts.port or DEFAULT_PORTS.get(parts.scheme.lower())} "
                f"accepted the connection but did not answer within {timeout:g} s (the camera "
                "is stalled or overloaded)"
            )
        self.fps = self._open(capture, self.open_failure()) or 25.0

    def ffmpeg_options(self) -> str | None:
        return None

    def open_failure(self) -> str:
        return f"cannot open the stream {describe(self.spec)}"

    def frames(self, stop):
        index = 0
        ended = 0
        timeout = self.options.timeout
        while not stop.is_set():
            started = time.monotonic()
            ok, frame = self.capture.read()
            if time.monotonic() - started >= 0.95 * timeout:
                raise SourceError(
                    f"no frame for {timeout:g} s: the camera stopped sending but kept the "
                    "connection open (stalled)"
                )
            if not ok or frame is None:
                ended += 1
                if ended >= 3:
                    raise SourceError(
                        "the camera ended the stream (it closed the connection or restarted)"
                    )
                time.sleep(0.02)
                continue
            ended = 0
            yield index, frame
            index += 1


class RtspSource(UrlSource):
    """An IP camera or NVR channel over RTSP, its video over TCP or UDP (``transport``)."""

    kind = "rtsp"

    @classmethod
    def handles(cls, spec: str) -> bool:
        return spec.lower().startswith(("rtsp://", "rtsps://"))

    def ffmpeg_options(self) -> str:
        return f"rtsp_transport;{self.options.transport}"

    def open_failure(self) -> str:
        return (
            f"connected, but no video came from {describe(self.spec)} over "
            f"{self.options.transport.upper()}: check the path, the user name and password"
            + (", and try TCP (UDP may be blocked)" if self.options.transport == "udp" else "")
        )


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

    def __init__(self, spec: str, options: SourceOptions | None = None):
        super().__init__(spec, options)
        path = Path(spec).expanduser()
        if not path.is_file():
            raise SourceError(f"the video file {spec} does not exist")
        with ffmpeg_options.using(None):
            capture = cv2.VideoCapture(str(path))
        fps = self._open(capture, f"cannot open the video file {spec}")
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


# An http(s) camera may be a snapshot camera: that kind lives in snapshots.py, which builds on
# this module (so it is imported once everything above exists).
from .snapshots import HttpSource  # noqa: E402

# Asked in order: the first kind that handles a setting reads it (a file path comes last).
SOURCE_TYPES: list[type[FrameSource]] = [
    WebcamSource,
    RtspSource,
    HttpSource,
    UrlSource,
    FileSource,
]


def source_kinds() -> tuple[str, ...]:
    """Every kind a source says it is (``StreamInfo.kind``, the API's enum): each
    ``FrameSource`` subclass's, so also the kinds a listed one hands a setting over to (an
    http URL opens as a snapshot camera or as a stream)."""
    kinds, todo = set(), [FrameSource]
    while todo:
        kind = todo.pop()
        todo.extend(kind.__subclasses__())
        if kind.kind != FrameSource.kind:
            kinds.add(kind.kind)
    return tuple(sorted(kinds))


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


def open_source(spec: str, options: SourceOptions | None = None) -> FrameSource:
    """Open the source named by FACEREC_CAMERA; raises SourceError with a readable reason."""
    kind = source_type(spec)
    if kind is None:
        raise SourceError("no camera is configured (set FACEREC_CAMERA)")
    return kind.open(spec.strip(), options or SourceOptions())
