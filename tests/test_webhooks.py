"""Events out over webhooks: the bounded queue, signed deliveries, retries, the page, the CLI."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time

import pytest
from sqlalchemy import select

from facerec import events
from facerec.events import EventBus, EventSink
from facerec.extensions import db
from facerec.models import Webhook, WebhookDelivery

from .receivers import Receiver, SilentReceiver, closed_port_url
from .servers import wait_for

SIGHTING = {
    "id": 7,
    "camera": "main",
    "user_id": 3,
    "name": "lin-manuel-miranda",
    "started_at": "2026-11-26T06:00:00Z",
    "ended_at": None,
    "frames": 12,
    "distance": 0.41,
    "crop_url": "/api/v1/sightings/7/crop.jpg",
    "group_id": None,
}

# On SQLite alone (see conftest.py) but for the tests marked both_databases: delivery over
# HTTP is the same on both; webhooks and their delivery log are stored.
pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def app(app_factory):
    """The receivers of these tests listen on loopback, which only this setting lets through
    (test_outbound.py tests the rule itself)."""
    return app_factory(FACEREC_ALLOW_PRIVATE_TARGETS="1")


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def hook_app(app_factory):
    """An app whose failed deliveries are retried after 0.2 s and 0.4 s (not minutes)."""
    app = app_factory(
        FACEREC_WEBHOOK_BACKOFF="0.2,0.4",
        FACEREC_WEBHOOK_TIMEOUT=2.0,
        FACEREC_ALLOW_PRIVATE_TARGETS="1",
    )
    yield app
    events.close(app)


def add_hook(app, url, secret=None, events_filter=None, enabled=True) -> int:
    from facerec.events.webhooks import add_webhook

    with app.app_context():
        hook = add_webhook(url, secret=secret, events=events_filter, enabled=enabled)
        db.session.commit()
        return hook.id


def deliveries(app, hook_id):
    with app.app_context():
        return (
            db.session.execute(
                select(WebhookDelivery)
                .where(WebhookDelivery.webhook_id == hook_id)
                .order_by(WebhookDelivery.id)
            )
            .scalars()
            .all()
        )


# ---- the queue -----------------------------------------------------------------------------


def test_does_a_full_event_queue_drop_the_oldest_event_and_count_it():
    gate, busy = threading.Event(), threading.Event()
    seen = []

    class SlowSink(EventSink):
        name = "slow"
        from_app = health = metrics = None

        def deliver(self, event):
            busy.set()
            gate.wait(5)
            seen.append(event.sighting["id"])

        def close(self, timeout=0.0):
            pass

    bus = EventBus(maxsize=3)
    bus.sinks.append(SlowSink())
    started = time.perf_counter()
    bus.publish("sighting.started", {**SIGHTING, "id": 0})
    assert busy.wait(5)
    for number in range(1, 10):
        bus.publish("sighting.started", {**SIGHTING, "id": number})
    assert time.perf_counter() - started < 0.5, "publish waited for a slow sink"
    gate.set()
    assert bus.flush(5)
    wait_for(lambda: len(seen) >= 4, 5)
    # The first went straight to the sink; of the other nine only the newest three were kept.
    assert seen == [0, 7, 8, 9]
    assert bus.dropped == 6
    assert bus.published == 10
    bus.close()


def test_is_an_unknown_event_name_refused(app):
    with pytest.raises(ValueError, match="unknown event"):
        events.publish("sighting.exploded", SIGHTING, app=app)


# ---- deliveries ----------------------------------------------------------------------------


def test_does_a_receiver_get_a_signed_json_post_of_the_event(hook_app, receiver):
    add_hook(hook_app, receiver.url, secret="s3cret")
    events.publish("sighting.started", SIGHTING, app=hook_app)
    (request,) = receiver.wait(1)
    headers = request["headers"]
    assert headers["X-Facerec-Event"] == "sighting.started"
    assert headers["Content-Type"] == "application/json"
    expected = hmac.new(b"s3cret", request["body"], hashlib.sha256).hexdigest()
    assert headers["X-Facerec-Signature"] == f"sha256={expected}"
    body = json.loads(request["body"])
    assert body["event"] == "sighting.started"
    assert body["sighting"] == SIGHTING
    assert body["time"].endswith("Z")


STANDARD_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # base64 of 24 bytes


@pytest.mark.parametrize(
    "secret, verifier_key",
    [
        (STANDARD_SECRET, STANDARD_SECRET),  # as the Standard Webhooks libraries take it
        ("plain words", b"plain words"),  # any other secret: its bytes are the key
    ],
)
def test_does_the_standard_webhooks_library_verify_every_delivery(
    hook_app, receiver, secret, verifier_key
):
    from standardwebhooks import Webhook as Verifier

    receiver.status = 500  # so that the retries come too: each is signed afresh
    add_hook(hook_app, receiver.url, secret=secret)
    events.publish("sighting.started", SIGHTING, app=hook_app)
    requests = receiver.wait(3, timeout=10)
    verifier = Verifier(verifier_key)
    for request in requests:
        assert verifier.verify(request["body"], request["headers"]) == json.loads(request["body"])
        assert abs(int(request["headers"]["webhook-timestamp"]) - time.time()) < 60
    # One message id for the event, the same on every retry (receivers drop duplicates by it).
    assert len({r["headers"]["webhook-id"] for r in requests}) == 1
    assert requests[0]["headers"]["webhook-id"] == requests[0]["headers"]["X-Facerec-Delivery"]


def test_does_a_captured_delivery_fail_verification_when_replayed_as_new(hook_app, receiver):
    """The id and the time are signed: a delivery sent again under a new id, or with a fresh
    timestamp to pass the receiver's 5-minute window, no longer verifies."""
    import uuid

    from standardwebhooks import Webhook as Verifier
    from standardwebhooks import WebhookVerificationError

    add_hook(hook_app, receiver.url, secret=STANDARD_SECRET)
    events.publish("sighting.started", SIGHTING, app=hook_app)
    (request,) = receiver.wait(1)
    verifier = Verifier(STANDARD_SECRET)
    headers = request["headers"]
    verifier.verify(request["body"], headers)
    as_new = {**headers, "webhook-id": str(uuid.uuid4())}
    with pytest.raises(WebhookVerificationError):
        verifier.verify(request["body"], as_new)
    later = {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) + 400)}
    with pytest.raises(WebhookVerificationError):
        verifier.verify(request["body"], later)
    old = {**headers, "webhook-timestamp": str(int(time.time()) - 600)}
    with pytest.raises(WebhookVerificationError, match=r"too old|signature"):
        verifier.verify(request["body"], old)


