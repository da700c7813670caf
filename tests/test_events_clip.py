"""Events from the live pipeline: the clip plays, sightings start, webhooks hear about them."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time

import pytest

from facerec import events
from facerec.extensions import db
from facerec.models import Webhook

from .conftest import change_settings, login_client
from .receivers import Receiver, SilentReceiver
from .test_monitoring import scrape, value
from .test_webhooks import add_hook

BOUNDARY = b"--frame\r\n"

# On SQLite alone (see conftest.py): events from the clip; the database is incidental.
pytestmark = pytest.mark.sqlite_only


def test_does_a_receiver_get_a_signed_sighting_started_for_lin_manuel_miranda(
    app_factory, clip_10fps, enroll_known
):
    # The clip's scenes at 10 fps: the event is the subject, not the frame rate.
    clip_app = app_factory(FACEREC_CAMERA=str(clip_10fps))
    change_settings(clip_app, allow_private_targets="1")  # the receiver is on loopback
    people = enroll_known(clip_app)
    receiver = Receiver()
    try:
        add_hook(clip_app, receiver.url, secret="door-secret", events_filter="sighting.started")
        clip_app.extensions["cameras"].first().start()
        deadline = time.monotonic() + 60
        found = None
        while found is None and time.monotonic() < deadline:
            receiver.wait(len(receiver.requests) + 1, timeout=2)
            for request in receiver.requests:
                body = json.loads(request["body"])
                if body["sighting"]["name"] == "lin-manuel-miranda":
                    found = request
                    break
        assert found is not None, "no sighting.started for lin-manuel-miranda within 60 s"
        expected = hmac.new(b"door-secret", found["body"], hashlib.sha256).hexdigest()
        assert found["headers"]["X-Facerec-Signature"] == f"sha256={expected}"
        assert found["headers"]["X-Facerec-Event"] == "sighting.started"
        body = json.loads(found["body"])
        sighting = body["sighting"]
        assert sighting["user_id"] == people["lin-manuel-miranda"]
        assert sighting["camera"] == "main" and sighting["ended_at"] is None
        # The payload is the sighting as the API returns it.
        client = login_client(clip_app, clip_app.test_client())
        api = client.get(f"/api/v1/sightings/{sighting['id']}").get_json()
        assert set(api) == set(sighting)
        assert api["id"] == sighting["id"] and api["started_at"] == sighting["started_at"]
        # Known sightings are counted on /metrics.
        samples = scrape(client)
        assert value(samples, "facerec_sightings_started_total", identity="known") >= 1
        assert value(samples, "facerec_webhook_deliveries_total", result="success") >= 1
    finally:
        events.close(clip_app)
        receiver.close()


def count_frames(port: int, seconds: float) -> int:
    """Frames one MJPEG viewer receives over ``seconds``."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: test\r\n\r\n")
        sock.settimeout(2)
        data, tail, frames = b"", b"", 0
        # Let the stream settle, then count boundaries for the measured window.
        warm_until = time.monotonic() + 1.5
        while time.monotonic() < warm_until:
            sock.recv(1 << 18)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            data = tail + sock.recv(1 << 18)
            frames += data.count(BOUNDARY)
            tail = data[-(len(BOUNDARY) - 1) :]
        return frames
    finally:
        sock.close()


def test_does_a_receiver_that_never_answers_leave_the_stream_rate_alone(
    app_factory, enroll_known, serve
):
    from .conftest import CLIP

    app = app_factory(
        FACEREC_CAMERA=str(CLIP), FACEREC_PUBLIC_STREAM=True, FACEREC_ALLOW_PRIVATE_TARGETS="1"
    )
    enroll_known(app)
    silent = SilentReceiver()
    try:
        cam = app.extensions["cameras"].first()
        server = serve(app)
        port = int(server.url.rsplit(":", 1)[1])
        cam.start()
        deadline = time.monotonic() + 30
        while cam.feed is None or cam.feed.latency.count == 0:
            assert time.monotonic() < deadline, "recognition did not start"
            time.sleep(0.1)
        seconds = 8.0
        # The same viewer, the same server, one run: with no webhook, then with five webhooks
        # to a receiver that never answers, then with them switched off again. (The rate
        # against the source's fps under gunicorn is bench/events.py's figure; a test server
        # on a busy machine cannot promise the source's rate, only that the dead receivers
        # take nothing from it.) The windows without them, before and after, bracket the one
        # with them: the pace a busy machine allows drifts over a run (one window before
        # alone came out 0.89 in a whole suite on two cores).
        before = count_frames(port, seconds)
        hooks = [add_hook(app, silent.url) for _ in range(5)]
        published_before = app.extensions["events"].published
        during = count_frames(port, seconds)
        # Sightings were reported meanwhile, and the receiver is holding them unanswered.
        assert app.extensions["events"].published > published_before
        assert len(silent.connections) >= 1
        with app.app_context():
            for hook_id in hooks:
                db.session.get(Webhook, hook_id).enabled = False
            db.session.commit()
        after = count_frames(port, seconds)
        ratio = during / ((before + after) / 2)
        assert ratio >= 0.9, (
            f"with dead webhooks the viewer got {ratio:.2f} x the frames "
            f"(without: {before}, then {after}; with: {during})"
        )
    finally:
        events.close(app)
        silent.close()
