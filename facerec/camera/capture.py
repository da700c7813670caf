"""The capture thread of one camera: the source's lifecycle, from opening it to releasing it.

One thread at most per camera (a lock around starting it: two first requests must not open
the device twice). It opens the source, retrying with a growing pause while it cannot (a
network camera is retried every few seconds: it comes back by itself), hands every frame to
the camera's ``pump`` and releases the source in ``finally``, whatever stopped it.

A camera with a detection sub-stream has it opened beside the source for as long as the
capture thread runs (``detect``, a ``substream.SubStream`` with a reader thread of its own):
it stays open while the source drops and reopens, and closes when the capture stops. While
the source is unavailable, the pauses between two attempts to reopen it are spent
recognising on the sub-stream's frames (``meanwhile``), so faces are still named while the
viewers see why the picture is gone.
"""

from __future__ import annotations

import logging
import threading
import time

from .rates import RateMeter
from .sources import (
    SourceError,
    SourceOptions,
    StreamInfo,
    describe,
    is_networked,
    open_source,
    redact,
)

log = logging.getLogger(__name__)

# Longest pause between two attempts to open the camera, in seconds. A network camera that
# comes back is picked up within this (plus the time to open it); a refused connection costs
# nothing to try.
NETWORK_RETRY_MAX = 2.0
LOCAL_RETRY_MAX = 30.0
LEASE_RETRY_MAX = 3.0  # while another process runs the camera

STOPPED = ("Camera stopped", "Press Start to turn the camera on.")
PAUSED = ("Camera paused", "Nobody was watching. Press Start to resume.")


