"""The engine's worker process: camera frames and one-off jobs, one at a time.

It is a process, not a thread: dlib's encoder holds the GIL for its whole run, so encoding
inside the web process would starve every stream. The parent (``facerec.engine.pool``) sends
it messages on a pipe and it answers each in turn:

- ``("frame", request, slot, shape, database)``: a camera frame, waiting in the shared
  memory block ``slot`` (not pickled through the pipe), to be recognised against the gallery
  of ``database`` with the camera's tuning; answered ``("frame", FrameResult)``.
- ``("job", func, args, kwargs)``: a function of ``facerec.faces`` or the importer; answered
  ``("done", value)`` or ``("failed", exception)``, the exception raised again in the parent.
- ``("forget", database)``: no camera of that database is left; close its connection.
- ``None``: stop.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from multiprocessing import shared_memory
from typing import Any

import numpy as np

from ..lifetime import exit_with_parent

log = logging.getLogger(__name__)

# Galleries (with a database connection each) a worker keeps: one per database whose cameras
# it serves. One in a server; tests run many apps, each on its own database, in one process.
GALLERIES = 4


# A face found where a settled track is expected (this much overlap) is not encoded.
SETTLED_IOU = 0.3


@dataclass(frozen=True)
class FrameRequest:
    """What a camera asks of the engine for one frame.

    ``tuning`` is the camera's own frozen tuning value (``facerec.camera.tuning.Tuning``):
    the worker reads its ``tolerance``, ``detect_width`` and ``upsample``; nothing of a camera
    is kept in the worker between frames. ``regions``: look for faces there only (None: the
    whole frame). ``settled``: where faces whose name is already settled are expected; a face
    found there is located, not encoded.
    """

    seq: int
    tuning: Any
    regions: tuple | None = None
    settled: tuple = ()


@dataclass(frozen=True)
class FrameResult:
    """The faces found in frame ``seq``, matched against gallery ``version``.

    ``encoded`` faces were encoded and matched; ``located`` ones were found where a settled
    face was expected and left at that (``RecognisedFace.identified`` is False).
    """

    seq: int
    faces: list  # of gallery.RecognisedFace
    seconds: float
    gallery_version: int
    encoded: int = 0
    located: int = 0


def worker_engine_options(url: str) -> dict:
    """The worker's database connection: one, kept open and checked before each use.

    A PostgreSQL server that does not answer within 2 s counts as unreachable, and the
    gallery cache goes on matching with the gallery it loaded last.
    """
    options = {"pool_size": 1, "pool_pre_ping": True}
    if url.startswith("postgresql"):
        options["connect_args"] = {"connect_timeout": 2}
    return options


class _Galleries:
    """The gallery of each database this worker recognises frames for, newest used last."""

    def __init__(self):
        self._caches: OrderedDict[str, tuple] = OrderedDict()  # url -> (engine, cache)

    def get(self, url: str):
        from sqlalchemy import create_engine

        from ..gallery import GalleryCache

        if url in self._caches:
            self._caches.move_to_end(url)
        else:
            engine = create_engine(url, **worker_engine_options(url))
            self._caches[url] = (engine, GalleryCache(engine.connect, check_interval=0.2))
            while len(self._caches) > GALLERIES:
                self.forget(next(iter(self._caches)))
        return self._caches[url][1].get()

    def forget(self, url: str):
        found = self._caches.pop(url, None)
        if found is not None:
            found[0].dispose()

    def close(self):
        for url in list(self._caches):
            self.forget(url)


class _Slot:
    """The shared memory block the parent puts this worker's frames in (attached once)."""

    def __init__(self):
        self._block: shared_memory.SharedMemory | None = None

    def frame(self, name: str, shape: tuple) -> np.ndarray:
        """A copy of the frame in block ``name``, as RGB (the block holds BGR)."""
        if self._block is None or self._block.name != name:
            self.close()  # the parent moved to a larger block
            self._block = shared_memory.SharedMemory(name)
        view = np.ndarray(shape, dtype=np.uint8, buffer=self._block.buf)
        try:
            return view[:, :, ::-1].copy()
        finally:
            del view  # no view may outlive the block's close()

    def close(self):
        if self._block is not None:
            self._block.close()
            self._block = None


def _crop(rgb, box) -> bytes | None:
    from .. import faces

    try:
        return faces.crop(rgb, box)
    except faces.ImageError:
        return None


def recognise(rgb: np.ndarray, request: FrameRequest, gallery) -> FrameResult:
    """The faces of a camera frame (in its regions), each matched against ``gallery`` unless
    it is where a settled face was expected."""
    from .. import faces
    from ..boxes import iou
    from ..gallery import RecognisedFace

    started = time.perf_counter()
    tuning = request.tuning
    if request.regions is None:
        found = faces.detect(rgb, upsample=tuning.upsample, max_width=tuning.detect_width)
    else:
        found = faces.detect_in(rgb, request.regions, tuning.upsample, tuning.detect_width)
    found.sort(key=lambda b: (b[2] - b[0]) * (b[1] - b[3]), reverse=True)
    todo = [box for box in found if all(iou(box, s) < SETTLED_IOU for s in request.settled)]
    measured = {face.box: face for face in faces.measure(rgb, todo)}  # encoded, with quality
    recognised = []
    for box in found:
        face = measured.get(box)
        if face is None:
            recognised.append(RecognisedFace.located(box))
        else:
            recognised.append(gallery.recognise(face, tuning.tolerance, _crop(rgb, box)))
    seconds = time.perf_counter() - started
    located = len(found) - len(todo)
    return FrameResult(
        request.seq, recognised, seconds, gallery.version, encoded=len(todo), located=located
    )


def _run_job(func, args, kwargs) -> tuple:
    try:
        return ("done", func(*args, **kwargs))
    except Exception as exc:  # raised again in the caller, whatever it is
        return ("failed", exc)


def _send(conn, reply: tuple):
    try:
        conn.send(reply)
    except Exception as exc:  # a value or an exception that cannot be pickled
        if isinstance(exc, OSError | EOFError):
            raise
        failure = RuntimeError(f"the face engine could not send its answer back: {exc}")
        conn.send(("failed", failure))


def main(conn, initializer=None, preload: bool = True):
    """Entry point of a worker process: answer messages until told to stop."""
    exit_with_parent()  # a web process killed with -9 leaves no worker behind
    if preload:
        from .. import faces

        faces.load_models()  # before the first frame or job, not during it
    if initializer is not None:
        func, args = initializer
        func(*args)
    galleries, slot = _Galleries(), _Slot()
    conn.send(("ready", None))
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break  # the parent is gone
            if message is None:
                break
            kind = message[0]
            if kind == "frame":
                _, request, name, shape, database = message
                try:
                    rgb = slot.frame(name, shape)
                    result = recognise(rgb, request, galleries.get(database))
                except Exception:  # a gallery that cannot load yet: this frame is lost, not us
                    log.exception("recognising frame %d failed", request.seq)
                    result = None
                _send(conn, ("frame", result))
            elif kind == "job":
                _, func, args, kwargs = message
                _send(conn, _run_job(func, args, kwargs))
            elif kind == "forget":
                galleries.forget(message[1])
    finally:
        galleries.close()
        slot.close()
