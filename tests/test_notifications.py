"""Notifications through Apprise to a real SMTP server (aiosmtpd): rules, cool-down, retries,
the CLI. The clip's acceptance runs are in test_notifications_clip.py; the page's tests in
test_admin_notifications.py."""

from __future__ import annotations

import logging
import shlex
import time
from datetime import datetime
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select

from facerec import events, faces, shapes
from facerec.events.rules import Rule, RuleError, parse_days, parse_hours
from facerec.extensions import db
from facerec.models import NotificationDelivery, NotificationTarget, Sighting, utcnow

from .conftest import enroll
from .servers import wait_for

# The rules and the delivery are the subject; targets and their log are stored, so the tests
# that write them run on both databases.
pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def notify_app(app_factory):
    """Targets on loopback allowed (the SMTP server is local); retries after 0.2 and 0.4 s."""
    app = app_factory(FACEREC_ALLOW_PRIVATE_TARGETS="1", FACEREC_NOTIFY_BACKOFF="0.2,0.4")
    yield app
    events.close(app)


def add_target(app, url, *args) -> int:
    """``facerec notify add URL ARGS...`` as an administrator types it; returns the id."""
    result = app.test_cli_runner().invoke(args=["notify", "add", url, *args])
    assert result.exit_code == 0, result.output
    with app.app_context():
        return db.session.scalars(
            select(NotificationTarget.id).order_by(NotificationTarget.id.desc())
        ).first()


def sighting(app, data_dir, user_id=None, name=None, camera="main", photo="obama.jpg") -> dict:
    """A stored, open sighting with a real face crop; returns it as events carry it."""
    path = data_dir / "known" / photo
    rgb = faces.load_image(path)
    face = faces.faces_in_image(path)[0]
    with app.app_context():
        row = Sighting(camera=camera, user_id=user_id, name=name, started_at=utcnow(), frames=3)
        row.crop = faces.crop(rgb, face.box)
        db.session.add(row)
        db.session.commit()
        return shapes.sighting(row)


def log_rows(app, target_id):
    with app.app_context():
        return db.session.scalars(
            select(NotificationDelivery)
            .where(NotificationDelivery.target_id == target_id)
            .order_by(NotificationDelivery.id)
        ).all()


# ---- rules in plain words --------------------------------------------------------------


@pytest.mark.parametrize(
    "rule, words",
    [
        (
            Rule(who="unknown", cameras=frozenset({"door"}), days=parse_days("mon-fri"),
                 hours=parse_hours("08:00-18:00"), cooldown=600),
            "Unknown visitors at door, weekdays 8:00-18:00, at most one message per person "
            "and camera every 10 min",
        ),
        (
            Rule(who="anyone", excluded=frozenset({1})),
            "Anyone except obama on any camera, every day, at most one message per person "
            "and camera every 10 min",
        ),
        (
            Rule(who="people", people=frozenset({1, 2}), cameras=frozenset({"door", "gate"}),
                 days=parse_days("sat,sun"), hours=parse_hours("22:00-06:00"), cooldown=0),
            "obama and biden at door or gate, weekends 22:00-6:00, a message for every arrival",
        ),
        (
            Rule(who="known", days=parse_days("mon,wed-fri"), cooldown=3600),
            "Known people on any camera, Mon, Wed-Fri, at most one message per person and "
            "camera every 1 h",
        ),
    ],
)  # fmt: skip
def test_is_a_rule_said_in_plain_words(rule, words):
    assert rule.describe({1: "obama", 2: "biden"}) == words


MONDAY = datetime(2026, 11, 23)


@pytest.mark.parametrize(
    "hours, day, hour, expected",
    [
        ("08:00-18:00", 0, 7, False),
        ("08:00-18:00", 0, 8, True),
        ("08:00-18:00", 0, 18, False),
        ("08:00-18:00", 5, 10, False),  # Saturday: not a weekday
        ("22:00-06:00", 0, 23, True),
        ("22:00-06:00", 1, 2, True),  # Tuesday 2:00 is still Monday's night
        ("22:00-06:00", 0, 2, False),  # Monday 2:00 is Sunday's night
        ("22:00-06:00", 4, 12, False),
    ],
)
def test_do_the_days_and_hours_of_a_rule_hold(hours, day, hour, expected):
    rule = Rule(days=parse_days("mon-fri"), hours=parse_hours(hours))
    when = MONDAY.replace(day=MONDAY.day + day, hour=hour)
    assert rule.matches(None, "main", when) is expected


