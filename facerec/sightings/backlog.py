"""Track events the database could not take yet, kept in order until it can.

In memory up to ``memory`` events, then in a spool file (the instance folder's
``pending-sightings``, readable by the server's user alone), so an outage of any length
costs disk, not memory, and loses nothing. Events come back out oldest first. A spool file
left by a process that stopped is read again by the next one.

Each event is one pickle of ``(camera, TrackEvent)``: the file is the server's own, written
and read by the same code, never taken from anywhere else.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import threading
from collections import deque
from pathlib import Path

log = logging.getLogger(__name__)

MEMORY = 2000  # events (a crop and an encoding each: about 10 KB)


class Backlog:
    def __init__(self, spool: Path | None, memory: int = MEMORY):
        self.spool = spool
        self.memory = memory
        self._items: deque = deque()
        self._on_disk = 0  # events in the spool not read back yet
        self._read_at = 0  # where the next one starts
        self._lock = threading.Lock()
        if spool is not None and spool.exists():
            self._on_disk = self._count(spool)
            if self._on_disk:
                log.warning("%d sighting events left by a stopped server", self._on_disk)

    def __len__(self) -> int:
        return len(self._items) + self._on_disk

    def append(self, item):
        """Keep ``item`` after every other one (to disk once memory holds ``memory``)."""
        with self._lock:
            if self.spool is None or (not self._on_disk and len(self._items) < self.memory):
                self._items.append(item)
                return
            with self._open_spool() as spool:
                pickle.dump(item, spool, protocol=pickle.HIGHEST_PROTOCOL)
            self._on_disk += 1

    def peek(self):
        """The oldest event (None when there is none); it stays until ``pop()``."""
        with self._lock:
            if not self._items and self._on_disk:
                self._read_some()
            return self._items[0] if self._items else None

    def pop(self):
        with self._lock:
            self._items.popleft()

    def spill(self):
        """Move what memory holds to the spool (at shutdown: the next start writes it)."""
        with self._lock:
            if self.spool is None or not self._items:
                return
            older = list(self._items)  # memory always holds the oldest events
            self._items.clear()
            while self._on_disk:
                self._read_some()
                older.extend(self._items)
                self._items.clear()
            with self._open_spool(append=False) as spool:
                for item in older:
                    pickle.dump(item, spool, protocol=pickle.HIGHEST_PROTOCOL)
            self._on_disk, self._read_at = len(older), 0

    # ---- the spool -------------------------------------------------------------------------

    def _open_spool(self, append: bool = True):
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
        return os.fdopen(os.open(self.spool, flags, 0o600), "ab" if append else "wb")

    def _read_some(self, count: int = 200):
        """Read the next events of the spool into memory; the file goes when all are read."""
        try:
            with open(self.spool, "rb") as spool:
                spool.seek(self._read_at)
                for _ in range(min(count, self._on_disk)):
                    self._items.append(pickle.load(spool))
                    self._on_disk -= 1
                self._read_at = spool.tell()
        except (OSError, EOFError, pickle.UnpicklingError) as exc:
            log.error("pending sightings unreadable (%s): %d lost", exc, self._on_disk)
            self._on_disk = 0
        if not self._on_disk:
            with contextlib.suppress(FileNotFoundError):
                self.spool.unlink()
            self._read_at = 0

    @staticmethod
    def _count(spool: Path) -> int:
        count = 0
        try:
            with open(spool, "rb") as file:
                while True:
                    try:
                        pickle.load(file)
                    except EOFError:
                        return count
                    count += 1
        except (OSError, pickle.UnpicklingError) as exc:
            log.error("the spool of pending sightings cannot be read (%s)", exc)
            return count
