"""Outbound connections to typed-in addresses: loopback, link-local and private refused."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request

import pytest
from sqlalchemy import select

from facerec import outbound
from facerec.extensions import db
from facerec.models import Webhook, WebhookDelivery

from .receivers import Receiver, closed_port_url
from .servers import wait_for

# On SQLite alone (see conftest.py): the rule is about addresses; webhooks are stored alike.
pytestmark = pytest.mark.sqlite_only

REFUSED_URLS = [
    ("http://127.0.0.1:8080/hook", "loopback"),
    ("http://0.0.0.0/hook", "unspecified"),
    ("http://[::1]/hook", "loopback"),
    ("http://2130706433/hook", "loopback"),  # 127.0.0.1 written as one number
    ("http://0x7f000001/hook", "loopback"),
    ("http://127.1/hook", "loopback"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),  # the cloud metadata service
    ("http://localhost:5000/hook", "loopback"),
    ("http://[::ffff:127.0.0.1]/hook", "loopback"),
    ("http://10.1.2.3/hook", "private"),
    ("https://192.168.1.20/hook", "private"),
]


def stored_webhooks(app) -> list[Webhook]:
    with app.app_context():
        return db.session.execute(select(Webhook)).scalars().all()


@pytest.mark.parametrize(("url", "kind"), REFUSED_URLS)
def test_is_a_webhook_to_a_loopback_link_local_or_private_address_refused_on_the_page(
    app, client, url, kind
):
    response = client.post("/admin/webhooks", data={"url": url})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert f"is a {kind} address" in page or f"is an {kind} address" in page
    assert "FACEREC_ALLOW_PRIVATE_TARGETS" in page
    assert stored_webhooks(app) == []


@pytest.mark.parametrize("url", ["http://[::1]:9/hook", "http://2130706433/hook"])
def test_is_a_webhook_to_loopback_refused_by_the_cli_too(app, runner, url):
    result = runner.invoke(args=["webhooks", "add", url])
    assert result.exit_code != 0
    assert "loopback address" in result.output
    assert stored_webhooks(app) == []


def test_does_allow_private_targets_1_let_a_home_address_in(app_factory):
    from .conftest import login_client

    app = app_factory(FACEREC_ALLOW_PRIVATE_TARGETS="1")
    client = login_client(app, app.test_client())
    for url in ("http://192.168.1.20:8123/api/webhook/door", "http://127.0.0.1:9/hook"):
        assert client.post("/admin/webhooks", data={"url": url}).status_code in (302, 303)
    assert len(stored_webhooks(app)) == 2


def test_does_a_list_of_allowed_addresses_let_only_those_in(app_factory):
    from .conftest import login_client

    app = app_factory(FACEREC_ALLOW_PRIVATE_TARGETS="192.168.1.20, 10.8.0.0/16")
    client = login_client(app, app.test_client())
    for url in ("http://192.168.1.20:8123/hook", "http://10.8.3.4/hook"):
        assert client.post("/admin/webhooks", data={"url": url}).status_code in (302, 303)
    for url in ("http://192.168.1.21/hook", "http://127.0.0.1/hook", "http://10.9.0.1/hook"):
        assert client.post("/admin/webhooks", data={"url": url}).status_code == 400
    assert [hook.url for hook in stored_webhooks(app)] == [
        "http://192.168.1.20:8123/hook",
        "http://10.8.3.4/hook",
    ]


def test_does_a_mistyped_allow_list_stop_the_server_with_a_clear_reason(app_factory):
    with pytest.raises(RuntimeError, match="not an address or network"):
        app_factory(FACEREC_ALLOW_PRIVATE_TARGETS="192.168.1.300")


def store_unchecked(app, url: str) -> int:
    """A webhook row written as if its host had resolved elsewhere when it was added."""
    with app.app_context():
        hook = Webhook(url=url, events="")
        db.session.add(hook)
        db.session.commit()
        return hook.id


def test_is_a_delivery_to_loopback_refused_when_it_connects(app):
    from facerec import events

    receiver = Receiver()
    try:
        hook_id = store_unchecked(app, receiver.url)
        events.publish("sighting.started", {"id": 1}, app=app)

        def logged():
            with app.app_context():
                return db.session.execute(
                    select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook_id)
                ).scalar()

        row = wait_for(logged, timeout=10)
        assert row is not None and row.status_code is None
        assert row.error.startswith("refused:") and "loopback" in row.error
        assert receiver.requests == []
    finally:
        events.close(app)
        receiver.close()


def test_does_send_test_say_not_sent_for_a_refused_address(app, client):
    receiver = Receiver()
    try:
        hook_id = store_unchecked(app, receiver.url)
        page = client.post(f"/admin/webhooks/{hook_id}/test", follow_redirects=True)
        text = page.get_data(as_text=True)
        assert "Test not sent" in text and "loopback address" in text
        assert receiver.requests == []
    finally:
        receiver.close()


def test_does_send_test_say_reachable_or_not_and_never_the_peers_error(app_factory):
    from .conftest import login_client

    app = app_factory(FACEREC_ALLOW_PRIVATE_TARGETS="1")
    client = login_client(app, app.test_client())
    receiver = Receiver(status=404)
    try:
        found = store_unchecked(app, receiver.url)
        closed = store_unchecked(app, closed_port_url())
        text = client.post(f"/admin/webhooks/{found}/test", follow_redirects=True).get_data(
            as_text=True
        )
        assert f"Test failed: {receiver.url} is reachable but answered 404." in text
        text = client.post(f"/admin/webhooks/{closed}/test", follow_redirects=True).get_data(
            as_text=True
        )
        assert "is not reachable." in text
        assert "refused" not in text.lower() and "errno" not in text.lower()
    finally:
        receiver.close()


def test_is_a_redirect_to_loopback_refused_on_the_way(app_factory):
    """The first address is allowed, the one it redirects to is not: the second connection
    is refused, whatever client library follows the redirect (here urllib)."""
    target = Receiver()
    first = Receiver(host="127.0.0.2")
    first.location = target.url
    try:
        app = app_factory(FACEREC_ALLOW_PRIVATE_TARGETS="127.0.0.2")
        with (
            outbound.guarded(app=app),
            pytest.raises(urllib.error.URLError) as refused,
        ):
            urllib.request.urlopen(first.url, timeout=5)
        assert isinstance(refused.value.reason, outbound.TargetRefused)
        assert "127.0.0.1 is a loopback address" in str(refused.value.reason)
        assert len(first.requests) == 1 and target.requests == []

        both = app_factory(FACEREC_ALLOW_PRIVATE_TARGETS="127.0.0.2,127.0.0.1")
        with outbound.guarded(app=both), urllib.request.urlopen(first.url, timeout=5) as answer:
            assert answer.status == 200
        assert len(target.requests) == 1
    finally:
        first.close()
        target.close()


def test_does_the_guard_leave_other_threads_alone(app):
    """The MQTT client, the database and every connection the administrator configured run
    in other threads: a guarded delivery never refuses them."""
    receiver = Receiver()
    inside, started, done = threading.Event(), threading.Event(), []
    try:

        def other_thread():
            started.set()
            inside.wait(5)
            with urllib.request.urlopen(receiver.url, timeout=5) as answer:
                done.append(answer.status)

        thread = threading.Thread(target=other_thread)
        thread.start()
        started.wait(5)
        with outbound.guarded(app=app):
            inside.set()
            thread.join(10)
            with pytest.raises(urllib.error.URLError):
                urllib.request.urlopen(receiver.url, timeout=5)
        assert done == [200]
        # Outside the block this thread connects freely again.
        with urllib.request.urlopen(receiver.url, timeout=5) as answer:
            assert answer.status == 200
    finally:
        receiver.close()


@pytest.mark.parametrize(
    ("ip", "lan", "expected"),
    [
        ("8.8.8.8", False, None),
        ("2001:4860:4860::8888", False, None),
        ("192.168.1.20", False, "a private address"),
        ("192.168.1.20", True, None),  # a camera on the local network
        ("100.64.0.1", False, "a private address"),  # carrier-grade NAT space
        ("127.0.0.1", True, "a loopback address (this server itself)"),
        ("0.0.0.0", True, "an unspecified address (it means this server)"),
        ("::", True, "an unspecified address (it means this server)"),
        ("169.254.169.254", True, "a link-local address"),
        ("fe80::1%eth0", True, "a link-local address"),
        ("::ffff:169.254.169.254", True, "a link-local address"),
        ("224.0.0.1", True, "a multicast address"),
    ],
)
def test_which_addresses_does_the_rule_refuse(ip, lan, expected):
    assert outbound.problem(ip, lan=lan) == expected
