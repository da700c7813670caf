"""The engine: one supervised pool of worker processes for camera frames and one-off jobs.

Two ways in:
- **Latest frame per camera** (``feed(camera, database)``): each camera offers its newest
  frame; whenever a worker is free it takes the waiting frame of the camera served longest
  ago, so with more cameras than workers each camera's newest frame is recognised in turn.
- **One-off jobs** (``run(func, ...)``, ``submit(func, ...)``): uploads, snapshots, API
  requests, the importer's files. They wait in a bounded queue: when it is full the caller
  gets ``EngineBusy`` at once (the web answers 503 with Retry-After) instead of a growing
  wait. A job whose worker dies is tried once more; one that outlasts its timeout gets
  ``EngineUnavailable`` and its worker is replaced, so a hung worker cannot hold its slot.

Workers are started as they are needed, up to ``frame_workers`` busy with frames at once
plus ``job_workers`` for jobs. A free worker takes a job first while fewer than
``job_workers`` jobs run (so a request never waits behind every camera), else a frame while
fewer than ``frame_workers`` frames are being recognised, else any job. A supervisor thread
collects answers and replaces workers that die, stop answering or cannot take a message.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import multiprocessing.connection
import os
import threading
import time
from collections import deque
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass

from .feed import CameraFeed
from .process import WorkerProcess

log = logging.getLogger(__name__)


class EngineBusy(Exception):
    """Too many jobs are waiting: try again in ``retry_after`` seconds."""

    def __init__(self, retry_after: int):
        super().__init__(f"the face engine is busy; try again in {retry_after} s")
        self.retry_after = retry_after


class EngineUnavailable(Exception):
    """The job could not be done now: it timed out, its worker died, or the engine closed."""


def default_workers() -> int:
    """One per core: dlib's encoder keeps one core busy, so more only time-slice."""
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class EngineSettings:
    """How the pool runs (nothing of any one camera: a camera's tuning comes with its frames)."""

    frame_workers: int = 0  # workers recognising camera frames at once; 0: one per core
    job_workers: int = 2  # workers kept for one-off jobs
    queue: int = 8  # jobs waiting for a worker; one more is refused with EngineBusy
    job_timeout: float = 120.0  # seconds a job may take, waiting included
    result_timeout: float = 20.0  # seconds a frame may take before its worker counts as stuck
    start_timeout: float = 180.0  # seconds a worker may take to load dlib's models

    @classmethod
    def of(cls, settings) -> EngineSettings:
        """From the app's settings (``config.Settings``)."""
        return cls(
            frame_workers=settings.recognition_workers or default_workers(),
            job_workers=settings.engine_workers,
            queue=settings.engine_queue,
            job_timeout=settings.engine_timeout,
        )


@dataclass
class _Job:
    future: Future
    func: object
    args: tuple
    kwargs: dict
    timeout: float
    attempts: int = 0
    queued: float = 0.0
    started: float = 0.0

    @property
    def deadline(self) -> float:
        return self.queued + self.timeout

    def late(self) -> str:
        return f"the face engine gave no answer within {self.timeout:.0f} s"


class _FrameTask:
    """What a worker holds while it recognises a camera's frame."""

    def __init__(self, feed: CameraFeed):
        self.feed = feed


