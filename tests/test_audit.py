"""The audit trail: who changed what and when, on record by itself or through audit.record."""

import gc
import json

import pytest
from sqlalchemy.exc import IntegrityError

from facerec import audit
from facerec.extensions import db
from facerec.models import Account, AuditEntry, Camera, User

from .conftest import DATA, TEST_PASSWORD, create_account, enroll, login_client
from .test_api import API
from .test_unknowns import groups_json, visitors


def entries(app, action_prefix: str = "") -> list[AuditEntry]:
    with app.app_context():
        rows = db.session.scalars(db.select(AuditEntry).order_by(AuditEntry.id)).all()
        for row in rows:
            db.session.expunge(row)
    return [r for r in rows if r.action.startswith(action_prefix)]


def details(entry: AuditEntry) -> dict:
    return json.loads(entry.details)


def test_does_the_audit_show_an_operator_enrolling_a_visitor_and_an_admin_deleting_them(app):
    """The acceptance case: who, the group, the new person; then the delete, with the name."""
    create_account(app, "otto", role="operator")
    operator = login_client(app, app.test_client(), "otto")
    visitors(app)
    kit = next(g for g in groups_json(operator) if g["sightings"] == 3)
    made = operator.post(f"{API}/unknowns/{kit['id']}/enroll", json={"name": "Kit Harington"})
    assert made.status_code == 201
    person_id = made.get_json()["id"]

    admin = login_client(app, app.test_client(), "ada")
    assert admin.delete(f"{API}/users/{person_id}").status_code == 204

    enrolled = entries(app, "unknown.enrolled")[0]
    assert (enrolled.actor, enrolled.object_type, enrolled.object_id) == (
        "otto",
        "unknown_group",
        kit["id"],
    )
    assert details(enrolled)["person_id"] == person_id
    assert details(enrolled)["person"] == "Kit Harington"
    created = entries(app, "person.created")[0]
    assert (created.actor, created.object_id, created.object_name) == (
        "otto",
        person_id,
        "Kit Harington",
    )
    assert len(entries(app, "sample.added")) == 3
    deleted = entries(app, "person.deleted")[0]
    assert (deleted.actor, deleted.object_id, deleted.object_name) == (
        "ada",
        person_id,
        "Kit Harington",
    )
    assert deleted.address == "127.0.0.1"


def test_is_a_rename_on_record_with_the_old_and_the_new_name(app, client):
    person = enroll(app, "Barack", DATA / "known" / "obama.jpg")
    assert client.patch(f"{API}/users/{person}", json={"name": "Barack Obama"}).status_code == 200
    renamed = entries(app, "person.renamed")[0]
    assert details(renamed) == {"from": "Barack", "to": "Barack Obama"}
    assert renamed.actor == "tester"


