"""Recognition worker processes shared by every camera, served fairly.

Each camera gets a :class:`CameraRecognizer`: ``submit(seq, frame)`` never blocks and
``poll()`` returns a ``Result`` or None. A camera run on its own (tests, benchmarks) gets a
pool of one worker from :func:`own_worker`.
A camera has at most one frame in a worker at a time and one frame waiting (the newest: a
newer frame replaces it and the older one is counted as dropped). Whenever a worker is free
it takes the waiting frame of the camera served longest ago, so with more cameras than
workers each camera's newest frame is recognised in turn and none starves.

Workers are started as they are needed, up to ``max_workers``: one camera uses one worker
(its frames are recognised one after another, as before), two cameras two, and so on.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import threading
import time

from ..lifetime import spawn_from_lasting_thread
from ..recognizer import LatencyStats, WorkerSettings, end_process, worker_main

log = logging.getLogger(__name__)


def default_workers() -> int:
    """One worker per core: dlib's encoder keeps one core busy, so more only time-slice."""
    return max(1, os.cpu_count() or 1)


class _Worker:
    def __init__(self, ctx, settings: WorkerSettings, nice: int):
        parent, child = ctx.Pipe()
        self.process = ctx.Process(
            target=worker_main, args=(child, settings), name="facerec-recognizer", daemon=True
        )
        # From the thread that lasts as long as the process: the worker's parent-death signal
        # (facerec.lifetime) must not fire when the capture thread that asked for it ends.
        spawn_from_lasting_thread(self.process.start)
        child.close()
        if nice:
            # Video delivery comes first: recognition takes the CPU the streams leave over.
            with contextlib.suppress(OSError, AttributeError):
                os.setpriority(os.PRIO_PROCESS, self.process.pid, nice)
        self.conn = parent
        self.ready = False
        self.camera: CameraRecognizer | None = None  # whose frame it is working on
        self.busy_since: float | None = time.monotonic()  # busy until it says it is ready
        # A frame is far larger than a pipe's buffer, so sending one waits until the worker
        # reads it: a worker that is frozen or stuck would hold the sender (and the pool's
        # lock, and with it every capture thread) for ever. Frames go out from a thread of
        # their own; the pool only puts them in this box and never waits.
        self.send_failed = False
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._sender = threading.Thread(target=self._send_loop, name="facerec-recognizer-send")
        self._sender.daemon = True
        self._sender.start()

    @property
    def free(self) -> bool:
        return self.ready and self.busy_since is None

    def send(self, message):
        """Queue ``message`` for the worker; never waits for it to be read."""
        self._outbox.put(message)

    def _send_loop(self):
        while True:
            message = self._outbox.get()
            try:
                self.conn.send(message)
            except (BrokenPipeError, OSError, ValueError):
                self.send_failed = True  # the pool replaces the worker at its next look
                return
            if message is None:
                return

    def close(self, timeout: float = 3.0):
        self._outbox.put(None)  # asks it to stop once it has read what went before
        end_process(self.process, timeout)  # SIGKILL if SIGTERM is not enough; always reaped
        # A send still waiting on the ended process now fails with a broken pipe.
        self._sender.join(timeout=2)
        self.conn.close()


