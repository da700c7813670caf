"""The camera service: one capture thread, the recognition worker, and every viewer.

The capture thread reads the source at its own rate and keeps only the newest frame for
the recognition worker (frames are dropped while it is busy, never queued). A frame is
shown once a result computed on it or a later frame is in, or after at most ``delay``
frames (at once while no results come, as when the worker starts): faces are drawn on the
very frames they were found in, and a face that a result finds is drawn back to the first
frame of its scene where optical flow can follow it.
Between results, tracks (``tracks.Tracks``) carry each face and its consensus identity
from frame to frame, and end at scene cuts. Each frame is annotated and
JPEG-encoded once, and every viewer is handed the same bytes; listeners (benchmarks, the
sightings writer) are told what was drawn and what happened to tracks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import cv2

from ..engine import CameraFeed, FrameRequest
from ..gallery import RecognisedFace
from . import drawing
from .motion import Motion
from .sources import (
    SourceError,
    SourceOptions,
    StreamInfo,
    describe,
    is_networked,
    open_source,
    redact,
)
from .tracks import TrackEvent, Tracks
from .tuning import Tuning

log = logging.getLogger(__name__)

# Longest pause between two attempts to open the camera, in seconds. A network camera that
# comes back is picked up within this (plus the time to open it); a refused connection costs
# nothing to try.
NETWORK_RETRY_MAX = 2.0
LOCAL_RETRY_MAX = 30.0


# A held frame older than this (seconds) may leave beside another one to catch up.
CATCH_UP = 0.5


class RateMeter:
    """Events per second over a sliding window."""

    def __init__(self, window: float = 3.0):
        self.window = window
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def tick(self, now: float | None = None):
        now = time.monotonic() if now is None else now
        with self._lock:
            self._times.append(now)
            while self._times and now - self._times[0] > self.window:
                self._times.popleft()

    def rate(self) -> float:
        now = time.monotonic()
        with self._lock:
            while self._times and now - self._times[0] > self.window:
                self._times.popleft()
            if len(self._times) < 2:
                return 0.0
            span = max(now - self._times[0], self._times[-1] - self._times[0])
            return (len(self._times) - 1) / span if span > 0 else 0.0

    def reset(self):
        with self._lock:
            self._times.clear()


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
    ):
        self.camera = camera  # the camera's name: in URLs, on sightings, in log lines
        self.source = source
        self.options = options or SourceOptions()  # transport, timeout, snapshot rate
        # Makes this camera's handle on the face engine (submit/poll), when it first runs.
        self._feed_factory = feed_factory
        self.tuning = tuning  # sent with every frame; replaced whole by reconfigure()
        self.delay = max(0, delay)
        self.jpeg_quality = jpeg_quality
        self.idle_timeout = idle_timeout
        self.autostart = autostart

        self._lock = threading.Lock()  # guards start/stop: one capture thread at most
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._manually_stopped = False

        self._cond = threading.Condition()
        self._frame_id = 0
        self._jpeg = b""
        self._bgr = None  # the annotated frame behind _jpeg, for smaller widths
        self._scaled: dict[int, tuple[int, bytes]] = {}  # width -> (frame_id, jpeg)
        self._scale_locks: dict[int, threading.Lock] = {}
        self._width_viewers: dict[int, int] = {}
        self._closed = False
        self._viewers = 0
        self._last_activity = time.monotonic()

        self.state = "stopped"
        self.error: str | None = None
        self.source_fps = 0.0
        self.stream: StreamInfo | None = None  # what the source delivered when last opened
        self._raw = None  # (frame_index, bgr) of the newest captured frame
        self._faces: list[RecognisedFace] = []  # drawn on the newest published frame
        self._faces_index: int | None = None
        self._faces_at = 0.0
        self.output_rate = RateMeter()
        self.capture_rate = RateMeter()
        self._paced = True  # a file plays at its declared fps; live sources at their own
        self.recognition_rate = RateMeter()
        self.listeners: list = []  # callables(FrameInfo), called from the capture thread
        self._feed: CameraFeed | None = None
        self._frame_seq = 0
        self.attempts = 0
        self._publish_placeholder("Camera stopped", "Press Start to turn the camera on.")

    # ---- control -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive() and not self._stop.is_set()

    def start(self) -> bool:
        """Start capturing unless already running. Returns True if this call started it."""
        with self._lock:
            self._manually_stopped = False
            self._touch()
            if self._closed or self.running:
                return False
            if self._thread is not None and self._thread.is_alive():
                self._thread.join()  # a stop in progress: let it finish releasing the device
            self._stop = threading.Event()
            self.state = "starting"
            self.error = None
            self._thread = threading.Thread(
                target=self._run,
                args=(self._stop,),
                name="facerec-capture",
                daemon=True,
            )
            self._thread.start()
            return True

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop capturing and release the source. Returns True if it was running."""
        with self._lock:
            self._manually_stopped = True
            thread = self._thread
            if thread is None:
                return False
            self._stop.set()
            thread.join(timeout)
            if thread.is_alive():
                log.warning("capture thread did not stop within %.0f s", timeout)
                return True
            self._thread = None
            return True

    def reconfigure(self, source: str, tuning: Tuning, options: SourceOptions | None = None):
        """Switch to another source or tuning, keeping the viewers; restarts if running."""
        with self._lock:
            was_running, manual = self.running, self._manually_stopped
        self.stop()
        self.source, self.tuning = source, tuning
        self.options = options or self.options
        self.stream = None
        if was_running:
            self.start()
        else:
            self._manually_stopped = manual
            self._publish_placeholder("Camera stopped", "Press Start to turn the camera on.")

    def close(self):
        """Stop everything, including the recognition worker (at shutdown)."""
        self.stop()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._feed is not None:
            self._feed.close()
            self._feed = None

    # ---- what the outside sees -----------------------------------------------------------

    def status(self) -> dict:
        self._touch()
        fresh = time.monotonic() - self._faces_at < 2.0
        return {
            "camera": self.camera,
            "running": self.running,
            "state": self.state,
            "error": self.error,
            "source": describe(self.source),
            "fps": round(self.output_rate.rate(), 2) if self.running else 0.0,
            "source_fps": round(self._source_rate(), 2),
            "recognition_hz": round(self.recognition_rate.rate(), 2) if self.running else 0.0,
            # Frames the recognition worker never saw because it was busy (dropped, not queued).
            "recognition_skipped": self._feed.dropped if self._feed else 0,
            "frame_index": self._faces_index if self.running else None,
            "viewers": self._viewers,
            # Attempts to open the source since it last delivered (0 while it does).
            "attempts": self.attempts,
            # Codec, size, declared fps and time to the first frame of the last opening.
            "stream": self.stream.to_dict() if self.stream else None,
            # RecognisedFace values: the API dumps them through shapes.RecognizedFace.
            "faces": list(self._faces) if (self.running and fresh) else [],
        }

    def _source_rate(self) -> float:
        """A file's declared fps; for a webcam or URL the rate frames really arrive at
        (what FFmpeg declares for an HTTP MJPEG stream, say, is a guess)."""
        if self._paced or not self.running:
            return self.source_fps
        return self.capture_rate.rate() or self.source_fps

    def snapshot(self):
        """The newest raw frame as ``(frame_index, rgb)``, or None when not capturing."""
        raw = self._raw
        if not self.running or raw is None:
            return None
        index, bgr = raw
        return index, bgr[:, :, ::-1].copy()

    def latest(self) -> tuple[int, bytes]:
        with self._cond:
            return self._frame_id, self._jpeg

    def frames(self, resend_after: float = 1.0, width: int | None = None, fps: float | None = None):
        """Yield JPEG frames for one viewer: always the newest, never a backlog.

        With no new frame for ``resend_after`` seconds (camera stopped, source stalled)
        the current frame is sent again so the page keeps showing it. ``width`` downscales
        (each width is encoded once per frame, shared by its viewers); ``fps`` caps the rate.
        """
        width = width or None
        period = 1.0 / fps if fps else 0.0
        due = 0.0
        with self._cond:
            self._viewers += 1
            if width:
                self._width_viewers[width] = self._width_viewers.get(width, 0) + 1
        self._touch()
        if self.autostart and not self._manually_stopped and not self.running:
            self.start()
        try:
            last = -1
            while True:
                with self._cond:
                    self._cond.wait_for(
                        lambda seen=last: self._frame_id != seen or self._closed,
                        timeout=resend_after,
                    )
                    if self._closed:
                        return
                    fresh = self._frame_id != last
                    last, jpeg = self._frame_id, self._jpeg
                if period:
                    now = time.monotonic()
                    if fresh and now < due:
                        continue  # over this viewer's frame rate: skip to a later frame
                    due = max(due + period, now - period) if fresh else due
                if width:
                    jpeg = self._scaled_jpeg(last, width) or jpeg
                yield jpeg
        finally:
            with self._cond:
                self._viewers -= 1
                if width:
                    self._width_viewers[width] -= 1
                    if not self._width_viewers[width]:
                        del self._width_viewers[width]
                        self._scaled.pop(width, None)
            self._touch()

    def _scaled_jpeg(self, frame_id: int, width: int) -> bytes | None:
        """Frame ``frame_id`` at ``width`` pixels, encoded once for every viewer of that width.

        None when the frame is not that wide (the full-size JPEG is sent) or has moved on.
        """
        with self._cond:
            lock = self._scale_locks.setdefault(width, threading.Lock())
        with lock:
            with self._cond:
                cached = self._scaled.get(width)
                if cached and cached[0] >= frame_id:
                    return cached[1]
                current, frame = self._frame_id, self._bgr
            if frame is None or width >= frame.shape[1]:
                return None
            height = max(1, round(frame.shape[0] * width / frame.shape[1]))
            small = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
            jpeg = drawing.encode_jpeg(small, self.jpeg_quality)
            with self._cond:
                if width in self._width_viewers:
                    self._scaled[width] = (current, jpeg)
            return jpeg

    @property
    def viewers(self) -> int:
        return self._viewers

    @property
    def feed(self) -> CameraFeed | None:
        """The camera's handle on the face engine (None until the camera first runs)."""
        return self._feed

    # ---- capture thread ------------------------------------------------------------------

    def _touch(self):
        self._last_activity = time.monotonic()

    def _idle(self) -> bool:
        return (
            self.idle_timeout > 0
            and self._viewers == 0
            and time.monotonic() - self._last_activity > self.idle_timeout
        )

    def _next_backoff(self, backoff: float) -> float:
        """The pause before the next attempt: doubling, capped low for a network camera.

        A URL camera that comes back should be picked up within seconds, and trying to open a
        URL costs little; a missing webcam or file is retried less often.
        """
        cap = NETWORK_RETRY_MAX if is_networked(self.source) else LOCAL_RETRY_MAX
        return min(backoff * 2, cap)

    def _run(self, stop: threading.Event):
        backoff = 1.0
        self.attempts = 0
        reason = ("Camera stopped", "Press Start to turn the camera on.")
        try:
            while not stop.is_set():
                self.attempts += 1
                try:
                    source = open_source(self.source, self.options)
                except SourceError as exc:
                    self._unavailable(str(exc), backoff)
                    if stop.wait(backoff):
                        break
                    backoff = self._next_backoff(backoff)
                    continue
                except Exception as exc:  # an OpenCV error must not kill the thread silently
                    self._unavailable(f"camera error: {exc}", backoff)
                    if stop.wait(backoff):
                        break
                    backoff = self._next_backoff(backoff)
                    continue
                try:
                    log.info("camera %s opened (%.2f fps)", describe(self.source), source.fps)
                    self.source_fps = source.fps
                    self._paced = source.paced
                    self.error = None
                    self.state = "running"
                    self.attempts = 0
                    backoff = 1.0
                    if self._pump(source, stop) == "idle":
                        reason = ("Camera paused", "Nobody was watching. Press Start to resume.")
                        stop.set()
                except SourceError as exc:
                    self._unavailable(str(exc), backoff)
                except Exception as exc:
                    self._unavailable(f"camera error: {exc}", backoff)
                finally:
                    source.release()
                if not stop.is_set() and stop.wait(backoff):
                    break
        finally:
            self._raw = None
            self._faces = []
            self.output_rate.reset()
            self.capture_rate.reset()
            self.recognition_rate.reset()
            self.state = "stopped"
            self._publish_placeholder(*reason)
            log.info("camera stopped")

    def _unavailable(self, why: str, retry_in: float):
        why = redact(why, self.source)  # an OpenCV message may quote the whole URL
        log.warning("camera %s unavailable: %s", describe(self.source), why)
        # The picture first: whoever sees the state "unavailable" must not get the old frame.
        self._publish_placeholder("Camera unavailable", f"{why}. Retrying in {retry_in:.0f} s.")
        self.error = why
        self.state = "unavailable"

    def _pump(self, source, stop) -> str | None:
        if self._feed is None:
            self._feed = self._feed_factory(self)
        feed, tuning = self._feed, self.tuning
        motion = Motion()
        tracks = Tracks(motion, tuning.tolerance)
        held: deque = deque()  # frames waiting (at most `delay`) for their recognition result
        results: deque = deque()
        seq = self._frame_seq
        last_index = None
        newest_result, newest_at = -1, -1e9
        try:
            for index, frame in source.frames(stop):
                self.capture_rate.tick()
                if last_index is None:  # the first frame since the source opened
                    self.stream = source.stream_info(frame, time.monotonic())
                seq += 1
                self._frame_seq = seq
                self._raw = (index, frame)
                # A file starting over is a cut whatever the picture looks like.
                looped = last_index is not None and index < last_index
                last_index = index
                motion.add_frame(seq, frame, new_scene=looped)

                result = feed.poll()
                if result is not None:
                    self.recognition_rate.tick()
                    results.append(result)
                    newest_result, newest_at = result.seq, time.monotonic()
                # Waiting for results only makes sense while they come (not while the
                # worker starts or restarts).
                recognising = time.monotonic() - newest_at < 1.0
                feed.submit(FrameRequest(seq, tuning), frame)

                now = time.monotonic()
                held.append((seq, index, frame, now))
                released = 0
                while held and (
                    len(held) > self.delay or newest_result >= held[0][0] or not recognising
                ):
                    # One frame out per frame in: frames released together reach a viewer as
                    # one (each viewer takes the newest), so a result must not flush a burst.
                    # Frames older than CATCH_UP may go two at a time, so a slow source's
                    # delay does not stay at its longest.
                    if released and recognising and now - held[0][3] < CATCH_UP:
                        break
                    if released > 1 and recognising:
                        break
                    out_seq, out_index, out_frame, _taken = held.popleft()
                    released += 1
                    tracks.advance(out_seq)
                    while results and results[0].seq <= out_seq:
                        done = results.popleft()
                        tracks.apply(done.seq, done.faces, done.gallery_version)
                    faces = tracks.faces()
                    if results:  # the next result's new faces, carried back to this frame
                        faces += tracks.preview(results[0].seq, results[0].faces)
                    info = FrameInfo(0, out_index, faces, tracks.events(), self.camera)
                    self._show(faces, out_index)
                    self._publish(drawing.annotate(out_frame, faces), info)
                if self._idle():
                    return "idle"
            return None
        finally:
            # Whatever stops the loop (stop, idle, a broken source), every track ends.
            tracks.end_all()
            events = tracks.events()
            if events:
                self._notify(FrameInfo(self._frame_id, None, [], events, self.camera))

    def _show(self, faces: list[RecognisedFace], index: int):
        self._faces = faces
        self._faces_index = index
        self._faces_at = time.monotonic()

    def _publish(self, frame, info: FrameInfo | None = None):
        jpeg = drawing.encode_jpeg(frame, self.jpeg_quality)
        with self._cond:
            self._frame_id += 1
            self._jpeg = jpeg
            self._bgr = frame
            self._cond.notify_all()
        if info is not None:
            self.output_rate.tick()
            info.frame_id = self._frame_id
            self._notify(info)

    def _notify(self, info: FrameInfo):
        for listener in list(self.listeners):
            try:
                listener(info)
            except Exception:  # a listener's bug must not stop the camera
                log.exception("frame listener %r failed", listener)

    def _publish_placeholder(self, title: str, detail: str = ""):
        self._publish(drawing.placeholder(title, detail))