@pytest.mark.parametrize("secret", ["whsec_not base64!", "whsec_"])
def test_is_a_standard_secret_that_is_not_base64_refused(runner, secret):
    result = runner.invoke(args=["webhooks", "add", "https://x.example/", "--secret", secret])
    assert result.exit_code != 0 and "must go on with base64" in result.output


def test_is_a_delivery_without_a_secret_sent_unsigned(hook_app, receiver):
    add_hook(hook_app, receiver.url)
    events.publish("sighting.ended", SIGHTING, app=hook_app)
    (request,) = receiver.wait(1)
    assert "X-Facerec-Signature" not in request["headers"]
    assert "webhook-signature" not in request["headers"]
    assert request["headers"]["webhook-id"] and request["headers"]["webhook-timestamp"]


def test_does_a_webhook_get_only_the_events_it_asked_for(hook_app, receiver):
    add_hook(hook_app, receiver.url, events_filter="sighting.ended")
    disabled = Receiver()
    try:
        add_hook(hook_app, disabled.url, enabled=False)
        for name in ("sighting.started", "sighting.updated", "sighting.ended"):
            events.publish(name, SIGHTING, app=hook_app)
        receiver.wait(1)
        time.sleep(0.5)
        assert [r["headers"]["X-Facerec-Event"] for r in receiver.requests] == ["sighting.ended"]
        assert disabled.requests == []
    finally:
        disabled.close()