class Capture:
    """Runs ``pump(frames, stop)`` on the opened source's frames in a thread of its own.

    ``pump`` returns "idle" to stop the camera for lack of viewers. ``show(title, detail)``
    puts a card in place of the picture when there is none (stopped, unavailable).
    ``meanwhile(frames, stop)`` is given the sub-stream's frames while the source is down, and
    ``meanwhile(None, stop)`` when that is over (the source open again, or the capture ending).
    """

    def __init__(
        self,
        source: str,
        pump,
        show,
        options: SourceOptions | None = None,
        lease=None,
        detect=None,
        meanwhile=None,
    ):
        self.source = source
        # Who may run the camera (``lease.Lease``): one process at a time; None: no check.
        self.lease = lease
        self.detect = detect  # the detection sub-stream (a SubStream), or None
        self.options = options or SourceOptions()  # transport, timeout, snapshot rate
        self.stream: StreamInfo | None = None  # what the source delivered when last opened
        self._pump = pump
        self._show = show
        self._meanwhile = meanwhile
        self._down = False  # recognising on the sub-stream alone, the source being down
        self._lock = threading.Lock()  # guards start/stop: one capture thread at most
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._session: threading.Event | None = None  # set when the source's frames must end
        self.state = "stopped"
        self.error: str | None = None
        self.attempts = 0  # attempts to open the source since it last delivered
        self.source_fps = 0.0
        self.paced = True  # a file plays at its declared fps; live sources at their own
        self.rate = RateMeter()  # frames read from the source
        self._raw = None  # (frame_index, bgr) of the newest frame read

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive() and not self._stop.is_set()

    def start(self) -> bool:
        """Start the thread unless it runs. Returns True if this call started it."""
        with self._lock:
            if self.running:
                return False
            if self._thread is not None and self._thread.is_alive():
                self._thread.join()  # a stop in progress: let it finish releasing the device
            self._stop = threading.Event()
            self.state = "starting"
            self.error = None
            self._thread = threading.Thread(
                target=self._run, args=(self._stop,), name="facerec-capture", daemon=True
            )
            self._thread.start()
            return True

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop the thread and release the source. Returns True if it was running."""
        with self._lock:
            thread = self._thread
            if thread is None:
                return False
            self._stop.set()
            session = self._session
            if session is not None:
                session.set()  # the frames read while the lease is kept end at once
            thread.join(timeout)
            if thread.is_alive():
                log.warning("capture thread did not stop within %.0f s", timeout)
                return True
            self._thread = None
            return True

    def snapshot(self):
        """The newest frame read as ``(frame_index, bgr)``, or None when not capturing."""
        return self._raw if self.running else None

    def measured_fps(self) -> float:
        """A file's declared fps; for a webcam or URL the rate frames really arrive at
        (what FFmpeg declares for an HTTP MJPEG stream, say, is a guess)."""
        if self.paced or not self.running:
            return self.source_fps
        return self.rate.rate() or self.source_fps

    def _next_backoff(self, backoff: float) -> float:
        """The pause before the next attempt: doubling, capped low for a network camera.

        A URL camera that comes back should be picked up within seconds, and trying to open a
        URL costs little; a missing webcam or file is retried less often.
        """
        cap = NETWORK_RETRY_MAX if is_networked(self.source) else LOCAL_RETRY_MAX
        return min(backoff * 2, cap)

    def _frames(self, source, stop):
        first = True
        for index, frame in source.frames(stop):
            self.rate.tick()
            if first:  # the first frame since the source opened
                self.stream = source.stream_info(frame, time.monotonic())
                first = False
            self._raw = (index, frame)
            yield index, frame

    def _run(self, stop: threading.Event):
        backoff = 1.0
        self.attempts = 0
        reason = STOPPED
        detect = self.detect
        try:
            while not stop.is_set():
                self.attempts += 1
                if self.lease is not None and not self.lease.acquire():
                    # Asked again every few seconds: the lease is free the moment its owner
                    # stops, and expires lease.TTL seconds after its owner died.
                    wait = min(backoff, LEASE_RETRY_MAX)
                    self._unavailable(self._held_elsewhere(), wait)
                    if stop.wait(wait):
                        break
                    backoff = self._next_backoff(backoff)
                    continue
                if detect is not None:
                    detect.start()  # once this process may run the camera (kept open after)
                try:
                    source = open_source(self.source, self.options)
                except Exception as exc:  # an OpenCV error must not kill the thread silently
                    why = str(exc) if isinstance(exc, SourceError) else f"camera error: {exc}"
                    self._unavailable(why, backoff)
                    if self._pause(stop, backoff):
                        break
                    backoff = self._next_backoff(backoff)
                    continue
                try:
                    log.info("camera %s opened (%.2f fps)", describe(self.source), source.fps)
                    self.source_fps = source.fps
                    self.paced = source.paced
                    self.error = None
                    self.state = "running"
                    self.attempts = 0
                    backoff = 1.0
                    self._back(stop)
                    # Runs until stopped, or until another process takes the lease over.
                    running = self._session = threading.Event()
                    if stop.is_set():  # stop() came before the session was there to end
                        running.set()
                    if self.lease is not None:
                        self.lease.keep(running)
                    try:
                        pumped = self._pump(self._frames(source, running), running)
                    finally:
                        running.set()  # the lease's keeper ends with the session
                    if pumped == "idle":
                        reason = PAUSED
                        stop.set()
                    elif self.lease is not None and self.lease.lost() and not stop.is_set():
                        self._unavailable("another process took this camera over", backoff)
                except SourceError as exc:
                    self._unavailable(str(exc), backoff)
                except Exception as exc:
                    self._unavailable(f"camera error: {exc}", backoff)
                finally:
                    source.release()
                if not stop.is_set() and self._pause(stop, backoff):
                    break
        finally:
            self._back(stop)
            if detect is not None:
                detect.stop()
            if self.lease is not None:
                self.lease.release()
            self._raw = None
            self.rate.reset()
            self.state = "stopped"
            self._show(*reason)
            log.info("camera stopped")

    def _held_elsewhere(self) -> str:
        holder = self.lease.holder or ""
        host, _, rest = holder.partition(":")
        pid = rest.partition(":")[0]
        where = f" ({host}, process {pid})" if host and pid else ""
        return f"another process runs this camera{where}"

    def _pause(self, stop: threading.Event, seconds: float) -> bool:
        """Wait ``seconds`` before reopening the source, recognising on the detection
        sub-stream meanwhile if there is one. True if the capture was stopped."""
        if self.detect is None or self._meanwhile is None:
            return stop.wait(seconds)
        if self.lease is not None and self.lease.lost():
            return stop.wait(seconds)  # another process runs the camera now, and recognises
        self._down = True
        until = time.monotonic() + seconds
        try:
            self._meanwhile(self.detect.frames(stop, seconds), stop)
        except Exception:  # recognition's trouble must not stop the camera's retries
            log.exception("camera %s: recognition on the sub-stream failed", self.source)
        return stop.wait(max(0.0, until - time.monotonic()))

    def _back(self, stop: threading.Event):
        """The source is open again (or the capture ends): recognition on the sub-stream
        alone is over."""
        if self._down:
            self._down = False
            self._meanwhile(None, stop)

    def _unavailable(self, why: str, retry_in: float):
        why = redact(why, self.source)  # an OpenCV message may quote the whole URL
        log.warning("camera %s unavailable: %s", describe(self.source), why)
        # The picture first: whoever sees the state "unavailable" must not get the old frame.
        self._show("Camera unavailable", f"{why}. Retrying in {retry_in:.0f} s.")
        self.error = why
        self.state = "unavailable"