@pytest.mark.parametrize(
    "who, user_id, expected",
    [
        ("anyone", None, True),
        ("anyone", 1, True),
        ("known", None, False),
        ("known", 1, True),
        ("unknown", None, True),
        ("unknown", 1, False),
        ("people", 2, True),
        ("people", 1, False),
        ("people", None, False),
    ],
)
def test_does_a_rule_choose_whom_it_is_for(who, user_id, expected):
    rule = Rule(who=who, people=frozenset({2}) if who == "people" else frozenset())
    assert rule.matches(user_id, "main", MONDAY.replace(hour=12)) is expected
    never = Rule(who=who, people=rule.people, excluded=frozenset({user_id}))
    if user_id is not None:
        assert never.matches(user_id, "main", MONDAY.replace(hour=12)) is False


@pytest.mark.parametrize("text", ["monday-", "mo", "weekdays", "mon-xyz", "1-5"])
def test_are_days_that_are_not_days_refused(text):
    with pytest.raises(RuleError, match="is not a day"):
        parse_days(text)


@pytest.mark.parametrize("text", ["8", "25:00-26:00", "08:61-09:00", "8am-6pm", "08:00-08:00"])
def test_are_hours_that_are_not_hours_refused(text):
    with pytest.raises(RuleError):
        parse_hours(text)


# ---- the CLI ---------------------------------------------------------------------------


@pytest.mark.both_databases
def test_can_the_cli_add_list_test_and_remove_a_target_with_secrets_masked(
    notify_app, smtp, enroll_known
):
    enroll_known(notify_app)
    runner = notify_app.test_cli_runner()
    url = smtp.url("door@example.org").replace("mailto://", "mailto://alarm:hunter2secret@")
    result = runner.invoke(
        args=["notify", "add", url, "--who", "anyone", "--except", "obama", "--days", "mon-fri",
              "--hours", "08:00-18:00", "--cooldown", "300"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "hunter2secret" not in result.output and "****" in result.output
    assert (
        "Anyone except obama on any camera, weekdays 8:00-18:00, at most one message per "
        "person and camera every 5 min" in result.output
    )
    listing = runner.invoke(args=["notify", "list"])
    assert "hunter2secret" not in listing.output
    assert "Anyone except obama" in listing.output and "nothing sent yet" in listing.output
    # The SMTP server takes no password: drop it for the test message.
    with notify_app.app_context():
        target = db.session.scalars(select(NotificationTarget)).one()
        target.url = smtp.url("door@example.org")
        db.session.commit()
        target_id = target.id
    tested = runner.invoke(args=["notify", "test", str(target_id)])
    assert tested.exit_code == 0, tested.output
    (message,) = smtp.wait(1)
    assert message["Subject"] == "facerec test message"
    assert "last message sent" in runner.invoke(args=["notify", "list"]).output
    removed = runner.invoke(args=["notify", "remove", str(target_id)])
    assert removed.exit_code == 0 and f"Removed notification target {target_id}" in removed.output
    assert "No notification targets" in runner.invoke(args=["notify", "list"]).output
    missing = runner.invoke(args=["notify", "remove", str(target_id)])
    assert missing.exit_code != 0 and f"No notification target with id {target_id}" in (
        missing.output
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["nosuchservice://x"], "Apprise cannot use this nosuchservice:// URL"),
        # Our own sentence: Apprise would say "Invalid ~From~ email specified: " (empty).
        (["mailto://mail.example.net?to=a@example.org"], "An email URL needs the sender"),
        (["mailtos://mail.example.net?to=a@example.org"], "mailtos://user:password@"),
        # Apprise's own reason for a setting its plugin refuses.
        (
            ["mailto://me@mail.example.net?mode=weird&to=a@example.org"],
            "Apprise cannot use this mailto:// URL (The secure mode specified (weird) is invalid.)",
        ),
        ([""], "Enter the Apprise URL"),
        (["ntfys://ntfy.example.net/t", "--who", "people"], "Name the people"),
        (["ntfys://ntfy.example.net/t", "--who", "people", "--people", "nobody"], "nobody called"),
        (["ntfys://ntfy.example.net/t", "--except", "ghost"], "nobody called “ghost”"),
        (["ntfys://ntfy.example.net/t", "--cameras", "garage"], "no camera “garage”"),
        (["ntfys://ntfy.example.net/t", "--hours", "9-5pm"], "not a range of hours"),
        (["ntfys://ntfy.example.net/t", "--days", "someday"], "not a day"),
        (["ntfys://ntfy.example.net/t", "--cooldown", "soon"], "number of seconds"),
        (["ntfys://ntfy.example.net/t", "--cooldown", "-5"], "from 0 to"),
        (["ntfys://ntfy.example.net/t", "--who", "everybody"], "Invalid value"),
    ],
)
def test_is_a_bad_target_refused_with_a_reason(app, args, message):
    result = app.test_cli_runner().invoke(args=["notify", "add", *args])
    assert result.exit_code != 0
    assert message in result.output
    with app.app_context():
        assert db.session.scalars(select(NotificationTarget)).first() is None


