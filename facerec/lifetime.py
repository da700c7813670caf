"""Child processes end with their parent.

facerec starts worker processes (the recognition worker, the face-engine pool, the import
workers) with multiprocessing's ``spawn`` method. When the parent dies without cleaning up
(``kill -9``, the OOM killer), nothing tells them: a pool worker waits for its next job for
ever and keeps its few hundred MB of dlib models. Every child therefore calls
``exit_with_parent()`` first thing, which sets up two guards:

* Linux's parent-death signal (``prctl(PR_SET_PDEATHSIG, SIGKILL)``): the kernel kills the
  child when its parent goes, even while the child is deep in dlib holding the GIL. The
  signal fires when the *thread* that started the child ends, not only the process, so
  parents start children from one thread that lives as long as the process:
  ``spawn_from_lasting_thread()``.
* A thread watching the pipe multiprocessing keeps between a spawned child and its parent
  (the "parent sentinel"), which the kernel closes when the parent dies: the child exits at
  once (on systems without prctl, or should the signal be missed).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import sys
import threading
from concurrent.futures import Future

PR_SET_PDEATHSIG = 1
_watching = False


def _set_parent_death_signal() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def exit_with_parent():
    """In a spawned child: end as soon as the parent process is gone."""
    global _watching
    parent = multiprocessing.parent_process()
    if parent is None or _watching:
        return
    _watching = True
    _set_parent_death_signal()
    if os.getppid() != parent.pid:  # the parent died before the signal was armed
        os._exit(1)

    def watch():
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)  # no cleanup: whatever we hold belongs to a parent that no longer exists

    threading.Thread(target=watch, name="facerec-parent-watch", daemon=True).start()


def exit_with_master(master_pid: int):
    """In a gunicorn worker, just forked: end as soon as the master does.

    gunicorn's master watches its workers, but nothing makes a worker notice that the master
    is gone: after ``kill -9`` of the master, the worker (with its camera, its recognition
    worker and its face engine pool) ran on under PID 1, its port dead, still writing
    sightings, while a new server ran the same camera. The master forks its workers from its
    only thread, so the parent-death signal fires when the master process ends; the children
    of the worker follow it (each has its own signal, see ``exit_with_parent``).
    """
    _set_parent_death_signal()
    if os.getppid() != master_pid:  # the master died before the signal was armed
        os._exit(1)


# ---- the parent side ------------------------------------------------------------------------

_calls: queue.SimpleQueue = queue.SimpleQueue()
_starter: threading.Thread | None = None
_starter_lock = threading.Lock()


def _serve_calls():
    while True:
        future, func, args, kwargs = _calls.get()
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(func(*args, **kwargs))
            except BaseException as exc:
                future.set_exception(exc)


def spawn_from_lasting_thread(func, *args, **kwargs):
    """``func(*args, **kwargs)`` run in a thread that lives as long as this process.

    Call what starts child processes through it (``Process.start``, a process pool's
    ``submit``, which starts workers on demand): the children's parent-death signal then
    fires only when this process dies, not when a request or capture thread ends.
    """
    global _starter
    if threading.current_thread() is threading.main_thread():
        return func(*args, **kwargs)  # the main thread lives as long as the process
    with _starter_lock:
        if _starter is None or not _starter.is_alive():
            _starter = threading.Thread(
                target=_serve_calls, name="facerec-process-starter", daemon=True
            )
            _starter.start()
    future: Future = Future()
    _calls.put((future, func, args, kwargs))
    return future.result()
