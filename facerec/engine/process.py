"""One engine worker process as the parent sees it: its pipe, its frame slot, how it ends."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from multiprocessing import shared_memory

import numpy as np

from ..lifetime import spawn_from_lasting_thread
from . import worker

log = logging.getLogger(__name__)


class WorkerProcess:
    """A spawned worker (``facerec.engine.worker.main``) and what it is busy with.

    ``task`` is what it works on (a camera's frame or a job), None while free. Frames reach it
    through a shared memory block of its own (``put_frames``); only a small message goes
    through the pipe.
    """

    def __init__(self, ctx, initializer=None, preload: bool = True):
        parent, child = ctx.Pipe()
        self.process = ctx.Process(
            target=worker.main,
            args=(child, initializer, preload),
            name="facerec-engine",
            daemon=True,
        )
        # From the thread that lasts as long as the process: the worker's parent-death signal
        # (facerec.lifetime) must not fire when the request or capture thread that asked for
        # it ends.
        spawn_from_lasting_thread(self.process.start)
        child.close()
        self.conn = parent
        self.ready = False
        self.task = None
        self.busy_since: float | None = time.monotonic()  # busy until it says it is ready
        self._slot: shared_memory.SharedMemory | None = None
        # A job can be far larger than a pipe's buffer, so sending one waits until the worker
        # reads it: a worker that is frozen or stuck would hold the sender (and the engine's
        # lock, and with it every capture thread) for ever. Messages go out from a thread of
        # their own; the engine only puts them in this box and never waits.
        self.send_failed = False
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._sender = threading.Thread(target=self._send_loop, name="facerec-engine-send")
        self._sender.daemon = True
        self._sender.start()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def free(self) -> bool:
        return self.ready and self.busy_since is None

    def alive(self) -> bool:
        return self.process.is_alive()

    def start_task(self, task, message):
        """Hand ``task`` to the worker (``message`` says what to do); never waits."""
        self.task = task
        self.busy_since = time.monotonic()
        self._outbox.put(message)

    def finish_task(self):
        """The worker answered: free again. Returns the task it was working on."""
        task, self.task = self.task, None
        self.busy_since = None
        return task

    def send(self, message):
        """Queue a message that asks no answer (``forget``)."""
        self._outbox.put(message)

    def put_frames(self, frames) -> tuple[str, tuple]:
        """Copy ``frames`` (one, or a sub-stream's and its main frame) one after the other
        into this worker's shared memory block: ``(block name, their shapes)``.

        Only while the worker is free (it has finished with the previous frame). Frames
        larger than the block holds get a new block; the worker attaches to it when it sees
        the new name (it keeps its mapping of the old one until then: unlinking only removes
        the name).
        """
        frames = [np.ascontiguousarray(frame, dtype=np.uint8) for frame in frames]
        size = sum(frame.nbytes for frame in frames)
        if self._slot is None or self._slot.size < size:
            self._drop_slot()
            self._slot = shared_memory.SharedMemory(create=True, size=size)
        offset = 0
        for frame in frames:
            target = np.ndarray(frame.shape, np.uint8, buffer=self._slot.buf, offset=offset)
            target[...] = frame
            del target  # no view may outlive the block's close()
            offset += frame.nbytes
        return self._slot.name, tuple(frame.shape for frame in frames)

    def _drop_slot(self):
        if self._slot is not None:
            self._slot.close()
            with contextlib.suppress(FileNotFoundError):
                self._slot.unlink()
            self._slot = None

    def _send_loop(self):
        while True:
            message = self._outbox.get()
            try:
                self.conn.send(message)
            except (BrokenPipeError, OSError, ValueError):
                self.send_failed = True  # the engine replaces the worker at its next look
                return
            if message is None:
                return

    def close(self, timeout: float = 3.0):
        """Ask it to stop, end it whatever its state, reap it, free its frame slot."""
        self._outbox.put(None)  # asks it to stop once it has read what went before
        end_process(self.process, timeout)
        # A send still waiting on the ended process now fails with a broken pipe.
        self._sender.join(timeout=2)
        self.conn.close()
        self._drop_slot()


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
        log.warning("engine worker %s ignored SIGTERM; killing it", process.pid)
        process.kill()
        process.join(5)
    if process.is_alive():
        log.error("engine worker %s could not be ended", process.pid)
        _unreaped.append(process)
    for old in list(_unreaped):  # reap any earlier one that has ended since
        if not old.is_alive():
            _unreaped.remove(old)


_unreaped: list = []