class Engine:
    def __init__(self, settings: EngineSettings, *, initializer=None, preload: bool = True):
        """``initializer``: ``(func, args)`` run in every worker as it starts; ``preload``:
        load dlib's models at start (not when a run may turn out to need none)."""
        self.settings = settings
        self._initializer = initializer
        self._preload = preload
        self._ctx = multiprocessing.get_context("spawn")  # forking a threaded server is unsafe
        self._lock = threading.RLock()
        self._workers: list[WorkerProcess] = []
        self._feeds: list[CameraFeed] = []
        self._jobs: deque[_Job] = deque()
        self._closed = False
        self.restarts = 0
        self._job_seconds = 1.0  # a running mean, for Retry-After
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._supervisor = threading.Thread(
            target=self._supervise, name="facerec-engine", daemon=True
        )
        self._supervisor.start()

    # ---- what callers use --------------------------------------------------------------------

    def feed(self, camera: str, database: str) -> CameraFeed:
        """A camera's handle: its frames are matched against the gallery of ``database``."""
        feed = CameraFeed(self, camera, database)
        with self._lock:
            self._feeds.append(feed)
        return feed

    def submit(self, func, *args, timeout: float | None = None, **kwargs) -> Future:
        """Queue ``func(*args, **kwargs)`` for a worker; EngineBusy at once if the queue is full.

        The future's exception is the function's own, or EngineUnavailable.
        """
        timeout = self.settings.job_timeout if timeout is None else timeout
        with self._lock:
            if self._closed:
                raise EngineUnavailable("the face engine is shutting down")
            if len(self._jobs) >= self.settings.queue:
                raise EngineBusy(self._retry_after())
            job = _Job(Future(), func, args, kwargs, timeout)
            job.queued = time.monotonic()
            job.future.set_running_or_notify_cancel()
            self._jobs.append(job)
            self._dispatch()
        return job.future

    def run(self, func, *args, timeout: float | None = None, **kwargs):
        """``func(*args, **kwargs)`` computed in a worker; its exceptions are raised unchanged.

        EngineBusy when too many jobs wait; EngineUnavailable when no answer came within
        ``timeout`` seconds (the settings' job_timeout by default) or the engine stopped.
        """
        timeout = self.settings.job_timeout if timeout is None else timeout
        future = self.submit(func, *args, timeout=timeout, **kwargs)
        try:
            return future.result(timeout + 1.0)  # the supervisor fails it at its deadline
        except TimeoutError:
            self._abandon(future)
            why = f"the face engine gave no answer within {timeout:.0f} s"
            raise EngineUnavailable(why) from None
        except CancelledError:
            raise EngineUnavailable("the face engine dropped the job") from None

    @property
    def workers(self) -> int:
        return len(self._workers)

    def pids(self) -> list[int]:
        """The worker processes' ids (health checks and tests)."""
        with self._lock:
            return [w.pid for w in self._workers if w.pid is not None]

    def alive(self) -> bool:
        """A worker is running, or none was needed yet."""
        workers = list(self._workers)
        return not workers or any(w.alive() for w in workers)

    def dispatch(self):
        """Hand out whatever waits to free workers (a feed calls it after a submit)."""
        with self._lock:
            self._dispatch()

    def remove_feed(self, feed: CameraFeed):
        with self._lock:
            if feed in self._feeds:
                self._feeds.remove(feed)
            if all(other.database != feed.database for other in self._feeds):
                for worker in self._workers:
                    worker.send(("forget", feed.database))

    def close(self):
        """End every worker; jobs still waiting fail with EngineUnavailable."""
        with self._lock:
            self._closed = True
            workers, self._workers = self._workers, []
            jobs, self._jobs = list(self._jobs), deque()
            for worker in workers:
                if isinstance(worker.task, _Job):
                    jobs.append(worker.task)
        for job in jobs:
            self._fail(job, "the face engine is shutting down")
        self._wake()
        for worker in workers:
            worker.close()
        self._supervisor.join(timeout=5)
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    # ---- the supervisor thread ---------------------------------------------------------------

    def _wake(self):
        with contextlib.suppress(OSError):  # full (it is awake anyway) or closed
            os.write(self._wake_w, b"x")

    def _supervise(self):
        while not self._closed:
            with self._lock:
                conns = {w.conn: w for w in self._workers}
                sentinels = {w.process.sentinel: w for w in self._workers}
            try:
                ready = multiprocessing.connection.wait(
                    [*conns, *sentinels, self._wake_r], timeout=0.5
                )
            except (OSError, ValueError):  # a worker was replaced meanwhile
                continue
            if self._wake_r in ready:
                with contextlib.suppress(OSError):
                    os.read(self._wake_r, 4096)
            with self._lock:
                if self._closed:
                    return
                for ready_one in ready:
                    worker = conns.get(ready_one)
                    if worker is not None and worker in self._workers:
                        self._collect(worker)
                self._check()
                self._dispatch()

    # ---- everything below runs with self._lock held ------------------------------------------

    def _collect(self, worker: WorkerProcess):
        try:
            while worker.conn.poll():
                kind, payload = worker.conn.recv()
                if kind == "ready":
                    worker.ready = True
                    worker.busy_since = None
                    continue
                task = worker.finish_task()
                if isinstance(task, _FrameTask):
                    task.feed.finished(payload)
                elif isinstance(task, _Job):
                    self._job_seconds += 0.2 * (time.monotonic() - task.started - self._job_seconds)
                    if kind == "done":
                        task.future.set_result(payload)
                    else:
                        task.future.set_exception(payload)
        except (EOFError, OSError):
            self._replace(worker, "lost its connection")

    def _check(self):
        now = time.monotonic()
        for worker in list(self._workers):
            task = worker.task
            if not worker.alive():
                self._replace(worker, f"exited with code {worker.process.exitcode}")
            elif worker.send_failed:
                self._replace(worker, "could not take a message")
            elif not worker.ready:
                if now - worker.busy_since > self.settings.start_timeout:
                    self._replace(worker, "did not start")
            elif isinstance(task, _Job) and now > task.deadline:
                self._replace(worker, "did not finish a job in time", failure=task.late())
            elif isinstance(task, _FrameTask) and (
                now - worker.busy_since > self.settings.result_timeout
            ):
                self._replace(worker, "stopped answering")
        for job in [job for job in self._jobs if now > job.deadline]:
            self._jobs.remove(job)
            self._fail(job, job.late())

    def _replace(self, worker: WorkerProcess, why: str, failure: str | None = None):
        """Put a new worker in its place (when needed); its job is tried once more, unless
        ``failure`` says why it fails."""
        log.warning("engine worker %s %s; replacing it", worker.pid, why)
        self.restarts += 1
        self._workers.remove(worker)
        task = worker.finish_task()
        if isinstance(task, _FrameTask):
            task.feed.lost()
        elif isinstance(task, _Job):
            if failure is None and task.attempts < 2:
                self._jobs.appendleft(task)  # a dead worker is no fault of the job: once more
            else:
                self._fail(task, failure or f"the face engine worker {why}")
        # Ended in a thread of its own: a frozen process takes seconds to kill, and the
        # engine's lock must not wait for it. The next dispatch starts a new one if needed.
        threading.Thread(
            target=worker.close, kwargs={"timeout": 1}, name="facerec-engine-reap", daemon=True
        ).start()

    def _fail(self, job: _Job, why: str):
        if not job.future.done():
            job.future.set_exception(EngineUnavailable(why))

    def _abandon(self, future: Future):
        """The caller gave up on ``future``: drop it, and end its worker if one has it."""
        with self._lock:
            for job in list(self._jobs):
                if job.future is future:
                    self._jobs.remove(job)
            for worker in list(self._workers):
                if isinstance(worker.task, _Job) and worker.task.future is future:
                    self._replace(worker, "did not finish a job in time", worker.task.late())

    def _retry_after(self) -> int:
        """Seconds until the queue has likely room again (for Retry-After), 1 to 30."""
        rounds = len(self._jobs) / max(1, self.settings.job_workers)
        return max(1, min(30, math.ceil(rounds * self._job_seconds)))

    def _dispatch(self):
        if self._closed:
            return
        while True:
            jobs_running = sum(isinstance(w.task, _Job) for w in self._workers)
            frames_running = sum(isinstance(w.task, _FrameTask) for w in self._workers)
            cameras = [feed for feed in self._feeds if feed.waiting()]
            frame_due = bool(cameras) and frames_running < self.settings.frame_workers
            job_due = bool(self._jobs) and (
                jobs_running < self.settings.job_workers or not frame_due
            )
            if not (job_due or frame_due):
                return
            worker = next((w for w in self._workers if w.free), None)
            if worker is None:
                self._grow(jobs_running, len(cameras))
                return
            if job_due:
                self._start_job(worker, self._jobs.popleft())
            else:
                self._start_frame(worker, min(cameras, key=lambda feed: feed.served_at))

    def _grow(self, jobs_running: int, waiting_cameras: int):
        """Start one more worker if what waits could use it and the limits allow."""
        wanted = min(self.settings.frame_workers, len(self._feeds)) + min(
            self.settings.job_workers, jobs_running + len(self._jobs)
        )
        starting = sum(not w.ready for w in self._workers)
        if len(self._workers) < wanted and starting < len(self._jobs) + waiting_cameras:
            self._workers.append(WorkerProcess(self._ctx, self._initializer, self._preload))
            self._wake()  # the supervisor listens to the new worker from now on

    def _start_job(self, worker: WorkerProcess, job: _Job):
        job.attempts += 1
        job.started = time.monotonic()
        worker.start_task(job, ("job", job.func, job.args, job.kwargs))

    def _start_frame(self, worker: WorkerProcess, feed: CameraFeed):
        taken = feed.take()
        if taken is None:
            return
        request, frames = taken
        slot, shapes = worker.put_frames(frames)
        worker.start_task(_FrameTask(feed), ("frame", request, slot, shapes, feed.database))
