"""Delivery lanes: per target, a bounded schedule, one thread, retries with backoff; and the
per-target delivery log and URL checks that go with them.

Webhooks and notification targets both deliver this way. Each target has its own lane, so a
receiver that is slow or never answers holds only its own thread, never the event
dispatcher, another target, the capture thread or a stream; within a lane deliveries go out
in order. A lane's thread starts when it has something to send and ends when idle. When a
lane holds ``maxsize`` deliveries the oldest is dropped and counted.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select

from ..extensions import db
from .sink import PASS, WARN, check

log = logging.getLogger(__name__)

KEEP_DELIVERIES = 50  # per target, in its delivery log


def typed_url(raw: str | None, max_length: int, error: type[ValueError], missing: str) -> str:
    """A URL as someone typed it: stripped, present, not too long, no spaces or control
    characters; else ``error`` with a sentence (``missing`` when it is empty)."""
    url = (raw or "").strip()
    if not url:
        raise error(missing)
    if len(url) > max_length:
        raise error(f"The URL is longer than {max_length} characters.")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise error("The URL cannot contain spaces or control characters.")
    return url


def write_log(app, owner, row, owner_column, keep: int = KEEP_DELIVERIES):
    """Add ``row`` (one attempt) to the delivery log of the ``owner`` row it names through
    ``owner_column`` (such as ``WebhookDelivery.webhook_id``) and keep that owner's newest
    ``keep``. Nothing is written if the owner was removed meanwhile; never raises."""
    model = type(row)
    owner_id = getattr(row, owner_column.key)
    with app.app_context():
        try:
            if db.session.get(owner, owner_id) is None:
                return  # removed while the delivery was under way
            db.session.add(row)
            db.session.flush()
            newest = (
                select(model.id)
                .where(owner_column == owner_id)
                .order_by(model.id.desc())
                .limit(keep)
            )
            db.session.execute(
                delete(model).where(
                    owner_column == owner_id, model.id.not_in(newest.scalar_subquery())
                )
            )
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("could not write to the log of %s %s", owner.__name__, owner_id)
        finally:
            db.session.remove()


@dataclass(order=True)
class Job:
    """One delivery to one target; ``attempt`` counts from 1."""

    due: float
    seq: int
    target: int = field(compare=False)
    payload: Any = field(compare=False)
    attempt: int = field(default=1, compare=False)


@dataclass(frozen=True)
class Result:
    ok: bool
    retry: bool = False  # worth trying again (no answer, a server error...)
    error: str | None = None


class Lanes:
    """``attempt(job) -> Result`` is called on the lane's thread for each due job; a failed
    retryable job comes back after ``backoff[attempt - 1]`` seconds, until they run out."""

    def __init__(
        self,
        name: str,
        attempt: Callable[[Job], Result],
        backoff=(10.0, 60.0, 300.0),
        maxsize: int = 1000,
        idle: float = 30.0,
    ):
        self.name = name
        self.attempt = attempt
        self.backoff = tuple(backoff)
        self.maxsize = maxsize  # pending deliveries per target
        self.idle = idle
        self.delivered = 0
        self.failed = 0  # attempts that failed (each retry counts)
        self.gave_up = 0  # deliveries abandoned after the last attempt
        self.dropped = 0
        self.failing: dict[int, bool] = {}  # target -> did its last attempt fail?
        self._lanes: dict[int, list[Job]] = {}  # target -> heap by due time
        self._threads: dict[int, threading.Thread] = {}
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._closed = False

    def add(self, target: int, payload, delay: float = 0.0):
        """Queue a first attempt to ``target``."""
        self._schedule(Job(0.0, 0, target, payload), delay)

    def count(self, target: int, result: Result):
        """Count an attempt (also one made outside the lanes, such as a test message)."""
        if result.ok:
            self.delivered += 1
        else:
            self.failed += 1
        self.failing[target] = not result.ok

    @property
    def pending(self) -> int:
        return sum(len(lane) for lane in list(self._lanes.values()))

    def health(self, key: str, enabled, says: Callable[[int, str], str]) -> dict[str, list]:
        """A warning while the last attempt to some ``enabled`` target failed, never a fail:
        the receivers are someone else's, so they never make facerec itself unready.
        ``says(count, plural)`` words it (plural: "s" or "")."""
        failing = sum(1 for target, bad in self.failing.items() if bad and target in enabled)
        if not failing:
            return {key: [check(PASS, "system", observed_value=0)]}
        reason = says(failing, "s" if failing != 1 else "")
        return {key: [check(WARN, "system", observed_value=failing, output=reason)]}

    def _schedule(self, job: Job, delay: float):
        with self._cond:
            if self._closed:
                return
            lane = self._lanes.setdefault(job.target, [])
            if len(lane) >= self.maxsize:
                lane.remove(min(lane, key=lambda queued: queued.seq))
                heapq.heapify(lane)
                self.dropped += 1
            job.due = time.monotonic() + delay
            job.seq = next(self._seq)
            heapq.heappush(lane, job)
            if job.target not in self._threads:
                thread = threading.Thread(
                    target=self._work,
                    args=(job.target,),
                    name=f"facerec-{self.name}-{job.target}",
                    daemon=True,
                )
                self._threads[job.target] = thread
                thread.start()
            self._cond.notify_all()

    def _next(self, target: int) -> Job | None:
        with self._cond:
            idle_since = time.monotonic()
            while not self._closed:
                lane = self._lanes.get(target) or []
                now = time.monotonic()
                if lane and lane[0].due <= now:
                    return heapq.heappop(lane)
                if not lane and now - idle_since > self.idle:
                    break
                wait = lane[0].due - now if lane else self.idle
                self._cond.wait(max(0.001, min(wait, self.idle)))
            self._threads.pop(target, None)
            if not self._lanes.get(target):
                self._lanes.pop(target, None)
            return None

    def _work(self, target: int):
        while (job := self._next(target)) is not None:
            try:
                result = self.attempt(job)
            except Exception:
                log.exception("%s delivery to target %s failed unexpectedly", self.name, target)
                result = Result(False, retry=False, error="facerec failed to send it")
            self.count(target, result)
            if result.ok or not result.retry:
                continue
            if job.attempt > len(self.backoff):
                self.gave_up += 1
                log.warning(
                    "%s %s: giving up after %d attempts (%s)",
                    self.name,
                    target,
                    job.attempt,
                    result.error,
                )
                continue
            delay = self.backoff[job.attempt - 1]
            job.attempt += 1
            self._schedule(job, delay)

    def close(self, timeout: float = 0.0):
        """Drop what is waiting; with ``timeout``, wait that long for deliveries under way."""
        with self._cond:
            self._closed = True
            self._lanes.clear()
            self._cond.notify_all()
            threads = list(self._threads.values())
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
