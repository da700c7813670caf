"""The engine's worker process: camera frames and one-off jobs, one at a time.

It is a process, not a thread: dlib's encoder holds the GIL for its whole run, so encoding
inside the web process would starve every stream. The parent (``facerec.engine.pool``) sends
it messages on a pipe and it answers each in turn:

- ``("frame", request, slot, shapes, database)``: a camera frame, waiting in the shared
  memory block ``slot`` (not pickled through the pipe), to be recognised against the gallery
  of ``database`` with the camera's tuning; answered ``("frame", FrameResult)``. ``shapes``
  holds the frame's shape, or two: a detection sub-stream's frame to look for faces in and,
  after it in the block, the main frame it stands for, to encode them from.
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

import cv2
import numpy as np

from ..lifetime import exit_with_parent

log = logging.getLogger(__name__)

# Galleries (with a database connection each) a worker keeps: one per database whose cameras
# it serves. One in a server; tests run many apps, each on its own database, in one process.
GALLERIES = 4


# A face found where a settled track is expected (this much overlap) is not encoded.
SETTLED_IOU = 0.3

# A face found in a sub-stream's frame is looked for again in the main frame (to be encoded
# from its larger picture there) this far around its box scaled onto it, times its size on
# each side: the two streams' frames are not taken at quite the same instant.
REFIND_MARGIN = 0.5
# ...looked at on a scale where the face is about this high (pixels of the main frame at
# most), without upsampling: dlib's HOG finds faces from about 70 px high that way (measured
# on the test photos), and a large face costs no more than a small one. A face under
# UPSAMPLED_BELOW px on the main frame itself is looked for upsampled once.
REFIND_HEIGHT = 100
UPSAMPLED_BELOW = 90
# The face found again must overlap its scaled box this much (IoU), else it is another face
# or has moved too far: the face is then encoded from the sub-stream's frame as it is.
REFOUND_IOU = 0.3


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
    face was expected and left at that (``RecognisedFace.identified`` is False). ``refound``:
    of the encoded faces of a sub-stream's frame, those encoded from the main frame.
    """

    seq: int
    faces: list  # of gallery.RecognisedFace
    seconds: float
    gallery_version: int
    encoded: int = 0
    located: int = 0
    refound: int = 0


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

    def frames(self, name: str, shapes: tuple) -> list[np.ndarray]:
        """A copy of each frame in block ``name`` (one after the other), as RGB (the block
        holds BGR). OpenCV converts a 1280x720 frame in a fraction of a millisecond, some
        thirty times faster than copying numpy's reversed view of it."""
        if self._block is None or self._block.name != name:
            self.close()  # the parent moved to a larger block
            self._block = shared_memory.SharedMemory(name)
        copies, offset = [], 0
        for shape in shapes:
            view = np.ndarray(shape, np.uint8, buffer=self._block.buf, offset=offset)
            try:
                copies.append(cv2.cvtColor(view, cv2.COLOR_BGR2RGB))
                offset += view.nbytes
            finally:
                del view  # no view may outlive the block's close()
        return copies

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


def recognise(
    rgb: np.ndarray, request: FrameRequest, gallery, main: np.ndarray | None = None
) -> FrameResult:
    """The faces of a camera frame (in its regions), each matched against ``gallery`` unless
    it is where a settled face was expected.

    ``main``: the main frame that ``rgb``, a detection sub-stream's smaller frame, stands for.
    Faces are looked for in ``rgb`` (cheap), and each one to encode is looked for again in
    ``main`` around where it is scaled onto it, and encoded there, from several times the
    pixels (a face not found again there, having moved or turned meanwhile, is encoded from
    ``rgb`` as without ``main``). Every box of the result is then on ``main``.
    """
    from .. import faces
    from ..boxes import iou, scaled
    from ..gallery import RecognisedFace

    started = time.perf_counter()
    tuning = request.tuning
    if request.regions is None:
        found = faces.detect(rgb, upsample=tuning.upsample, max_width=tuning.detect_width)
    else:
        found = faces.detect_in(rgb, request.regions, tuning.upsample, tuning.detect_width)
    found.sort(key=lambda b: (b[2] - b[0]) * (b[1] - b[3]), reverse=True)
    todo = [box for box in found if all(iou(box, s) < SETTLED_IOU for s in request.settled)]
    sx = sy = 1.0
    on_main: dict = {}  # box in rgb -> the same face's box in main
    if main is not None:
        sx, sy = main.shape[1] / rgb.shape[1], main.shape[0] / rgb.shape[0]
        on_main = _found_again(main, [scaled(box, sx, sy) for box in todo], todo)
    from_main = {face.box: face for face in faces.measure(main, list(on_main.values()))}
    rest = [box for box in todo if box not in on_main]
    measured = {face.box: face for face in faces.measure(rgb, rest)}  # encoded, with quality
    recognised = []
    for box in found:
        if box in on_main:
            big = on_main[box]
            face = gallery.recognise(from_main[big], tuning.tolerance, _crop(main, big))
        elif box in measured:
            face = gallery.recognise(measured[box], tuning.tolerance, _crop(rgb, box))
        else:
            face = RecognisedFace.located(box)
        if main is not None and box not in on_main:  # onto the main frame, as the others
            face = face.moved(scaled(box, sx, sy))
        recognised.append(face)
    seconds = time.perf_counter() - started
    return FrameResult(
        request.seq,
        recognised,
        seconds,
        gallery.version,
        encoded=len(todo),
        located=len(found) - len(todo),
        refound=len(on_main),
    )


def _found_again(main: np.ndarray, expected: list, boxes: list) -> dict:
    """``{box: its face's box in main}`` for each face of ``boxes`` (found in a smaller frame)
    found again in ``main`` near where it is expected there (``expected``, in the same order).

    Each is looked for around its expected box grown by ``REFIND_MARGIN``, on a scale where
    it is about ``REFIND_HEIGHT`` high (upsampled when smaller than ``UPSAMPLED_BELOW``), taken
    when the face found overlaps the expected box by ``REFOUND_IOU``; a face of ``main`` is
    given to one box at most.
    """
    from .. import faces
    from ..boxes import grown, iou

    height, width = main.shape[:2]
    refound: dict = {}
    for box, where in zip(boxes, expected, strict=True):
        face_height = where[2] - where[0]
        scale = min(1.0, REFIND_HEIGHT / max(face_height, 1.0))
        upsample = 0 if face_height * scale >= UPSAMPLED_BELOW else 1
        region = grown(where, REFIND_MARGIN, 0, width, height)
        near = faces.detect_in(main, [region], upsample, max(1, round(width * scale)))
        near = [b for b in near if b not in refound.values()]
        best = max(near, key=lambda b: iou(b, where), default=None)
        if best is not None and iou(best, where) >= REFOUND_IOU:
            refound[box] = best
    return refound


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
                _, request, name, shapes, database = message
                try:
                    rgb, *main = slot.frames(name, shapes)
                    result = recognise(rgb, request, galleries.get(database), *main)
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