def test_does_a_token_appear_as_the_token_and_its_account(app):
    from facerec.auth.accounts import create_token

    create_account(app, "otto", role="operator")
    with app.app_context():
        otto = db.session.execute(db.select(Account).filter_by(username="otto")).scalar_one()
        _row, token = create_token("door display", otto)
        db.session.commit()
    answer = app.test_client().post(
        f"{API}/users", json={"name": "Ada"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 201
    created = entries(app, "person.created")[0]
    assert created.actor == "token “door display” of otto"
    assert created.token_id is not None


def test_does_the_command_line_say_so(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["accounts", "create", "ada", "--password-stdin"], input="pw-123456\n")
    made = entries(app, "account.created")[0]
    assert made.actor.startswith("command line")
    assert details(made) == {"role": "admin", "cameras": []}


def test_are_secrets_never_written_into_the_audit(app, client):
    client.post("/admin/webhooks", data={"url": "https://hooks.example.net/a", "secret": "s3cr3t"})
    with app.app_context():
        camera = Camera(name="door", source="rtsp://admin:Pa55word@192.0.2.10/stream1")
        db.session.add(camera)
        db.session.commit()
        camera.source = "rtsp://admin:N3wPass@192.0.2.10/stream1"
        db.session.commit()
    text = " ".join(f"{e.object_name} {e.details}" for e in entries(app))
    for secret in ("s3cr3t", "Pa55word", "N3wPass"):
        assert secret not in text
    changed = entries(app, "camera.changed")[0]
    assert details(changed) == {"source": "changed"}


def test_are_a_failed_change_and_its_entry_both_rolled_back(app):
    """The entry is part of the change's transaction: no entry for what did not happen."""
    with app.app_context():
        db.session.add(User(name="Ada", details=""))
        db.session.commit()
        db.session.add(User(name="ada", details=""))  # the same name, another case
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
    assert [e.object_name for e in entries(app, "person.created")] == ["Ada"]


def test_does_record_refuse_an_action_it_cannot_store(app):
    with app.app_context(), pytest.raises(ValueError, match="1 to 60 characters"):
        audit.record("x" * 61)


# ---- reading the audit: the page, its CSV, the API ---------------------------------------------


def test_does_the_api_page_the_audit_newest_first_with_filters(app, client):
    for name in ("Ada", "Grace", "Kit"):
        client.post(f"{API}/users", json={"name": name})
    first = client.get(f"{API}/audit?action=person&limit=2").get_json()
    assert [e["object_name"] for e in first["entries"]] == ["Kit", "Grace"]
    assert set(first["entries"][0]) == {
        "id", "time", "actor", "address", "action", "object_type", "object_id",
        "object_name", "details",
    }  # fmt: skip
    rest = client.get(f"{API}/audit?action=person&before_id={first['next_before_id']}").get_json()
    assert [e["object_name"] for e in rest["entries"]] == ["Ada"]
    assert rest["next_before_id"] is None
    assert client.get(f"{API}/audit?action=camera").get_json()["entries"] == []
    assert client.get(f"{API}/audit?actor=TEST").get_json()["entries"][0]["actor"] == "tester"
    bad = client.get(f"{API}/audit?since=yesterday")
    assert bad.status_code == 422 and "since" in bad.get_json()["error"]


def test_does_the_audit_page_filter_and_export_csv(app, client):
    client.post(f"{API}/users", json={"name": "=HYPERLINK(1)"})
    client.post(f"{API}/users", json={"name": "Grace"})
    page = client.get("/admin/audit?action=person.created")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert html.count('data-action="person.created"') == 2 and "“Grace”" in html
    csv = client.get("/admin/audit.csv?action=person.created")
    lines = csv.get_data(as_text=True).splitlines()
    assert csv.mimetype == "text/csv"
    assert lines[0] == "id,time,actor,address,action,object_type,object_id,object_name,details"
    assert len(lines) == 3 and ",person.created,person," in lines[1]
    assert ",'=HYPERLINK(1)," in lines[2]  # a spreadsheet shows it, never runs it
    assert "No entries match" in client.get("/admin/audit?actor=nobody").get_data(as_text=True)
    # A filter that is not one: the reason, not a file.
    refused = client.get("/admin/audit.csv?object_id=seven")
    assert (refused.status_code, refused.mimetype) == (422, "text/plain")
    assert "object_id" in refused.text


def test_does_an_audit_download_cut_short_close_its_cursor(app, client):
    """A client that goes away after the first rows: the export's query (a server-side cursor
    on PostgreSQL) is closed with the response, not left to the garbage collector (which
    warns, an error here)."""
    for name in ("Ada", "Grace", "Hedy"):
        client.post(f"{API}/users", json={"name": name})
    response = client.get("/admin/audit.csv?action=person.created")
    assert response.status_code == 200
    chunks = iter(response.response)
    assert next(chunks).startswith(b"id,time,actor") and b"person.created" in next(chunks)
    response.close()
    gc.collect()
    # The next export reads every entry on the same database.
    assert len(client.get("/admin/audit.csv?action=person.created").text.splitlines()) == 4


def test_is_the_audit_read_only_and_for_admins_only(app):
    """No route changes an entry; operators and viewers cannot even read them."""
    for rule in app.url_map.iter_rules():
        if "audit" in rule.rule:
            assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule.rule
    create_account(app, "otto", role="operator")
    operator = login_client(app, app.test_client(), "otto")
    assert operator.get("/admin/audit").status_code == 403
    assert operator.get(f"{API}/audit").status_code == 403


def test_does_retention_prune_only_entries_older_than_the_setting(app_factory):
    from datetime import timedelta

    from facerec.models import utcnow

    app = app_factory(FACEREC_AUDIT_RETENTION_DAYS=30)
    with app.app_context():
        for days in (400, 31, 29, 0):
            audit.record("settings.changed", object_name=f"{days} days ago")
            db.session.flush()
            entry = db.session.scalars(db.select(AuditEntry).order_by(AuditEntry.id.desc())).first()
            entry.created_at = utcnow() - timedelta(days=days)
        db.session.commit()
    app.test_client().get("/login")  # any request runs the hourly pruning when it is due
    assert [e.object_name for e in entries(app)] == ["29 days ago", "0 days ago"]
    runner = app.test_cli_runner()
    result = runner.invoke(args=["audit", "prune", "--days", "1"])
    assert result.output == "Deleted 1 audit entry older than 1 days.\n"
    assert [e.object_name for e in entries(app)] == ["0 days ago"]


# ---- the face-search audit, now part of it ---------------------------------------------------


@pytest.mark.both_databases
def test_does_the_migration_move_the_face_searches_into_the_audit(empty_database_url):
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import create_engine, text

    from facerec import create_app

    url = empty_database_url
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url})
    try:
        with app.app_context():
            upgrade(directory="migrations", revision="0014")
            engine = create_engine(url)
            with engine.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO face_searches (created_at, who, source, sighting_id, "
                        "tolerance, filters, results) VALUES ('2026-11-20 10:00:00', 'alice', "
                        "'sighting', 42, 0.5, 'limit=10', 3)"
                    )
                )
            upgrade(directory="migrations", revision="0015")
            with engine.begin() as conn:
                moved = conn.execute(
                    text("SELECT actor, action, object_type, object_id, details FROM audit_entries")
                ).one()
            downgrade(directory="migrations", revision="0014")
            with engine.begin() as conn:
                back = conn.execute(
                    text("SELECT who, sighting_id, results FROM face_searches")
                ).one()
            engine.dispose()
            db.engine.dispose()
    finally:
        app.extensions["cameras"].close()
    assert moved[:4] == ("alice", "sightings.searched", "sighting", 42)
    assert json.loads(moved[4]) == {
        "source": "sighting", "tolerance": 0.5, "filters": "limit=10", "results": 3,
    }  # fmt: skip
    assert tuple(back) == ("alice", 42, 3)