def test_is_apprise_s_reason_given_when_its_logger_is_silenced(app, monkeypatch):
    """Running the migrations in-process once disabled every logger that existed (alembic's
    logging set-up); the reason comes from the plugin's refusal itself, not from the log."""
    monkeypatch.setattr(logging.getLogger("apprise"), "disabled", True)
    result = app.test_cli_runner().invoke(
        args=["notify", "add", "mailto://me@mail.example.net?mode=weird&to=a@example.org"]
    )
    assert result.exit_code != 0
    assert "(The secure mode specified (weird) is invalid.)" in result.output


@pytest.mark.parametrize(
    "url",
    [
        "mailto://127.0.0.1:2525?from=f@example.net&to=a@example.org&mode=insecure",
        "ntfy://localhost/topic",
        "json://10.1.2.3/hook",
        "gotify://169.254.169.254/token",
    ],
)
def test_is_a_target_on_a_private_address_refused_unless_allowed(app_factory, url):
    """FACEREC_ALLOW_PRIVATE_TARGETS (the outbound rule webhooks use) decides."""
    app = app_factory()
    refused = app.test_cli_runner().invoke(args=["notify", "add", url])
    assert refused.exit_code != 0 and "FACEREC_ALLOW_PRIVATE_TARGETS" in refused.output
    allowed = app_factory(FACEREC_ALLOW_PRIVATE_TARGETS="1")
    assert allowed.test_cli_runner().invoke(args=["notify", "add", url]).exit_code == 0


# ---- delivery --------------------------------------------------------------------------


def test_does_a_message_carry_the_name_camera_time_link_and_the_face(app_factory, smtp, data_dir):
    app = app_factory(
        FACEREC_ALLOW_PRIVATE_TARGETS="1", FACEREC_BASE_URL="https://facerec.example.net/"
    )
    try:
        obama = enroll(app, "obama", data_dir / "known" / "obama.jpg")
        add_target(app, smtp.url("me@example.org"))
        seen = sighting(app, data_dir, obama, "obama")
        events.publish("sighting.started", seen, app=app)
        (message,) = smtp.wait(1)
        assert message["Subject"] == "obama at main"
        text = message.get_body(("plain",)).get_content()
        started = datetime.fromisoformat(seen["started_at"].replace("Z", "+00:00")).astimezone()
        assert f"obama was seen at main at {started:%H:%M:%S} on {started:%a %d %b %Y}" in text
        link = f"https://facerec.example.net/history?camera=main&before_id={seen['id'] + 1}"
        assert link in text
        (attachment,) = list(message.iter_attachments())
        assert attachment.get_content_type() == "image/jpeg"
        photo = attachment.get_content()
        found = faces.faces_in_image(photo)
        assert len(found) == 1  # the face itself, decodable
    finally:
        events.close(app)


def test_is_an_unknown_face_an_unknown_visitor_and_a_face_left_out_when_asked(
    notify_app, smtp, data_dir
):
    add_target(notify_app, smtp.url("me@example.org"), "--no-face")
    events.publish("sighting.started", sighting(notify_app, data_dir), app=notify_app)
    (message,) = smtp.wait(1)
    assert message["Subject"] == "Unknown visitor at main"
    assert "Unknown visitor was seen at main" in message.get_body(("plain",)).get_content()
    assert not list(message.iter_attachments())