class RecognitionPool:
    """Up to ``max_workers`` recognition processes shared by the cameras' recognizers."""

    def __init__(
        self,
        settings: WorkerSettings,
        max_workers: int | None = None,
        *,
        result_timeout: float = 20.0,
        start_timeout: float = 180.0,
        nice: int = 0,
    ):
        self.settings = settings
        self.max_workers = max(1, max_workers or default_workers())
        self.result_timeout = result_timeout
        # Loading dlib's models takes seconds, and much longer while other workers start too
        # on a busy machine: a starting worker is not "stuck" after result_timeout.
        self.start_timeout = start_timeout
        self.nice = nice
        self._ctx = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._workers: list[_Worker] = []
        self._clients: list[CameraRecognizer] = []
        self._closed = False
        self.restarts = 0

    def client(self, camera: str, **overrides) -> CameraRecognizer:
        """A recognizer for one camera; ``overrides``: ``tolerance``, ``detect_width``."""
        recognizer = CameraRecognizer(self, camera, overrides)
        with self._lock:
            self._clients.append(recognizer)
        return recognizer

    @property
    def workers(self) -> int:
        return len(self._workers)

    def close(self):
        with self._lock:
            self._closed = True
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.close()

    # ---- everything below runs with self._lock held ----------------------------------------

    def _service(self):
        """Collect finished results, replace dead or stuck workers, hand out waiting frames."""
        for worker in list(self._workers):
            self._collect(worker)
        now = time.monotonic()
        for worker in list(self._workers):
            if not worker.process.is_alive():
                self._replace(worker, f"exited with code {worker.process.exitcode}")
            elif worker.send_failed:
                self._replace(worker, "could not take a frame")
            elif worker.busy_since is not None:
                limit = self.result_timeout if worker.ready else self.start_timeout
                if now - worker.busy_since > limit:
                    self._replace(worker, "stopped answering" if worker.ready else "did not start")
        self._dispatch()

    def _collect(self, worker: _Worker):
        try:
            while worker.conn.poll():
                kind, payload = worker.conn.recv()
                worker.busy_since = None
                if kind == "ready":
                    worker.ready = True
                    continue
                camera, worker.camera = worker.camera, None
                if camera is not None:
                    camera._in_flight = False
                    camera._result = payload
                    camera.latency.observe(time.monotonic() - camera._served_at)
        except (EOFError, OSError):
            self._replace(worker, "its connection broke")

    def _replace(self, worker: _Worker, why: str):
        log.warning("recognition worker %s; restarting it", why)
        self.restarts += 1
        if worker.camera is not None:
            worker.camera._in_flight = False
            worker.camera.restarts += 1
        self._workers.remove(worker)
        worker.close(timeout=1)
        if not self._closed:
            self._workers.append(_Worker(self._ctx, self.settings, self.nice))

    def _dispatch(self):
        while not self._closed:
            waiting = [c for c in self._clients if c._pending is not None and not c._in_flight]
            if not waiting:
                return
            worker = next((w for w in self._workers if w.free), None)
            if worker is None:
                if len(self._workers) < min(self.max_workers, len(self._clients)):
                    self._workers.append(_Worker(self._ctx, self.settings, self.nice))
                return
            camera = min(waiting, key=lambda c: c._served_at)
            seq, frame = camera._pending
            camera._pending = None
            worker.send((seq, frame, camera.overrides))
            worker.camera = camera
            worker.busy_since = time.monotonic()
            camera._in_flight = True
            camera._served_at = worker.busy_since


class CameraRecognizer:
    """One camera's handle on the pool: ``submit()`` never blocks, ``poll()`` never waits."""

    def __init__(self, pool: RecognitionPool, camera: str, overrides: dict):
        self.pool = pool
        self.camera = camera
        self.overrides = {k: v for k, v in overrides.items() if v}
        self._pending = None  # (seq, frame): the newest frame waiting for a worker
        self._in_flight = False
        self._result = None
        self._served_at = 0.0
        self.dropped = 0
        self.restarts = 0
        self.latency = LatencyStats()  # frame handed to a worker -> its result (/metrics)
        self.owns_pool = False  # a pool made for this camera alone ends with it

    def alive(self) -> bool:
        """A worker process is running, or none was needed yet (health checks)."""
        workers = list(self.pool._workers)
        return not workers or any(w.process.is_alive() for w in workers)

    def submit(self, seq: int, frame_bgr):
        """Offer a frame; it replaces this camera's waiting frame (counted as dropped)."""
        with self.pool._lock:
            if self._pending is not None:
                self.dropped += 1
            self._pending = (seq, frame_bgr)
            self.pool._service()

    def poll(self):
        """Return ``(seq, faces, seconds)`` if a result is waiting, else None."""
        with self.pool._lock:
            self.pool._service()
            result, self._result = self._result, None
        return result

    def close(self):
        """Leave the pool (the workers stay for the other cameras)."""
        with self.pool._lock:
            self._pending = None
            if self in self.pool._clients:
                self.pool._clients.remove(self)
        if self.owns_pool:
            self.pool.close()


def own_worker(settings: WorkerSettings, camera: str = "main", **overrides) -> CameraRecognizer:
    """A recognizer with a one-worker pool of its own, ended by its ``close()``."""
    recognizer = RecognitionPool(settings, max_workers=1).client(camera, **overrides)
    recognizer.owns_pool = True
    return recognizer