def test_is_a_changed_url_recorded_as_changed_not_its_credentials(app):
    from facerec.models import Webhook

    with app.app_context():
        hook = Webhook(url="https://hooks.example.net/a?key=0ld-k3y")
        db.session.add(hook)
        db.session.commit()
        hook.url = "https://hooks.example.net/a?key=n3w-k3y"
        db.session.commit()
    changed = entries(app, "webhook.changed")[0]
    assert details(changed) == {"url": "changed"}
    assert "n3w-k3y" not in changed.details


def test_is_each_kind_of_change_on_record_whoever_makes_it_where(app_factory, photo_video):
    """Issue 24's list, each change made as a user makes it (pages, API), each on record with
    who made it and the object's id and name at the time."""
    from facerec.models import ApiToken, FaceSample, NegativeSample

    from .conftest import photo_samples
    from .test_api import post_form, upload
    from .test_sessions import change_password
    from .test_sightings import add_sighting

    app = app_factory(FACEREC_MEDIA_DIRS=str(photo_video.parent))
    client = login_client(app, app.test_client())
    alex = enroll(app, "Alex", DATA / "known" / "alex-lacamoire.png")
    kit = photo_samples(DATA / "people" / "kit_harington" / "john1.jpeg")[0].encoding
    row = add_sighting(app, user_id=alex, name="Alex", encoding=kit.astype("<f8").tobytes())
    done = []

    def did(response, action, object_name, status=(200, 201, 204, 302, 303)):
        assert response.status_code in status, (action, response.get_data(as_text=True)[:300])
        done.append((action, object_name))

    # "This is not Alex" on the history: the sighting relabelled (and Alex's negative).
    did(client.post(f"/history/sightings/{row}/label", data={"not_user_id": alex,
        "next": "/history"}), "sighting.relabelled", None)  # fmt: skip
    biden = enroll(app, "Biden", DATA / "people" / "biden" / "biden.jpg")
    second = {"image": upload(DATA / "people" / "biden" / "biden2.jpg")}
    did(post_form(client, f"{API}/users/{biden}/samples", second), "sample.added", "Biden")
    did(post_form(client, f"{API}/users/{biden}/negatives",
        {"image": upload(DATA / "known" / "obama.jpg")}), "negative.added", "Biden")  # fmt: skip
    with app.app_context():
        negative = db.session.scalars(db.select(NegativeSample.id).filter_by(user_id=biden)).one()
        sample = db.session.scalars(db.select(FaceSample.id).filter_by(user_id=biden)).first()
    did(client.post(f"/admin/negatives/{negative}/delete"), "negative.removed", "Biden")
    did(client.post(f"/admin/samples/{sample}/delete"), "sample.removed", "Biden")
    with app.app_context():  # taken out of Biden's list: the flush deletes it (delete-orphan)
        assert db.session.get(FaceSample, sample) is None

    camera = {"name": "door", "source": str(photo_video), "transport": "tcp", "enabled": "y"}
    did(client.post("/admin/cameras", data=camera), "camera.added", "door")
    did(client.post(f"{API}/cameras/door/start"), "camera.started", "door")
    did(client.post(f"{API}/cameras/door/stop"), "camera.stopped", "door")
    with app.app_context():
        door = db.session.execute(db.select(Camera).filter_by(name="door")).scalar_one().id
    did(client.post(f"/admin/cameras/{door}/delete"), "camera.removed", "door")

    did(client.post("/admin/tokens", data={"name": "kiosk"}), "token.created", "kiosk")
    with app.app_context():
        token = db.session.execute(db.select(ApiToken).filter_by(name="kiosk")).scalar_one().id
    did(client.post(f"/admin/tokens/{token}/revoke"), "token.revoked", "kiosk")
    did(change_password(client, TEST_PASSWORD, "a brand new passphrase"),
        "account.password_changed", "tester")  # fmt: skip

    recorded = entries(app)
    for action, name in done:
        found = [e for e in recorded if e.action == action]
        assert found, f"no {action} entry; the audit holds {[e.action for e in recorded]}"
        assert found[-1].actor == "tester", (action, found[-1].actor)
        assert found[-1].address == "127.0.0.1", action
        if name is not None:
            assert name in (found[-1].object_name or ""), (action, found[-1].object_name)
    removed = next(e for e in recorded if e.action == "sample.removed")
    assert (removed.object_type, removed.object_id) == ("sample", sample)
    text = " ".join(f"{e.object_name} {e.details}" for e in recorded)
    assert "a brand new passphrase" not in text and TEST_PASSWORD not in text
