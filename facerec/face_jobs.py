"""A pool of worker processes for one-off face work: uploads, snapshots, API requests.

dlib's encoder holds the GIL for its whole run, so encoding inside the web process would
starve every MJPEG stream. Callers hand bytes (or a frame) to ``run()`` and get the result
of a ``facerec.faces`` function computed in another process. The pool is created on first
use with the ``spawn`` start method (forking a threaded server is unsafe), shared by every
app in the process, and rebuilt if a worker dies.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from . import faces
from .config import current_settings
from .lifetime import exit_with_parent, spawn_from_lasting_thread

log = logging.getLogger(__name__)

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_pool_size = 0


def _warm_up():
    exit_with_parent()
    faces.load_models()


def _get_pool(workers: int) -> ProcessPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size != workers:
            if _pool is not None:
                _pool.shutdown(wait=False, cancel_futures=True)
            _pool = ProcessPoolExecutor(
                max_workers=max(1, workers),
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_warm_up,
            )
            _pool_size = workers
        return _pool


def _discard(pool, kill: bool = False):
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    if kill:
        # A worker stuck in native code never returns its slot; the executor has no public
        # way to stop it, so end its processes (calls still running there fail and retry).
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


def run(func, *args, workers: int = 2, timeout: float = 120, **kwargs):
    """Run ``func(*args, **kwargs)`` in a worker process and return its result.

    Exceptions raised by ``func`` (ImageError, FaceRejected...) are raised here unchanged.
    A pool broken by a dead worker is replaced and the call tried once more; a call that
    takes longer than ``timeout`` raises TimeoutError and its pool is replaced, so a hung
    worker cannot hold its slot for ever.
    """
    for attempt in (1, 2):
        pool = _get_pool(workers)
        try:
            # submit() starts the pool's workers on demand: from the lasting thread, so their
            # parent-death signal is tied to this process and not to the request's thread.
            future = spawn_from_lasting_thread(pool.submit, func, *args, **kwargs)
            return future.result(timeout=timeout)
        except TimeoutError:
            log.warning("face engine worker did not answer in %.0f s; replacing the pool", timeout)
            _discard(pool, kill=True)
            raise
        except BrokenProcessPool:
            log.warning("face engine worker died; starting a new pool (attempt %d)", attempt)
            _discard(pool)
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def workers_for(app) -> int:
    return current_settings(app).engine_workers


def sample_from_image(app, data, **checks) -> faces.Sample:
    """An uploaded photo checked for exactly one usable face, computed off the web process."""
    return run(
        faces.sample_from_image,
        data,
        max_pixels=current_settings(app).max_pixels,
        workers=workers_for(app),
        **checks,
    )


def sample_from_frame(app, rgb, **checks) -> faces.Sample:
    """A camera frame checked for exactly one usable face, computed off the web process."""
    return run(faces.single_face_sample, rgb, workers=workers_for(app), **checks)


def faces_in_image(app, data) -> list[faces.Face]:
    """Every face of a photo with its encoding, computed off the web process."""
    return run(
        faces.faces_in_image,
        data,
        max_pixels=current_settings(app).max_pixels,
        workers=workers_for(app),
    )


@atexit.register
def _shutdown():
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=False, cancel_futures=True)