def test_is_one_message_sent_per_arrival_within_the_cooldown(notify_app, smtp, data_dir):
    """Per person and camera: the same person again at the same camera is held back; at
    another camera, or another person, is not; updates of a sighting never send again."""
    obama = enroll(notify_app, "obama", data_dir / "known" / "obama.jpg")
    biden = enroll(notify_app, "biden", data_dir / "known" / "biden.jpg")
    add_target(notify_app, smtp.url(), "--cooldown", "600")
    first = sighting(notify_app, data_dir, obama, "obama")
    events.publish("sighting.started", first, app=notify_app)
    events.publish("sighting.updated", first, app=notify_app)
    events.publish("sighting.started", sighting(notify_app, data_dir, obama, "obama"),
                   app=notify_app)  # fmt: skip
    events.publish("sighting.started", sighting(notify_app, data_dir, biden, "biden"),
                   app=notify_app)  # fmt: skip
    events.publish("sighting.started", sighting(notify_app, data_dir, obama, "obama", "gate"),
                   app=notify_app)  # fmt: skip
    smtp.wait(3)
    assert notify_app.extensions["events"].flush(5)
    time.sleep(0.5)
    assert sorted(m["Subject"] for _at, m, _r in smtp.messages) == [
        "biden at main",
        "obama at gate",
        "obama at main",
    ]
    assert notify_app.extensions["notifications"].suppressed == 1
    # /metrics says so too.
    from .conftest import login_client
    from .test_monitoring import scrape, value

    assert wait_for(lambda: notify_app.extensions["notifications"].lanes.delivered == 3, 5)
    samples = scrape(login_client(notify_app, notify_app.test_client()))
    assert value(samples, "facerec_notifications_total", result="success") == 3
    assert value(samples, "facerec_notifications_suppressed_total") == 1
    assert value(samples, "facerec_notifications_pending") == 0


def test_does_a_track_that_ended_unknown_and_was_enrolled_later_not_send_twice(
    notify_app, smtp, data_dir
):
    add_target(notify_app, smtp.url(), "--cooldown", "0")
    seen = sighting(notify_app, data_dir)
    events.publish("sighting.started", seen, app=notify_app)
    assert smtp.wait(1)[0]["Subject"] == "Unknown visitor at main"
    ended = {**seen, "ended_at": "2026-11-26T06:01:00Z"}
    events.publish("sighting.ended", ended, app=notify_app)
    # Enrolled later: the sighting now names the new person (an updated, ended sighting).
    ana = enroll(notify_app, "obama", data_dir / "known" / "obama.jpg")
    with notify_app.app_context():
        row = db.session.get(Sighting, seen["id"])
        row.user_id, row.name = ana, "obama"
        db.session.commit()
    events.publish("sighting.updated", {**ended, "user_id": ana, "name": "obama"},
                   app=notify_app)  # fmt: skip
    assert notify_app.extensions["events"].flush(5)
    time.sleep(0.5)
    assert len(smtp.messages) == 1


def test_does_a_rule_outside_its_hours_send_nothing(notify_app, smtp, data_dir):
    notifier = notify_app.extensions["notifications"]
    add_target(notify_app, smtp.url(), "--hours", "08:00-18:00", "--days", "mon-fri",
               "--cooldown", "0")  # fmt: skip
    notifier.clock = lambda: datetime(2026, 11, 23, 20, 0).astimezone()  # Monday 20:00
    events.publish("sighting.started", sighting(notify_app, data_dir), app=notify_app)
    notifier.clock = lambda: datetime(2026, 11, 28, 10, 0).astimezone()  # Saturday 10:00
    events.publish("sighting.started", sighting(notify_app, data_dir), app=notify_app)
    assert notify_app.extensions["events"].flush(5)
    time.sleep(0.5)
    assert smtp.messages == []
    notifier.clock = lambda: datetime(2026, 11, 23, 10, 0).astimezone()  # Monday 10:00
    events.publish("sighting.started", sighting(notify_app, data_dir), app=notify_app)
    assert len(smtp.wait(1)) == 1


@pytest.mark.both_databases
def test_is_a_target_that_fails_retried_with_backoff_and_logged(notify_app, smtp, data_dir):
    target = add_target(notify_app, smtp.url())
    smtp.stop()  # the mail server is down
    events.publish("sighting.started", sighting(notify_app, data_dir), app=notify_app)
    rows = wait_for(lambda: len(log_rows(notify_app, target)) >= 3 and log_rows(notify_app, target))
    assert [(r.attempt, r.ok) for r in rows] == [(1, False), (2, False), (3, False)]
    assert all("not sent" in r.error for r in rows)
    notifier = notify_app.extensions["notifications"]
    assert wait_for(lambda: notifier.lanes.gave_up == 1, 10)
    with notify_app.app_context():
        health = notifier.health()
    assert health["notifications"][0]["status"] == "warn"


def test_does_a_failing_target_recover_on_a_retry(notify_app, smtp, data_dir):
    target = add_target(notify_app, smtp.url())
    smtp.stop()
    events.publish("sighting.started", sighting(notify_app, data_dir), app=notify_app)
    assert wait_for(lambda: log_rows(notify_app, target), 10)
    smtp.start()  # back, on the same port
    assert len(smtp.wait(1, timeout=10)) == 1
    rows = wait_for(lambda: any(r.ok for r in log_rows(notify_app, target)) and log_rows(
        notify_app, target), 10)  # fmt: skip
    assert rows[0].ok is False and rows[-1].ok is True and rows[-1].attempt > 1


