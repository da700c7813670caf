"""The camera service: one camera's capture, pipeline and viewers, put together.

- ``capture.Capture``: the source's lifecycle (one thread: open, retry, read, release);
- ``pipeline.Pipeline``: frames to the face engine and back, held back until their result,
  tracks and their events (no thread: driven by the capture thread, testable alone);
- ``broadcast.Broadcast``: the newest annotated frame as JPEG, and every viewer of it;
- ``substream.SubStream``: the detection sub-stream, when the camera has one (opened by the
  capture beside its source; the pipeline looks for faces in it and scales them onto the
  frames viewers see).

This class starts and stops them, draws each frame the pipeline lets out, tells listeners
(the sightings writer, benchmarks) what was drawn, and answers for the camera's status.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields

from ..boxes import scaled
from ..engine import CameraFeed
from ..gallery import RecognisedFace
from .broadcast import Broadcast
from .capture import STOPPED, Capture
from .pipeline import Counters, Pipeline
from .rates import RateMeter
from .sources import SourceOptions, StreamInfo, describe
from .substream import SubStream
from .tracks import TrackEvent
from .tuning import Tuning

log = logging.getLogger(__name__)

# Faces in the status are those of the last published frame, if it is this recent (seconds).
FACES_FRESH = 2.0
# A camera is "recognising" this long (seconds) after its last search for faces.
RECOGNISING = 2.0
# A camera's activity (status "activity"), and how pages say it.
ACTIVITY_WORDS = {
    "idle": "Idle: not watching",
    "watching": "Watching: nothing moving",
    "recognising": "Recognising faces",
}
ACTIVITIES = tuple(ACTIVITY_WORDS)


@dataclass(frozen=True)
class CameraStatus(Mapping):
    """One camera's status: one value with one field per thing said, built in one place
    (``CameraService.status``) and dumped by the API through ``api.schemas.StreamStatus``
    (a test holds the two to the same fields).

    It reads as a mapping too (``status["state"]``, ``{**status}``), so pages, metrics and
    older callers need no change.
    """

    camera: str
    running: bool
    state: str
    activity: str  # one of ACTIVITIES
    error: str | None
    source: str  # credentials hidden
    fps: float = 0.0
    source_fps: float = 0.0
    recognition_hz: float = 0.0
    # Frames the recognition worker never saw because it was busy (dropped, not queued).
    recognition_skipped: int = 0
    # What the motion gate and the settled tracks saved (also in /metrics).
    frames_gated: int = 0
    detections: int = 0
    encodings: int = 0
    encodings_skipped: int = 0
    frame_index: int | None = None
    viewers: int = 0
    # Attempts to open the source since it last delivered (0 while it does).
    attempts: int = 0
    # Codec, size, declared fps and time to the first frame of the last opening.
    stream: dict | None = None
    # The detection sub-stream's own state, or None without one.
    detect: dict | None = None
    # RecognisedFace values: the API dumps them through shapes.RecognizedFace.
    faces: list = field(default_factory=list)

    @classmethod
    def off(cls, camera: str, source: str, state: str) -> CameraStatus:
        """A camera that does not run (``disabled``: not even a service)."""
        return cls(camera, False, state, "idle", None, source)

    def __getitem__(self, key: str):
        if key not in _STATUS_FIELDS:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(_STATUS_FIELDS)

    def __len__(self) -> int:
        return len(_STATUS_FIELDS)


_STATUS_FIELDS = tuple(f.name for f in fields(CameraStatus))


@dataclass
class FrameInfo:
    """What was drawn on a published frame, and what happened to tracks on it.

    Listeners are called on the capture thread: they must return at once (hand work to a
    queue of their own).
    """

    frame_id: int
    frame_index: int | None
    faces: list[RecognisedFace] = field(default_factory=list)
    events: list[TrackEvent] = field(default_factory=list)
    camera: str = "main"


class CameraService:
    def __init__(
        self,
        source: str,
        tuning: Tuning,
        *,
        feed_factory,
        camera: str = "main",
        delay: int = 12,
        jpeg_quality: int = 80,
        idle_timeout: float = 120.0,
        autostart: bool = True,
        options: SourceOptions | None = None,
        lease=None,
        detect_source: str | None = None,
    ):
        self.camera = camera  # the camera's name: in URLs, on sightings, in log lines
        self.tuning = tuning  # sent with every frame; replaced whole by reconfigure()
        # Makes this camera's handle on the face engine (submit/poll), when it first runs.
        self._feed_factory = feed_factory
        self._feed: CameraFeed | None = None
        self.delay = max(0, delay)
        self.idle_timeout = idle_timeout
        self.autostart = autostart
        self.broadcast = Broadcast(jpeg_quality)
        # Who may run the camera (``lease.Lease``): one process at a time; None: no check.
        self.capture = Capture(
            source,
            self._pump,
            self.broadcast.placeholder,
            options,
            lease=lease,
            meanwhile=self._meanwhile,
        )
        self.capture.detect = self._substream(detect_source)
        self._control = threading.Lock()  # start/stop/reconfigure, one at a time
        self._manually_stopped = False
        self._idled = False  # stopped for lack of viewers (FACEREC_IDLE_TIMEOUT)
        self._closed = False
        self._last_activity = time.monotonic()
        self._faces: list[RecognisedFace] = []  # drawn on the newest published frame
        self._faces_index: int | None = None
        self._faces_at = 0.0
        self._frame_seq = 0  # frame numbers go on across reopenings of the source
        # Recognition on the detection sub-stream alone while the source is unavailable.
        self._down: Pipeline | None = None
        self.output_rate = RateMeter()
        self.recognition_rate = RateMeter()
        self.counters = Counters()  # what the pipeline did and skipped (/metrics)
        self.listeners: list = []  # callables(FrameInfo), called from the capture thread
        self.broadcast.placeholder(*STOPPED)

    # ---- control -------------------------------------------------------------------------

    @property
    def source(self) -> str:
        return self.capture.source

    @property
    def running(self) -> bool:
        return self.capture.running

    @property
    def state(self) -> str:
        return self.capture.state

    @property
    def error(self) -> str | None:
        return self.capture.error

    @property
    def source_fps(self) -> float:
        return self.capture.source_fps

    @property
    def options(self) -> SourceOptions:
        return self.capture.options

    @property
    def stream(self) -> StreamInfo | None:
        """Codec, size, declared fps and time to the first frame of the last opening."""
        return self.capture.stream

    @property
    def lease(self):
        return self.capture.lease

    @property
    def capture_rate(self) -> RateMeter:
        return self.capture.rate

    @property
    def substream(self) -> SubStream | None:
        """The detection sub-stream faces are looked for in (None: the source itself)."""
        return self.capture.detect

    @property
    def detect_source(self) -> str | None:
        substream = self.capture.detect
        return substream.source if substream is not None else None

    def measured_fps(self) -> float:
        """The rate frames arrive at from the source (a file: the rate it declares)."""
        return self.capture.measured_fps()

    def _substream(self, detect_source: str | None) -> SubStream | None:
        if not detect_source:
            return None
        return SubStream(detect_source, self.capture.options, self.camera)

    def start(self) -> bool:
        """Start capturing unless already running. Returns True if this call started it."""
        with self._control:
            self._manually_stopped = self._idled = False
            self._touch()
            if self._closed:
                return False
            return self.capture.start()

    def keep_watching(self) -> bool:
        """Start the camera unless it runs, an operator stopped it, or it stopped for lack
        of viewers (a viewer starts it then). True if this call started it."""
        if self.running or self._manually_stopped or self._idled or self._closed:
            return False
        return self.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop capturing and release the source. Returns True if it was running."""
        with self._control:
            self._manually_stopped = True
            return self.capture.stop(timeout)

    def reconfigure(
        self,
        source: str,
        tuning: Tuning,
        options: SourceOptions | None = None,
        detect_source: str | None = None,
    ):
        """Switch to another source, tuning, source options or detection sub-stream, keeping
        the viewers; restarts if running."""
        with self._control:
            was_running, manual = self.running, self._manually_stopped
            self.capture.stop()
            self.capture.source, self.tuning = source, tuning
            self.capture.options = options or self.capture.options
            self.capture.detect = self._substream(detect_source)
            self.capture.stream = None
            if was_running and not self._closed:
                self.capture.start()
            else:
                self._manually_stopped = manual
                self.broadcast.placeholder(*STOPPED)

    def close(self):
        """Stop everything and leave the face engine (at shutdown, or the camera removed)."""
        self.stop()
        with self._control:
            self._closed = True
        self.broadcast.close()
        if self._feed is not None:
            self._feed.close()
            self._feed = None

    # ---- what the outside sees -----------------------------------------------------------

    def status(self) -> CameraStatus:
        self._touch()
        running = self.running
        fresh = time.monotonic() - self._faces_at < FACES_FRESH
        return CameraStatus(
            camera=self.camera,
            running=running,
            state=self.state,
            activity=self.activity,
            error=self.error,
            source=describe(self.source),
            fps=round(self.output_rate.rate(), 2) if running else 0.0,
            source_fps=round(self.capture.measured_fps(), 2),
            recognition_hz=round(self.recognition_rate.rate(), 2) if running else 0.0,
            recognition_skipped=self._feed.dropped if self._feed else 0,
            frames_gated=self.counters.frames_gated,
            detections=self.counters.detections,
            encodings=self.counters.encodings,
            encodings_skipped=self.counters.encodings_skipped,
            frame_index=self._faces_index if running else None,
            viewers=self.viewers,
            attempts=self.capture.attempts,
            stream=self.stream.to_dict() if self.stream else None,
            detect=self.substream.status() if self.substream is not None else None,
            faces=list(self._faces) if (running and fresh) else [],
        )

    @property
    def attempts(self) -> int:
        """Attempts to open the source since it last delivered (0 while it does)."""
        return self.capture.attempts

    @property
    def activity(self) -> str:
        """``idle`` (not capturing), ``watching`` (capturing, no face search lately: nothing
        moves and no face is in view) or ``recognising`` (searching for faces)."""
        if not self.running:
            return "idle"
        feed = self._feed
        searching = time.monotonic() - self.counters.last_detection < RECOGNISING
        return "recognising" if searching or (feed is not None and feed.busy) else "watching"

    def snapshot(self):
        """The newest raw frame as ``(frame_index, rgb)``, or None when not capturing."""
        raw = self.capture.snapshot()
        if raw is None:
            return None
        index, bgr = raw
        return index, bgr[:, :, ::-1].copy()

    def latest(self) -> tuple[int, bytes]:
        """``(frame id, JPEG)`` of the newest published frame."""
        return self.broadcast.latest()

    def frames(self, resend_after: float = 1.0, width: int | None = None, fps: float | None = None):
        """Yield JPEG frames for one viewer (see ``Broadcast.frames``); a viewer starts the
        camera unless an operator stopped it."""
        self._touch()
        if self.autostart and not self._manually_stopped and not self.running:
            self.start()
        try:
            yield from self.broadcast.frames(resend_after, width, fps)
        finally:
            self._touch()

    @property
    def viewers(self) -> int:
        return self.broadcast.viewers

    @property
    def feed(self) -> CameraFeed | None:
        """The camera's handle on the face engine (None until the camera first runs)."""
        return self._feed

    # ---- on the capture thread -----------------------------------------------------------

    def _touch(self):
        self._last_activity = time.monotonic()

    def _idle(self) -> bool:
        return (
            self.idle_timeout > 0
            and self.viewers == 0
            and time.monotonic() - self._last_activity > self.idle_timeout
        )

    def _pump(self, frames, stop) -> str | None:
        """Every frame of the opened source through the pipeline to the viewers."""
        if self._feed is None:
            self._feed = self._feed_factory(self)
        pipeline = Pipeline(
            self._feed,
            self.tuning,
            delay=self.delay,
            first_seq=self._frame_seq,
            recognition_rate=self.recognition_rate,
            counters=self.counters,
            substream=self.capture.detect,
        )
        try:
            for index, frame in frames:
                for shown in pipeline.push(index, frame):
                    self._show(shown.faces, shown.index)
                    frame_id = self.broadcast.publish(shown.frame, shown.faces)
                    self.output_rate.tick()
                    self._notify(FrameInfo(frame_id, shown.index, shown.faces, shown.events))
                self._frame_seq = pipeline.seq
                if self._idle():
                    self._idled = True
                    return "idle"
            return None
        finally:
            # Whatever stops the loop (stop, idle, a broken source), every track ends.
            events = pipeline.finish()
            self._frame_seq = pipeline.seq
            self._faces = []
            self.output_rate.reset()
            self.recognition_rate.reset()
            if events:
                self._notify(FrameInfo(self.broadcast.frame_id, None, [], events))

    def _meanwhile(self, frames, stop):
        """While the source is down, faces are looked for in the detection sub-stream's own
        frames (``frames``; None: the source is back or the capture ends), named in the status
        and written as sightings; viewers keep seeing why the picture is gone."""
        if frames is None:
            pipeline, self._down = self._down, None
            if pipeline is not None:
                self._faces = []
                self.recognition_rate.reset()
                events = pipeline.finish()
                if events:
                    self._notify(FrameInfo(self.broadcast.frame_id, None, [], events))
            return
        if self._feed is None:
            self._feed = self._feed_factory(self)
        if self._down is None:
            self._down = Pipeline(
                self._feed,
                self.tuning,
                delay=0,  # nothing is shown: names go out as soon as they are found
                first_seq=self._frame_seq,
                recognition_rate=self.recognition_rate,
                counters=self.counters,
            )
        pipeline = self._down
        size = (self.stream.width, self.stream.height) if self.stream else None
        for number, small in frames:
            for shown in pipeline.push(number, small):
                faces = shown.faces
                if size is not None:  # where they are on the main stream, as usual
                    sx, sy = size[0] / small.shape[1], size[1] / small.shape[0]
                    faces = [face.moved(scaled(face.box, sx, sy)) for face in faces]
                self._show(faces, None)
                self._notify(FrameInfo(self.broadcast.frame_id, None, faces, shown.events))
            self._frame_seq = pipeline.seq

    def _show(self, faces: list[RecognisedFace], index: int | None):
        self._faces = faces
        self._faces_index = index
        self._faces_at = time.monotonic()

    def _notify(self, info: FrameInfo):
        info.camera = self.camera
        for listener in list(self.listeners):
            try:
                listener(info)
            except Exception:  # a listener's bug must not stop the camera
                log.exception("frame listener %r failed", listener)
