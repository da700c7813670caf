"""Notifications: a message with the face to a phone, a chat or a mailbox, through Apprise.

Each enabled target (``NotificationTarget``: an Apprise URL and a rule) hears of a sighting
when it starts, or when an open sighting changes identity (unknown, then recognised): once per
sighting, and then at most once per person and camera per cool-down (one message per
arrival, not per track; unknown visitors count as one person per camera). A sighting that has
ended never sends one, so a track relabelled afterwards (an unknown visitor enrolled later)
cannot send twice. Messages go out on a delivery lane per target (``lanes``), retried with
backoff, every attempt logged for /admin/notifications; the dispatcher only queues them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

import apprise
from apprise.attachment.memory import AttachMemory
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import outbound
from ..config import current_settings
from ..extensions import db
from ..models import NotificationDelivery, NotificationTarget
from . import Event
from .lanes import Job, Lanes, Result, write_log
from .rules import Rule
from .sink import EventSink
from .targets import TargetError, check_hosts, plugin

log = logging.getLogger(__name__)

NOTIFY_EVENTS = ("sighting.started", "sighting.updated")
REMEMBERED = 10_000  # (target, sighting) pairs kept to send once per sighting
NOT_SENT = "not sent: the service did not take it (the server's log says why)"


@dataclass(frozen=True)
class Message:
    """One message for one target (the same on every retry)."""

    target_id: int
    url: str
    attach: bool
    title: str
    body: str
    event: Event | None  # None for a test message
    user_id: int | None = None
    camera: str | None = None


def local_time(iso_text: str | None) -> datetime:
    """An event's ISO UTC time in the server's time zone (what people read)."""
    if not iso_text:
        return datetime.now().astimezone()
    return datetime.fromisoformat(iso_text.replace("Z", "+00:00")).astimezone()


def compose(event: Event, base_url: str) -> tuple[str, str]:
    """The title and body of the message about ``event``'s sighting."""
    sighting = event.sighting or {}
    who = sighting.get("name") or "Unknown visitor"
    camera = sighting.get("camera") or "main"
    seen = local_time(sighting.get("started_at"))
    title = f"{who} at {camera}"
    body = f"{who} was seen at {camera} at {seen:%H:%M:%S} on {seen:%a %d %b %Y} ({seen:%Z})."
    if base_url and sighting.get("id") is not None:
        # The history page, starting at this sighting (newest first, before_id exclusive).
        body += f"\n{base_url}/history?camera={camera}&before_id={sighting['id'] + 1}"
    return title, body


