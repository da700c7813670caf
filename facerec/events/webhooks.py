"""Webhooks: each event as a signed JSON POST, retried with backoff, every attempt logged.

Signed the Standard Webhooks way (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``
over ``id.timestamp.body``, by the ``standardwebhooks`` reference library): a receiver can
reject a delivery that is old or that it has seen, with a stock library. The older
``X-Facerec-Signature`` (the body alone, no timestamp) is still sent for this release.

Each webhook has a delivery lane of its own (``lanes``) and every request has a timeout: a
receiver that is slow, dead or never answers holds only its own thread, never the dispatcher,
another webhook, the capture thread or a stream.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import http.client
import logging
import ssl
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import standardwebhooks
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import select

from .. import outbound
from ..config import current_settings
from ..extensions import db
from ..models import WEBHOOK_URL_MAX, Webhook, WebhookDelivery
from . import EVENTS, TEST_EVENT, Event, make_event
from .lanes import Job, Lanes, Result, typed_url, write_log
from .sink import EventSink

log = logging.getLogger(__name__)

USER_AGENT = "facerec-webhook/1"
RETRY_STATUSES = {408, 425, 429}  # and every 5xx
SECRET_MAX = 200
STANDARD_PREFIX = "whsec_"  # a Standard Webhooks secret: the prefix, then base64 of the key


class WebhookError(ValueError):
    """A webhook setting that cannot be used (said in a sentence for the page or the CLI)."""


def clean_url(raw: str | None) -> str:
    missing = "Enter the URL facerec should send events to."
    url = typed_url(raw, WEBHOOK_URL_MAX, WebhookError, missing)
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise WebhookError("Only http:// and https:// URLs can receive webhooks.")
    try:
        port = parts.port
    except ValueError:
        raise WebhookError("The URL's port is not a number from 1 to 65535.") from None
    if not parts.hostname:
        raise WebhookError("The URL has no host name.")
    if parts.username or parts.password:
        raise WebhookError(
            "Put no user name or password in the URL: set a secret, and check the signature."
        )
    if port == 0:
        raise WebhookError("The URL's port is not a number from 1 to 65535.")
    try:
        outbound.check_url(url)
    except outbound.TargetRefused as exc:
        raise WebhookError(f"Refused: {exc}") from None
    return url


def clean_events(raw) -> str:
    """``"sighting.started,sighting.ended"`` (or a list) checked; empty means every event."""
    if raw is None:
        return ""
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    names = []
    for item in items:
        name = item.strip()
        if not name:
            continue
        if name not in EVENTS:
            raise WebhookError(f"“{name[:50]}” is not an event; choose from {', '.join(EVENTS)}.")
        if name not in names:
            names.append(name)
    return ",".join(names)


def clean_secret(raw: str | None) -> str | None:
    secret = (raw or "").strip()
    if len(secret) > SECRET_MAX:
        raise WebhookError(f"The secret is longer than {SECRET_MAX} characters.")
    if secret.startswith(STANDARD_PREFIX):
        try:
            signing_key(secret)
        except ValueError:
            raise WebhookError(
                f"A secret starting with {STANDARD_PREFIX} must go on with base64 "
                f"(make one with: echo {STANDARD_PREFIX}$(openssl rand -base64 32))."
            ) from None
    return secret or None


def signing_key(secret: str) -> bytes:
    """The HMAC key of the Standard Webhooks signature: a ``whsec_`` secret is base64 after
    the prefix (as receivers' libraries read it); any other secret is its UTF-8 bytes."""
    if not secret.startswith(STANDARD_PREFIX):
        return secret.encode()
    try:
        key = base64.b64decode(secret[len(STANDARD_PREFIX) :], validate=True)
    except binascii.Error:
        raise ValueError("not base64") from None
    if not key:
        raise ValueError("empty")
    return key


def signature(secret: str, body: bytes) -> str:
    """The ``X-Facerec-Signature`` value: ``sha256=`` and the hex HMAC-SHA256 of the body.

    Deprecated (kept for one release): it signs no timestamp, so a delivery captured once
    verifies for ever. Receivers should check ``webhook-signature`` instead.
    """
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def standard_headers(secret: str | None, message_id: str, body: bytes, now: float) -> dict:
    """``webhook-id``, ``webhook-timestamp`` and (with a secret) ``webhook-signature``.

    Signed at each attempt: a retry minutes later carries a fresh timestamp, or receivers
    would reject it as too old (the library's tolerance is 5 minutes).
    """
    moment = datetime.fromtimestamp(int(now), UTC)
    headers = {"webhook-id": message_id, "webhook-timestamp": str(int(now))}
    if secret:
        signer = standardwebhooks.Webhook(signing_key(secret))
        headers["webhook-signature"] = signer.sign(message_id, moment, body)
    return headers


def add_webhook(url, secret=None, events=None, enabled=True, thumbnail=False) -> Webhook:
    """Validate and add (not committed) a webhook."""
    hook = Webhook(
        url=clean_url(url),
        secret=clean_secret(secret),
        events=clean_events(events),
        enabled=enabled,
        thumbnail=bool(thumbnail),
    )
    db.session.add(hook)
    return hook


@dataclass(frozen=True)
class Delivery:
    """One event for one webhook: the same id, body and signature secret on every retry."""

    webhook_id: int
    url: str
    secret: str | None
    event: Event
    thumbnail: bool  # the body carries the face as a small JPEG
    delivery_id: str

    def body(self) -> bytes:
        return self.event.body(thumbnail=self.thumbnail)


@dataclass
class Outcome:
    status_code: int | None
    error: str | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def retryable(self) -> bool:
        code = self.status_code
        return code is None or code >= 500 or code in RETRY_STATUSES


NOT_REACHABLE = "not reachable"


def post(url: str, body: bytes, headers: dict, timeout: float, *, app=None) -> Outcome:
    """POST ``body`` once; never raises (a failure is an Outcome with an error).

    The connection is checked by ``outbound.guarded()``: a receiver on a loopback,
    link-local or private address is refused unless FACEREC_ALLOW_PRIVATE_TARGETS of ``app``
    (default: the current app) allows it. Redirects are not
    followed (a 3xx is the answer). The error says "not reachable" or the HTTP status,
    never the peer's own words, which would tell one kind of service from another; the
    detail goes to the server's log.
    """
    started = time.perf_counter()
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        with outbound.guarded(app=app):
            if parts.scheme.lower() == "https":
                conn = http.client.HTTPSConnection(
                    parts.hostname,
                    parts.port,
                    timeout=timeout,
                    context=ssl.create_default_context(),
                )
            else:
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                response.read(64 * 1024)  # a receiver's answer is not needed beyond its status
                status = response.status
            finally:
                conn.close()
    except outbound.TargetRefused as exc:
        return Outcome(None, f"refused: {exc}", time.perf_counter() - started)
    except (OSError, http.client.HTTPException) as exc:
        log.info("webhook %s not reachable: %s", url, _describe(exc))
        return Outcome(None, NOT_REACHABLE, time.perf_counter() - started)
    error = None if 200 <= status < 300 else f"HTTP {status}"
    return Outcome(status, error, time.perf_counter() - started)


def _describe(exc: Exception) -> str:
    """For the server's log only."""
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    text = str(exc) or type(exc).__name__
    return text[:300]


class WebhookSender(EventSink):
    """The webhook sink of the event bus: one delivery lane per webhook (``lanes``)."""

    name = "webhooks"

    @classmethod
    def from_app(cls, app) -> WebhookSender:
        """Always: webhooks are rows in the database, added at any time."""
        settings = current_settings(app)
        return cls(app, timeout=settings.webhook_timeout, backoff=settings.webhook_backoff)

    def __init__(self, app, *, timeout=10.0, backoff=(10.0, 60.0, 300.0), maxsize=1000):
        self.app = app
        self.timeout = timeout
        self.lanes = Lanes("webhook", self._attempt, backoff, maxsize)

    # ---- the sink ------------------------------------------------------------------------

    def deliver(self, event: Event):
        """Schedule ``event`` for every enabled webhook that wants it (dispatcher thread)."""
        with self.app.app_context():
            try:
                hooks = db.session.execute(select(Webhook).where(Webhook.enabled)).scalars().all()
                targets = [
                    (h.id, h.url, h.secret, h.thumbnail) for h in hooks if h.wants(event.name)
                ]
            finally:
                db.session.remove()
        for hook_id, url, secret, thumbnail in targets:
            # The body is made on the lane's thread: a thumbnail reads the face from the
            # database, which the dispatcher must not wait for.
            delivery = Delivery(hook_id, url, secret, event, thumbnail, str(uuid.uuid4()))
            self.lanes.add(hook_id, delivery)

    def _attempt(self, job: Job) -> Result:
        delivery: Delivery = job.payload
        body = delivery.body()
        headers = self._headers(delivery, job.attempt, body)
        outcome = post(delivery.url, body, headers, self.timeout, app=self.app)
        self._log(delivery, job.attempt, outcome)
        return Result(outcome.ok, outcome.retryable, outcome.error)

    @staticmethod
    def _headers(delivery: Delivery, attempt: int, body: bytes) -> dict:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **standard_headers(delivery.secret, delivery.delivery_id, body, time.time()),
            "X-Facerec-Event": delivery.event.name,
            "X-Facerec-Delivery": delivery.delivery_id,
            "X-Facerec-Attempt": str(attempt),
        }
        if delivery.secret:
            headers["X-Facerec-Signature"] = signature(delivery.secret, body)
        return headers

    def _log(self, delivery: Delivery, attempt: int, outcome: Outcome):
        """Write the attempt to the webhook's delivery log (the newest are kept)."""
        row = WebhookDelivery(
            webhook_id=delivery.webhook_id,
            event=delivery.event.name,
            attempt=attempt,
            status_code=outcome.status_code,
            error=(outcome.error or None) and outcome.error[:500],
            duration_ms=round(outcome.seconds * 1000),
        )
        write_log(self.app, Webhook, row, WebhookDelivery.webhook_id)

    # ---- for the admin page and the CLI --------------------------------------------------

    def send_test(self, hook: Webhook) -> Outcome:
        """Deliver a ``webhook.test`` event now, once, and log it (the **Send test** button)."""
        event = make_event(TEST_EVENT, None)
        delivery = Delivery(hook.id, hook.url, hook.secret, event, False, str(uuid.uuid4()))
        body = delivery.body()
        headers = self._headers(delivery, 1, body)
        outcome = post(hook.url, body, headers, min(self.timeout, 10.0), app=self.app)
        self.lanes.count(hook.id, Result(outcome.ok))
        self._log(delivery, 1, outcome)
        return outcome

    # The counts the page, the metrics and the tests read.
    delivered = property(lambda self: self.lanes.delivered)
    failed = property(lambda self: self.lanes.failed)
    gave_up = property(lambda self: self.lanes.gave_up)
    dropped = property(lambda self: self.lanes.dropped)
    pending = property(lambda self: self.lanes.pending)

    def health(self) -> dict[str, list[dict]]:
        """A warning while some webhook's last attempt failed: receivers are someone else's
        servers, so they never make facerec itself unready. Called in an app context."""
        enabled = set(db.session.scalars(select(Webhook.id).where(Webhook.enabled)))
        return self.lanes.health(
            "webhooks", enabled, lambda n, s: f"the last delivery to {n} webhook{s} failed"
        )

    def metrics(self):
        deliveries = CounterMetricFamily(
            "facerec_webhook_deliveries",
            "Webhook delivery attempts by result (each retry is an attempt).",
            labels=["result"],
        )
        deliveries.add_metric(["success"], self.delivered)
        deliveries.add_metric(["failure"], self.failed)
        yield deliveries
        abandoned = CounterMetricFamily(
            "facerec_webhook_abandoned", "Webhook deliveries given up after the last retry."
        )
        abandoned.add_metric([], self.gave_up)
        yield abandoned
        dropped = CounterMetricFamily(
            "facerec_webhook_dropped", "Webhook deliveries dropped because too many were pending."
        )
        dropped.add_metric([], self.dropped)
        yield dropped
        pending = GaugeMetricFamily(
            "facerec_webhook_pending", "Deliveries waiting or being retried."
        )
        pending.add_metric([], self.pending)
        yield pending

    def close(self, timeout: float = 0.0):
        """Drop what is waiting; with ``timeout``, wait that long for deliveries under way."""
        self.lanes.close(timeout)
