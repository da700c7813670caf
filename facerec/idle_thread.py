"""A worker thread started on demand that ends when it has nothing to do.

The sightings writer and the unknown-sighting placer each drain a queue on one thread that
need not exist while nothing comes: producers call ``start()`` after queuing work (it starts
the thread unless it runs), and the thread, after waiting idle, calls ``end_if(idle)``.
Both take one lock, and an ending thread forgets itself before it returns, so work queued
while it ends is never left alone: either ``end_if`` sees it and the thread goes on, or
``start()`` finds no thread and starts a new one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class IdleThread:
    def __init__(self, target: Callable[[], None], name: str):
        self.target = target
        self.name = name
        self.thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self):
        """Start the thread unless it runs already (never blocks for long)."""
        with self._lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self.target, name=self.name, daemon=True)
                self.thread.start()

    def end_if(self, idle: Callable[[], bool]) -> bool:
        """On the thread: True (it must return now) if ``idle()``, asked under the lock."""
        with self._lock:
            if idle():
                self.thread = None
                return True
            return False

    def running(self) -> threading.Thread | None:
        """The thread if it is alive (to join it on close), else None."""
        thread = self.thread
        return thread if thread is not None and thread.is_alive() else None