class Notifier(EventSink):
    """The notification sink: rules decide, lanes deliver, the log remembers."""

    name = "notifications"

    @classmethod
    def from_app(cls, app) -> Notifier:
        """Always: targets are rows in the database, added at any time."""
        settings = current_settings(app)
        return cls(app, backoff=settings.notify_backoff, base_url=settings.base_url)

    def __init__(self, app, *, backoff=(10.0, 60.0, 300.0), base_url: str = ""):
        self.app = app
        self.base_url = base_url.rstrip("/")
        self.lanes = Lanes("notify", self._attempt, backoff)
        # Local time now; the tests set another clock to check the hours of a rule.
        self.clock = lambda: datetime.now().astimezone()
        self.suppressed = 0  # matched a rule but within its cool-down
        self._last: dict[tuple, float] = {}  # (target, person or None, camera) -> monotonic
        self._sent: OrderedDict[tuple[int, int], None] = OrderedDict()  # (target, sighting)
        self._lock = threading.Lock()

    # ---- the sink ------------------------------------------------------------------------

    def deliver(self, event: Event):
        """Queue a message for every target whose rule wants this sighting (dispatcher)."""
        sighting = event.sighting
        if event.name not in NOTIFY_EVENTS or not sighting or sighting.get("ended_at"):
            return
        with self.app.app_context():
            try:
                targets = (
                    db.session.execute(
                        select(NotificationTarget)
                        .where(NotificationTarget.enabled)
                        .options(selectinload(NotificationTarget.people))
                    )
                    .scalars()
                    .all()
                )
                wanted = [(t.id, t.url, t.attach, Rule.of(t)) for t in targets]
            finally:
                db.session.remove()
        if not wanted:
            return
        user_id, camera = sighting.get("user_id"), sighting.get("camera") or "main"
        now = self.clock()
        title, body = compose(event, self.base_url)
        for target_id, url, attach, rule in wanted:
            if not rule.matches(user_id, camera, now):
                continue
            # Once per sighting, then once per person and camera per cool-down.
            if self._first(target_id, sighting["id"]) and self._cooled(
                target_id, user_id, camera, rule.cooldown
            ):
                message = Message(target_id, url, attach, title, body, event, user_id, camera)
                self.lanes.add(target_id, message)

    def _first(self, target_id: int, sighting_id: int) -> bool:
        """Has this sighting not been considered for this target yet? (Marks it.)"""
        key = (target_id, sighting_id)
        with self._lock:
            if key in self._sent:
                return False
            self._sent[key] = None
            while len(self._sent) > REMEMBERED:
                self._sent.popitem(last=False)
            return True

    def _cooled(self, target_id: int, user_id, camera: str, cooldown: int) -> bool:
        """Is the last message about this person at this camera ``cooldown`` seconds old?"""
        key = (target_id, user_id, camera)
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < cooldown:
                self.suppressed += 1
                return False
            self._last[key] = now
            return True

    # ---- sending -------------------------------------------------------------------------

    def _attempt(self, job: Job) -> Result:
        message: Message = job.payload
        ok, error, seconds = self._send(message)
        self._log(message, job.attempt, ok, error, seconds)
        refused = bool(error) and error.startswith("refused")
        return Result(ok, retry=not ok and not refused, error=error)

    def _send(self, message: Message) -> tuple[bool, str | None, float]:
        """Send once through Apprise; never raises. (ok, error for the page, seconds)."""
        started = time.perf_counter()
        found = plugin(message.url)
        if found is None:
            return False, "not sent: the URL is not one Apprise can use", 0.0
        try:
            check_hosts(found, app=self.app)  # now: DNS may answer otherwise than when added
        except TargetError as exc:
            return False, f"refused: {exc}", time.perf_counter() - started
        sender = apprise.Apprise()
        sender.add(found)
        attach = None
        wants_face = message.attach and message.event is not None
        crop = message.event.crop() if wants_face and found.attachment_support else None
        if crop:
            name = f"face-{(message.event.sighting or {}).get('id', 'x')}.jpg"
            attach = apprise.AppriseAttachment()
            attach.add(AttachMemory(content=crop, name=name, mimetype="image/jpeg"))
        try:
            with outbound.guarded(app=self.app):
                result = sender.notify(body=message.body, title=message.title, attach=attach)
        except outbound.TargetRefused as exc:
            return False, f"refused: {exc}", time.perf_counter() - started
        except Exception:
            log.exception("notification target %s: Apprise failed", message.target_id)
            return False, NOT_SENT, time.perf_counter() - started
        seconds = time.perf_counter() - started
        if result:
            return True, None, seconds
        log.warning(
            "notification target %s not sent: %s", message.target_id, " | ".join(_logs(result))
        )
        return False, NOT_SENT, seconds

    def _log(self, message: Message, attempt: int, ok: bool, error: str | None, seconds):
        """Write the attempt to the target's log (the newest are kept)."""
        sighting = (message.event.sighting or {}) if message.event else {}
        row = NotificationDelivery(
            target_id=message.target_id,
            sighting_id=sighting.get("id"),
            user_id=message.user_id,
            camera=message.camera,
            test=message.event is None,
            attempt=attempt,
            ok=ok,
            error=error[:500] if error else None,
            duration_ms=round(seconds * 1000),
        )
        write_log(self.app, NotificationTarget, row, NotificationDelivery.target_id)

    # ---- for the page and the CLI ---------------------------------------------------------

    def send_test(self, target: NotificationTarget) -> tuple[bool, str | None]:
        """Send a test message now, once, and log it (**Send test**, ``notify test``)."""
        message = Message(
            target.id,
            target.url,
            False,
            "facerec test message",
            "Messages from facerec reach you here. "
            "A real one names who was seen, where and when, with the face.",
            None,
        )
        ok, error, seconds = self._send(message)
        self.lanes.count(target.id, Result(ok))
        self._log(message, 1, ok, error, seconds)
        return ok, error

    # ---- health and metrics ----------------------------------------------------------------

    def health(self) -> dict[str, list[dict]]:
        """A warning while some target's last message failed (never a fail: the services
        are someone else's). Called in an app context."""
        enabled = set(
            db.session.scalars(
                select(NotificationTarget.id).where(NotificationTarget.enabled)
            ).all()
        )
        return self.lanes.health(
            "notifications",
            enabled,
            lambda n, s: f"the last message to {n} notification target{s} failed",
        )

    def metrics(self):
        sent = CounterMetricFamily(
            "facerec_notifications",
            "Notification attempts by result (each retry is an attempt).",
            labels=["result"],
        )
        sent.add_metric(["success"], self.lanes.delivered)
        sent.add_metric(["failure"], self.lanes.failed)
        yield sent
        for name, text, value in (
            ("abandoned", "Notifications given up after the last retry.", self.lanes.gave_up),
            ("dropped", "Notifications dropped because too many were pending.", self.lanes.dropped),
            ("suppressed", "Messages a rule wanted but its cool-down held back.", self.suppressed),
        ):
            family = CounterMetricFamily(f"facerec_notifications_{name}", text)
            family.add_metric([], value)
            yield family
        pending = GaugeMetricFamily(
            "facerec_notifications_pending", "Notifications waiting or being retried."
        )
        pending.add_metric([], self.lanes.pending)
        yield pending

    def close(self, timeout: float = 0.0):
        self.lanes.close(timeout)


def _logs(result) -> list[str]:
    """What Apprise said about a call that failed (for the server's log)."""
    try:
        return [str(getattr(entry, "message", entry)) for entry in result.logs()]
    except Exception:
        return []


__all__ = ["Message", "Notifier", "compose"]
