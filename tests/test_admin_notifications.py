"""/admin/notifications: add, test, disable, remove targets; secrets masked; administrators only."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from facerec import events
from facerec.extensions import db
from facerec.models import NotificationTarget

from .conftest import create_account, enroll, login_client
from .servers import wait_for
from .test_notifications import add_target, log_rows, sighting

pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def page_app(app_factory):
    app = app_factory(FACEREC_ALLOW_PRIVATE_TARGETS="1", FACEREC_NOTIFY_BACKOFF="0.2,0.4")
    yield app
    events.close(app)


@pytest.fixture
def admin(page_app):
    """The first account (the administrator), signed in."""
    return login_client(page_app, page_app.test_client())


def test_can_only_an_admin_open_the_notifications_page_and_see_its_link(page_app, admin):
    anonymous = page_app.test_client().get("/admin/notifications")
    assert anonymous.status_code == 302 and "/login" in anonymous.location
    assert admin.get("/admin/notifications").status_code == 200
    create_account(page_app, "otto", role="operator")
    other = login_client(page_app, page_app.test_client(), "otto")
    for method, path in (
        ("get", "/admin/notifications"),
        ("post", "/admin/notifications"),
        ("post", "/admin/notifications/1/test"),
        ("post", "/admin/notifications/1/toggle"),
        ("post", "/admin/notifications/1/delete"),
    ):
        response = getattr(other, method)(path)
        assert response.status_code == 403, (method, path)
        assert "admin role" in response.get_data(as_text=True)
    assert 'href="/admin/notifications"' not in other.get("/history").get_data(as_text=True)
    assert 'href="/admin/notifications"' in admin.get("/history").get_data(as_text=True)


@pytest.mark.both_databases
def test_does_the_page_add_a_target_and_say_its_rule_in_plain_words(page_app, admin, data_dir):
    enroll(page_app, "obama", data_dir / "known" / "obama.jpg")
    page = admin.get("/admin/notifications").get_data(as_text=True)
    assert "No notification targets yet" in page
    response = admin.post(
        "/admin/notifications",
        data={
            "url": "ntfys://alice:s3cretpass@ntfy.example.net/door",
            "who": "anyone",
            "excluded": "obama",
            "days": ["mon", "tue", "wed", "thu", "fri"],
            "hours": "08:00-18:00",
            "cooldown": "10",
            "attach": "y",
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "Anyone except obama on any camera, weekdays 8:00-18:00, at most one message per " \
        "person and camera every 10 min" in text  # fmt: skip
    assert "s3cretpass" not in text and "ntfys://alice:****@ntfy.example.net/door" in text
    assert "With the face attached" in text
    with page_app.app_context():
        target = db.session.scalars(select(NotificationTarget)).one()
        assert (target.days, target.start_minute, target.end_minute, target.cooldown) == (
            "1111100",
            480,
            1080,
            600,
        )


@pytest.mark.parametrize(
    "data, message",
    [
        ({"url": "", "who": "anyone"}, "Enter the Apprise URL"),
        ({"url": "nosuch://x", "who": "anyone"}, "Apprise cannot use this nosuch:// URL"),
        ({"url": "ntfys://ntfy.example.net/t", "who": "people"}, "Name the people"),
        ({"url": "ntfys://ntfy.example.net/t", "who": "anyone", "hours": "9 to 5"},
         "not a range of hours"),
        ({"url": "ntfys://ntfy.example.net/t", "who": "anyone", "cooldown": "soon"},
         "number of minutes"),
        ({"url": "ntfys://ntfy.example.net/t", "who": "anyone", "excluded": "nobody"},
         "nobody called"),
    ],
)  # fmt: skip
def test_does_the_page_refuse_a_bad_target_and_keep_what_was_typed(page_app, admin, data, message):
    response = admin.post("/admin/notifications", data=data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    if data["url"]:
        assert data["url"] in page  # kept in the form, to correct
    with page_app.app_context():
        assert db.session.scalars(select(NotificationTarget)).first() is None


def test_does_the_page_refuse_a_private_address_unless_allowed(app_factory):
    app = app_factory()
    client = login_client(app, app.test_client())
    response = client.post(
        "/admin/notifications", data={"url": "json://192.168.1.20/hook", "who": "anyone"}
    )
    assert response.status_code == 400
    assert "FACEREC_ALLOW_PRIVATE_TARGETS" in response.get_data(as_text=True)


def test_does_the_page_need_a_csrf_token(app_factory):
    app = app_factory(WTF_CSRF_ENABLED=True)
    client = login_client(app, app.test_client())
    response = client.post("/admin/notifications", data={"url": "ntfys://ntfy.sh/t"})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalars(select(NotificationTarget)).first() is None


def test_does_send_test_deliver_now_and_say_so(page_app, admin, smtp):
    target = add_target(page_app, smtp.url())
    flashed = admin.post(f"/admin/notifications/{target}/test", follow_redirects=True)
    assert "Test message sent to mailto://127.0.0.1" in flashed.get_data(as_text=True)
    (message,) = smtp.wait(1)
    assert message["Subject"] == "facerec test message"
    page = admin.get("/admin/notifications").get_data(as_text=True)
    assert "test message" in page and ">sent<" in page


def test_does_the_page_show_a_failing_target_and_its_retries(page_app, admin, smtp, data_dir):
    target = add_target(page_app, smtp.url())
    smtp.stop()
    events.publish("sighting.started", sighting(page_app, data_dir), app=page_app)
    assert wait_for(lambda: len(log_rows(page_app, target)) >= 3, 15)
    page = admin.get("/admin/notifications").get_data(as_text=True)
    assert page.count(">failed<") == 3
    assert "Unknown visitor at main" in page and "not sent" in page
    flashed = admin.post(f"/admin/notifications/{target}/test", follow_redirects=True)
    assert "Test message to mailto://127.0.0.1" in flashed.get_data(as_text=True)
    assert "not sent" in flashed.get_data(as_text=True)


@pytest.mark.both_databases
def test_can_the_page_disable_enable_and_remove_a_target(page_app, admin):
    target = add_target(page_app, "ntfys://ntfy.example.net/door")
    admin.post(f"/admin/notifications/{target}/toggle")
    with page_app.app_context():
        assert db.session.get(NotificationTarget, target).enabled is False
    admin.post(f"/admin/notifications/{target}/toggle")
    with page_app.app_context():
        assert db.session.get(NotificationTarget, target).enabled is True
    removed = admin.post(f"/admin/notifications/{target}/delete", follow_redirects=True)
    assert "Removed the notification target ntfys://ntfy.example.net/door" in (
        removed.get_data(as_text=True)
    )
    with page_app.app_context():
        assert db.session.get(NotificationTarget, target) is None
    assert admin.post(f"/admin/notifications/{target}/delete").status_code == 404


def test_is_a_disabled_target_sent_nothing(page_app, admin, smtp, data_dir):
    target = add_target(page_app, smtp.url(), "--cooldown", "0")
    admin.post(f"/admin/notifications/{target}/toggle")
    events.publish("sighting.started", sighting(page_app, data_dir), app=page_app)
    assert page_app.extensions["events"].flush(5)
    admin.post(f"/admin/notifications/{target}/toggle")
    events.publish("sighting.started", sighting(page_app, data_dir), app=page_app)
    assert len(smtp.wait(1)) == 1
    assert page_app.extensions["events"].flush(5)
    assert len(smtp.messages) == 1


def audit_trail(app) -> list[tuple[str, str | None, str | None]]:
    """The audit entries about webhooks and notification targets, oldest first."""
    from facerec.models import AuditEntry

    with app.app_context():
        rows = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        return [
            (r.action, r.object_name, r.actor)
            for r in rows
            if r.action.startswith(("webhook.", "notification."))
        ]


@pytest.mark.both_databases
def test_is_every_change_to_targets_on_the_audit_trail_with_the_url_masked(page_app, admin):
    admin.post(
        "/admin/notifications",
        data={"url": "ntfys://alice:s3cret@ntfy.example.net/door", "who": "unknown"},
    )
    with page_app.app_context():
        target = db.session.scalars(select(NotificationTarget)).one().id
    admin.post(f"/admin/notifications/{target}/toggle")
    admin.post(f"/admin/notifications/{target}/toggle")
    admin.post(f"/admin/notifications/{target}/delete")
    runner = page_app.test_cli_runner()
    added = runner.invoke(args=["notify", "add", "ntfys://ntfy.example.net/gate"])
    second = re.search(r"Notification target (\d+) added", added.output).group(1)
    assert runner.invoke(args=["notify", "remove", second]).exit_code == 0
    shown = "ntfys://alice:****@ntfy.example.net/door"
    trail = audit_trail(page_app)
    assert [(action, name) for action, name, _who in trail] == [
        ("notification.added", shown),
        ("notification.disabled", shown),
        ("notification.enabled", shown),
        ("notification.removed", shown),
        ("notification.added", "ntfys://ntfy.example.net/gate"),
        ("notification.removed", "ntfys://ntfy.example.net/gate"),
    ]
    assert trail[0][2] == "tester" and trail[-1][2] != "tester"  # the page, then the CLI
    assert "s3cret" not in str(trail)


@pytest.mark.both_databases
def test_is_every_change_to_webhooks_on_the_audit_trail(page_app, admin):
    from facerec.models import Webhook

    admin.post("/admin/webhooks", data={"url": "https://hooks.example.net/a", "secret": "k"})
    with page_app.app_context():
        hook = db.session.scalars(select(Webhook)).one().id
    admin.post(f"/admin/webhooks/{hook}/toggle")
    admin.post(f"/admin/webhooks/{hook}/delete")
    runner = page_app.test_cli_runner()
    added = runner.invoke(args=["webhooks", "add", "https://hooks.example.net/b", "--thumbnail"])
    second = re.search(r"Webhook (\d+) added", added.output).group(1)
    assert runner.invoke(args=["webhooks", "remove", second]).exit_code == 0
    assert [(action, name) for action, name, _who in audit_trail(page_app)] == [
        ("webhook.added", "https://hooks.example.net/a"),
        ("webhook.disabled", "https://hooks.example.net/a"),
        ("webhook.removed", "https://hooks.example.net/a"),
        ("webhook.added", "https://hooks.example.net/b"),
        ("webhook.removed", "https://hooks.example.net/b"),
    ]


def test_does_a_failing_targets_password_appear_nowhere(page_app, admin, smtp, data_dir, caplog):
    """A target with a password whose service is down: its failures are logged and shown, and
    the password is in none of it (the page, the delivery log, the server's log, the audit)."""
    from facerec.models import AuditEntry

    caplog.set_level("DEBUG")
    password = "hunter2secret"
    url = smtp.url("me@example.org").replace("mailto://", f"mailto://alarm:{password}@")
    added = admin.post(
        "/admin/notifications", data={"url": url, "who": "anyone", "cooldown": "0", "attach": "y"}
    )
    assert added.status_code == 302, added.get_data(as_text=True)[:300]
    smtp.stop()  # the mail server is down: every attempt fails
    events.publish("sighting.started", sighting(page_app, data_dir), app=page_app)
    with page_app.app_context():
        (target,) = db.session.scalars(db.select(NotificationTarget)).all()
    assert wait_for(lambda: len(log_rows(page_app, target.id)) >= 3, 30)
    page = admin.get("/admin/notifications").get_data(as_text=True)
    assert "alarm:****@" in page and "not sent" in page
    with page_app.app_context():
        audit = " ".join(f"{e.object_name} {e.details}" for e in db.session.scalars(
            db.select(AuditEntry)))  # fmt: skip
    errors = " ".join(r.error or "" for r in log_rows(page_app, target.id))
    for text in (page, errors, caplog.text, audit):
        assert password not in text