def test_do_the_documented_notify_commands_say_what_the_docs_say(app):
    """The `facerec notify` lines of docs/integrations/notifications.md, in order, on one
    database (tests/test_docs_commands.py runs them from a fresh clone; this checks what
    they answer): the rule in plain words, the URL's secrets masked."""
    import re

    from .conftest import ROOT

    page = (ROOT / "docs" / "integrations" / "notifications.md").read_text()
    lines = [
        line
        for block in re.findall(r"```sh\n(.*?)```", page, re.S)
        for line in block.strip().splitlines()
    ]
    assert len(lines) == 5 and all(line.startswith(".venv/bin/facerec notify ") for line in lines)
    runner = app.test_cli_runner()
    outputs = []
    for line in lines:
        args = shlex.split(line)[1:]
        done = runner.invoke(args=args)
        assert done.exit_code == 0, f"{line}\n{done.output}"
        outputs.append(done.output)
    added, listed, removed, ntfy, email = outputs
    assert "Notification target 1 added: ntfys://ntfy.sh/front-door-4f9c2a" in added
    shown = re.search(r"```text\n(.*?)```", page, re.S).group(1)
    assert listed.strip() == shown.strip()  # the page shows what `notify list` prints
    assert "Removed notification target 1" in removed
    assert "Unknown visitors at main, every day, at most one message per person and camera " \
        "every 5 min" in ntfy  # fmt: skip
    assert "Known people on any camera, weekdays 8:00-18:00" in email
    assert "app-password" not in email and "alerts:****@example.com" in email


class NtfyServer:
    """An HTTP server on loopback that takes what Apprise's ntfy:// sends, as ntfy's publish
    API does (the attachment as the body of a request to /TOPIC, the title, message and file
    name as query parameters or X- headers) and answers as ntfy does. ntfy's own server is a
    Go program that neither Debian nor the package registries ship, so the test takes the
    requests in its place."""

    def __init__(self):
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[dict] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def _take(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body,
                    }
                )
                answer = json.dumps({"id": "x1", "event": "message", "topic": "front-door"})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer.encode())

            do_PUT = do_POST = _take

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_does_an_ntfy_target_send_the_face_with_the_title_and_message(notify_app, data_dir):
    """The docs' ntfy example with a self-hosted server: `ntfy://HOST:PORT/TOPIC`, the face
    attached (a JPEG that holds it), the title and the message as ntfy takes them."""
    server = NtfyServer()
    try:
        obama = enroll(notify_app, "obama", data_dir / "known" / "obama.jpg")
        add_target(notify_app, f"ntfy://127.0.0.1:{server.port}/front-door")
        events.publish("sighting.started", sighting(notify_app, data_dir, obama, "obama"),
                       app=notify_app)  # fmt: skip
        assert wait_for(lambda: server.requests, 10)
        (sent,) = server.requests
    finally:
        server.close()
    # ntfy's publish API: the attachment as the body, the rest as query parameters.
    path, _, query = sent["path"].partition("?")
    said = parse_qs(query)
    assert sent["method"] in ("PUT", "POST") and path == "/front-door"
    assert said["title"] == ["obama at main"]
    assert said["message"][0].startswith("obama was seen at main at ")
    assert said["filename"][0].endswith(".jpg")
    assert len(faces.faces_in_image(sent["body"])) == 1  # the face itself


def test_does_a_rule_for_some_cameras_send_nothing_about_another(notify_app, smtp, data_dir):
    """Where: a target for `door` hears of a visitor at door, not of one at main."""
    from .conftest import CLIP, add_camera

    add_camera(notify_app, "door", CLIP)
    add_target(notify_app, smtp.url(), "--cameras", "door", "--cooldown", "0")
    events.publish("sighting.started", sighting(notify_app, data_dir, camera="main"),
                   app=notify_app)  # fmt: skip
    events.publish("sighting.started", sighting(notify_app, data_dir, camera="door"),
                   app=notify_app)  # fmt: skip
    smtp.wait(1)
    assert notify_app.extensions["events"].flush(5)
    assert wait_for(lambda: notify_app.extensions["notifications"].lanes.pending == 0, 10)
    assert [m["Subject"] for _at, m, _r in smtp.messages] == ["Unknown visitor at door"]
