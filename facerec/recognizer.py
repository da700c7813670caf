"""The recognition worker process and the client the camera service drives it with.

The worker receives the newest frame whenever it is free, detects faces on a downscaled
copy, encodes them at full resolution, matches them against the gallery (reloaded from the
database whenever its version moves on) and sends back the faces tagged with the frame's
sequence number. It is a process, not a thread: dlib's encoder holds the GIL.
"""

from __future__ import annotations

import bisect
import logging
import time
from dataclasses import dataclass

from .lifetime import exit_with_parent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerSettings:
    database_uri: str
    tolerance: float = 0.6
    detect_width: int = 640
    upsample: int = 1


def worker_engine_options(url: str) -> dict:
    """The worker's database connection: one, kept open and checked before each use.

    A PostgreSQL server that does not answer within 2 s counts as unreachable, and the
    gallery cache goes on matching with the gallery it loaded last.
    """
    options = {"pool_size": 1, "pool_pre_ping": True}
    if url.startswith("postgresql"):
        options["connect_args"] = {"connect_timeout": 2}
    return options


@dataclass(frozen=True)
class Result:
    """The faces found in frame ``seq``, matched against gallery ``version``."""

    seq: int
    faces: list  # of gallery.RecognisedFace
    seconds: float
    gallery_version: int


def _crop(rgb, box) -> bytes | None:
    from . import faces

    try:
        return faces.crop(rgb, box)
    except faces.ImageError:
        return None


def worker_main(conn, settings: WorkerSettings):
    """Entry point of the worker process: answer frames until told to stop."""
    from sqlalchemy import create_engine

    from . import faces
    from .gallery import GalleryCache

    exit_with_parent()  # a web process killed with -9 leaves no worker behind
    faces.load_models()  # load the models before the first frame
    engine = create_engine(settings.database_uri, **worker_engine_options(settings.database_uri))
    gallery = GalleryCache(engine.connect, check_interval=0.2)
    conn.send(("ready", None))
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break  # the web process is gone
            if message is None:
                break
            # (seq, frame) or (seq, frame, overrides): a camera's own detect width or tolerance
            seq, frame_bgr, *rest = message
            overrides = rest[0] if rest else {}
            tolerance = overrides.get("tolerance") or settings.tolerance
            detect_width = overrides.get("detect_width") or settings.detect_width
            started = time.perf_counter()
            rgb = frame_bgr[:, :, ::-1].copy()
            found = faces.analyze(rgb, upsample=settings.upsample, max_width=detect_width)
            current = gallery.get()
            result = [current.recognise(face, tolerance, _crop(rgb, face.box)) for face in found]
            seconds = time.perf_counter() - started
            conn.send(("result", Result(seq, result, seconds, current.version)))
    finally:
        engine.dispose()


# Upper bounds (seconds) of the recognition latency buckets shown by /metrics.
LATENCY_BUCKETS = (0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0)


class LatencyStats:
    """A histogram of seconds from a frame sent to the worker to its result coming back."""

    def __init__(self, buckets=LATENCY_BUCKETS):
        self.buckets = tuple(buckets)
        self.counts = [0] * (len(self.buckets) + 1)  # the last one is +Inf
        self.total = 0.0
        self.count = 0

    def observe(self, seconds: float):
        self.counts[bisect.bisect_left(self.buckets, seconds)] += 1
        self.total += seconds
        self.count += 1

    def cumulative(self) -> list[tuple[str, int]]:
        """``[(le, count)]`` as Prometheus wants them, ending with ``+Inf``."""
        running, out = 0, []
        for bound, count in zip((*self.buckets, float("inf")), self.counts, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(bound), running))
        return out


def end_process(process, timeout: float):
    """Stop a worker and reap it: no zombie, whatever state it is in.

    A worker frozen by SIGSTOP (or stuck in the kernel) ignores SIGTERM until it runs again,
    so a worker still there after SIGTERM gets SIGKILL, which also ends a stopped process.
    """
    process.join(timeout)
    if process.is_alive():
        process.terminate()
        process.join(1)
    if process.is_alive():
        log.warning("recognition worker %s ignored SIGTERM; killing it", process.pid)
        process.kill()
        process.join(5)
    if process.is_alive():
        log.error("recognition worker %s could not be ended", process.pid)
        _unreaped.append(process)
    for old in list(_unreaped):  # reap any earlier one that has ended since
        if not old.is_alive():
            _unreaped.remove(old)


_unreaped: list = []