@pytest.mark.both_databases
def test_is_a_receiver_answering_500_retried_and_the_failure_logged(hook_app, receiver):
    receiver.status = 500
    hook_id = add_hook(hook_app, receiver.url, secret="k")
    events.publish("sighting.started", SIGHTING, app=hook_app)
    requests = receiver.wait(3, timeout=10)
    assert len(requests) == 3  # the first attempt and the two retries of the test backoff
    assert [r["headers"]["X-Facerec-Attempt"] for r in requests] == ["1", "2", "3"]
    # A retry is the same delivery: same id, same body, same signature.
    assert len({r["headers"]["X-Facerec-Delivery"] for r in requests}) == 1
    assert len({r["body"] for r in requests}) == 1
    rows = wait_for(
        lambda: len(deliveries(hook_app, hook_id)) == 3 and deliveries(hook_app, hook_id),
        timeout=10,
    )
    assert [(r.attempt, r.status_code, r.error) for r in rows] == [
        (1, 500, "HTTP 500"),
        (2, 500, "HTTP 500"),
        (3, 500, "HTTP 500"),
    ]
    assert wait_for(lambda: hook_app.extensions["webhooks"].gave_up == 1, timeout=10)


def test_is_a_receiver_that_recovers_sent_the_event_on_a_retry(hook_app, receiver):
    receiver.status = 503
    hook_id = add_hook(hook_app, receiver.url)
    events.publish("sighting.started", SIGHTING, app=hook_app)
    receiver.wait(1)
    receiver.status = 204
    receiver.wait(2)
    rows = wait_for(
        lambda: len(deliveries(hook_app, hook_id)) == 2 and deliveries(hook_app, hook_id),
        timeout=10,
    )
    assert [(r.attempt, r.status_code) for r in rows] == [(1, 503), (2, 204)]
    time.sleep(0.8)
    assert len(receiver.requests) == 2, "a delivered event was sent again"


def test_is_a_receiver_answering_400_not_retried(hook_app, receiver):
    receiver.status = 400
    add_hook(hook_app, receiver.url)
    events.publish("sighting.started", SIGHTING, app=hook_app)
    receiver.wait(1)
    time.sleep(1.0)
    assert len(receiver.requests) == 1


def test_does_a_refused_connection_show_as_not_reachable_in_the_log(hook_app):
    hook_id = add_hook(hook_app, closed_port_url())
    events.publish("sighting.started", SIGHTING, app=hook_app)
    rows = wait_for(lambda: deliveries(hook_app, hook_id), timeout=10)
    # Not the peer's words ("connection refused", a TLS error...): they tell services apart.
    assert rows[0].status_code is None and rows[0].error == "not reachable"


def test_does_a_receiver_that_never_answers_leave_publish_and_other_webhooks_unaffected(
    app_factory, receiver
):
    app = app_factory(
        FACEREC_WEBHOOK_TIMEOUT=3.0, FACEREC_WEBHOOK_BACKOFF="", FACEREC_ALLOW_PRIVATE_TARGETS="1"
    )
    silent = SilentReceiver()
    try:
        for _ in range(5):
            add_hook(app, silent.url)
        add_hook(app, receiver.url)
        started = time.perf_counter()
        for number in range(20):
            events.publish("sighting.started", {**SIGHTING, "id": number}, app=app)
        assert time.perf_counter() - started < 0.2
        # The healthy receiver gets every event even though four delivery threads are hung.
        assert len(receiver.wait(20, timeout=30)) == 20
    finally:
        events.close(app)
        silent.close()


# ---- validation, the CLI, the page ---------------------------------------------------------


@pytest.mark.parametrize(
    "url, message",
    [
        ("", "Enter the URL"),
        ("ftp://example.net/x", "Only http:// and https://"),
        ("file:///etc/passwd", "Only http:// and https://"),
        ("javascript:alert(1)", "Only http:// and https://"),
        ("https://", "no host"),
        ("http://user:pw@example.net/", "no user name or password"),
        ("http://example.net:99999/", "port"),
        ("http://exa mple.net/", "spaces"),
        ("https://example.net/" + "a" * 2100, "longer than"),
    ],
)
def test_is_a_webhook_url_that_is_not_http_refused_with_a_reason(runner, url, message):
    result = runner.invoke(args=["webhooks", "add", url])
    assert result.exit_code != 0
    assert message in result.output


@pytest.mark.both_databases
def test_can_the_cli_add_list_and_remove_a_webhook(app, runner):
    result = runner.invoke(
        args=[
            "webhooks",
            "add",
            "https://hooks.example.net/facerec",
            "--secret",
            "abc",
            "--events",
            "sighting.started, sighting.ended",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Webhook 1 added" in result.output
    with app.app_context():
        hook = db.session.get(Webhook, 1)
        assert (hook.url, hook.secret, hook.events) == (
            "https://hooks.example.net/facerec",
            "abc",
            "sighting.started,sighting.ended",
        )
    listing = runner.invoke(args=["webhooks", "list"])
    assert "https://hooks.example.net/facerec" in listing.output
    assert "abc" not in listing.output  # the secret is never printed
    assert runner.invoke(args=["webhooks", "remove", "1"]).exit_code == 0
    assert "No webhooks" in runner.invoke(args=["webhooks", "list"]).output
    missing = runner.invoke(args=["webhooks", "remove", "1"])
    assert missing.exit_code != 0 and "No webhook with id 1" in missing.output


def test_is_an_unknown_event_in_the_filter_refused(runner):
    result = runner.invoke(args=["webhooks", "add", "http://x.example/", "--events", "everything"])
    assert result.exit_code != 0 and "is not an event" in result.output


def test_can_an_anonymous_visitor_open_the_webhooks_page(anon_client):
    response = anon_client.get("/admin/webhooks")
    assert response.status_code == 302 and "/login" in response.location


def test_does_the_page_add_a_webhook_and_warn_that_names_are_sent(app, client):
    page = client.get("/admin/webhooks").get_data(as_text=True)
    assert "No webhooks yet" in page
    assert "sends people&#39;s names" in page or "sends people's names" in page
    response = client.post(
        "/admin/webhooks",
        data={"url": "https://hooks.example.net/a", "secret": "", "events": ["sighting.started"]},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "https://hooks.example.net/a" in response.get_data(as_text=True)
    with app.app_context():
        (hook,) = db.session.execute(select(Webhook)).scalars().all()
        assert hook.events == "sighting.started" and hook.secret is None and hook.enabled


def test_does_the_page_refuse_a_bad_url_and_keep_what_was_typed(app, client):
    response = client.post("/admin/webhooks", data={"url": "gopher://x.example/", "secret": "s"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Only http:// and https://" in page and "gopher://x.example/" in page
    with app.app_context():
        assert db.session.execute(select(Webhook)).first() is None


def test_does_the_page_need_a_csrf_token(app_factory):
    from .conftest import login_client

    app = app_factory(WTF_CSRF_ENABLED=True)
    client = login_client(app, app.test_client())
    response = client.post("/admin/webhooks", data={"url": "https://x.example/"})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.execute(select(Webhook)).first() is None


def test_does_send_test_deliver_now_and_show_the_answer(hook_app, receiver):
    from .conftest import login_client

    client = login_client(hook_app, hook_app.test_client())
    hook_id = add_hook(hook_app, receiver.url, secret="t")
    page = client.post(f"/admin/webhooks/{hook_id}/test", follow_redirects=True)
    text = page.get_data(as_text=True)
    assert "Test delivered" in text and "answered 200" in text
    (request,) = receiver.requests
    assert request["headers"]["X-Facerec-Event"] == "webhook.test"
    assert json.loads(request["body"])["sighting"] is None


def test_does_the_page_show_a_failed_delivery_with_its_status_and_error(hook_app, receiver):
    from .conftest import login_client

    receiver.status = 500
    client = login_client(hook_app, hook_app.test_client())
    hook_id = add_hook(hook_app, receiver.url)
    events.publish("sighting.started", SIGHTING, app=hook_app)
    wait_for(lambda: len(deliveries(hook_app, hook_id)) == 3, timeout=10)
    text = client.get("/admin/webhooks").get_data(as_text=True)
    assert text.count("HTTP 500") == 3
    assert 'data-state="unavailable">500<' in text
    flashed = client.post(f"/admin/webhooks/{hook_id}/test", follow_redirects=True)
    assert "Test failed" in flashed.get_data(as_text=True)


@pytest.mark.both_databases
def test_can_the_page_disable_enable_and_remove_a_webhook(app, client, receiver):
    hook_id = add_hook(app, receiver.url)
    client.post(f"/admin/webhooks/{hook_id}/toggle")
    with app.app_context():
        assert db.session.get(Webhook, hook_id).enabled is False
    client.post(f"/admin/webhooks/{hook_id}/toggle")
    with app.app_context():
        assert db.session.get(Webhook, hook_id).enabled is True
    response = client.post(f"/admin/webhooks/{hook_id}/delete", follow_redirects=True)
    assert "Removed the webhook" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Webhook, hook_id) is None
    assert client.post(f"/admin/webhooks/{hook_id}/delete").status_code == 404


def test_does_the_documented_receiver_take_each_delivery_once_and_refuse_replays(hook_app):
    """The receiver of docs/integrations/webhooks.md, run as written, fed by facerec."""
    import io
    import re
    import urllib.error
    import urllib.request

    from werkzeug.serving import make_server

    from .conftest import ROOT

    page = (ROOT / "docs" / "integrations" / "webhooks.md").read_text()
    (code,) = [b for b in re.findall(r"```python\n(.*?)```", page, re.S) if "verify(" in b]
    handled = []
    scope = {"SECRET": STANDARD_SECRET, "handle": handled.append, "__name__": "receiver"}
    exec(compile(code, "webhooks.md", "exec"), scope)
    receiver_app = scope["app"]
    captured = []
    inner = receiver_app.wsgi_app

    def recording(environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k[:5] == "HTTP_"
        }
        captured.append((body, {**headers, "content-type": environ.get("CONTENT_TYPE", "")}))
        environ["wsgi.input"] = io.BytesIO(body)
        return inner(environ, start_response)

    receiver_app.wsgi_app = recording
    server = make_server("127.0.0.1", 0, receiver_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/hooks/facerec"

    def send(body, headers) -> int:
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            with exc:  # an error answer holds its connection until closed
                return exc.code

    try:
        hook_id = add_hook(hook_app, url, secret=STANDARD_SECRET)
        events.publish("sighting.started", SIGHTING, app=hook_app)
        assert wait_for(lambda: handled, 10)
        rows = wait_for(lambda: deliveries(hook_app, hook_id), 10)
        assert rows[0].status_code == 204  # facerec's delivery was accepted
        assert handled == [{"event": "sighting.started", "time": handled[0]["time"],
                            "sighting": SIGHTING}]  # fmt: skip
        body, headers = captured[0]
        assert send(body, headers) == 204  # the same delivery again: acknowledged...
        assert len(handled) == 1  # ...and not handled twice
        assert send(body, {**headers, "webhook-id": "msg_replayed"}) == 400  # as a new one
        stale = {**headers, "webhook-timestamp": str(int(time.time()) - 3600)}
        assert send(body, stale) == 400
        forged = body.replace(b"lin-manuel-miranda", b"somebody-else")
        assert send(forged, headers) == 400
        assert len(handled) == 1
    finally:
        server.shutdown()
        server.server_close()


def test_does_a_webhook_that_asks_for_the_face_get_a_thumbnail_and_an_absolute_crop_url(
    app_factory, receiver, data_dir
):
    """Per webhook: one asks for the face (the CLI's --thumbnail), one does not."""
    import base64

    from facerec import faces

    from .test_notifications import sighting

    app = app_factory(
        FACEREC_ALLOW_PRIVATE_TARGETS="1", FACEREC_BASE_URL="https://facerec.example.net"
    )
    plain = Receiver()
    try:
        runner = app.test_cli_runner()
        added = runner.invoke(args=["webhooks", "add", receiver.url, "--thumbnail"])
        assert added.exit_code == 0, added.output
        add_hook(app, plain.url)
        seen = sighting(app, data_dir, photo="biden.jpg")
        events.publish("sighting.started", seen, app=app)
        (with_face,) = receiver.wait(1)
        (without,) = plain.wait(1)
        body = json.loads(with_face["body"])
        crop_url = f"https://facerec.example.net/api/v1/sightings/{seen['id']}/crop.jpg"
        assert body["sighting"]["crop_url"] == crop_url
        picture = faces.load_image(base64.b64decode(body["thumbnail"]))
        assert max(picture.shape[:2]) <= 96
        assert len(faces.detect(picture, upsample=2)) == 1  # the face, small
        other = json.loads(without["body"])
        assert "thumbnail" not in other and other["sighting"]["crop_url"] == crop_url
    finally:
        events.close(app)
        plain.close()


def test_is_the_crop_url_of_an_event_the_apis_path_without_a_base_url(hook_app, receiver):
    add_hook(hook_app, receiver.url)
    events.publish("sighting.started", SIGHTING, app=hook_app)
    (request,) = receiver.wait(1)
    assert json.loads(request["body"])["sighting"]["crop_url"] == "/api/v1/sightings/7/crop.jpg"
