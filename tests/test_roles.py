"""Roles, camera limits, scoped tokens and their guards (auth/roles.py), and their CLI."""

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from facerec import create_app
from facerec.auth.accounts import create_token
from facerec.auth.roles import PERMISSIONS, requires
from facerec.extensions import db
from facerec.models import Account, ApiToken, AuditEntry, utcnow

from .conftest import TEST_PASSWORD, add_camera, create_account, enroll, login_client

pytestmark = pytest.mark.sqlite_only


def signed_in(app, username, role, cameras=""):
    create_account(app, username, role=role, cameras=cameras)
    return login_client(app, app.test_client(), username)


def token_for(app, username=None, **options) -> str:
    with app.app_context():
        account = db.session.execute(
            db.select(Account).filter_by(username=username)
        ).scalar_one_or_none()
        _row, token = create_token("test", account, **options)
        db.session.commit()
    return token


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


# ---- the migration -------------------------------------------------------------------------


@pytest.mark.both_databases
def test_does_the_migration_make_every_existing_account_an_admin(empty_database_url):
    app = create_app(
        {"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": empty_database_url}
    )
    try:
        with app.app_context():
            upgrade(directory="migrations", revision="0009")
            engine = create_engine(empty_database_url)
            with engine.begin() as conn:
                for name in ("alice", "bob"):
                    conn.execute(
                        text(
                            "INSERT INTO accounts (username, password_hash, created_at, "
                            "session_generation) VALUES (:u, 'x', CURRENT_TIMESTAMP, 0)"
                        ),
                        {"u": name},
                    )
            upgrade(directory="migrations")
            with engine.begin() as conn:
                roles = dict(conn.execute(text("SELECT username, role FROM accounts")).all())
                conn.execute(
                    text(
                        "INSERT INTO accounts (username, password_hash, created_at, "
                        "session_generation) VALUES ('carol', 'x', CURRENT_TIMESTAMP, 0)"
                    )
                )
                later = conn.execute(
                    text("SELECT role FROM accounts WHERE username = 'carol'")
                ).scalar()
            engine.dispose()
            db.engine.dispose()
    finally:
        app.extensions["cameras"].close()
    assert roles == {"alice": "admin", "bob": "admin"}
    assert later == "viewer"  # an account made afterwards gets the least role


# ---- roles on pages and the API ------------------------------------------------------------


def test_does_a_viewer_get_403_naming_the_missing_role(app):
    viewer = signed_in(app, "vera", "viewer")
    assert viewer.get("/").status_code == 200
    page = viewer.get("/admin/users")
    assert page.status_code == 403
    assert "operator role" in page.get_data(as_text=True)
    api = viewer.get("/api/v1/users")
    assert api.status_code == 403
    assert api.get_json()["error"].startswith("This needs the operator role")
    assert "vera is a viewer" in api.get_json()["error"]


def test_may_an_operator_see_people_and_unknowns_but_not_delete_or_search(app):

    person = enroll(app, "obama", app.config.get("TEST_PHOTO") or _photo("known/obama.jpg"))
    operator = signed_in(app, "otto", "operator")
    assert operator.get("/unknowns").status_code == 200
    assert operator.get(f"/admin/users/{person}").status_code == 200
    assert operator.delete(f"/api/v1/users/{person}").status_code == 403
    assert operator.post(f"/admin/users/{person}/delete").status_code == 403
    assert operator.get("/history/search").status_code == 403
    assert operator.get("/admin/tokens").status_code == 403
    assert operator.get(f"/api/v1/users/{person}").status_code == 200


def _photo(relative):
    from .conftest import DATA

    return DATA / relative


def test_is_a_view_without_a_declared_permission_open_to_admins_only(app_factory):
    """Fail closed: a route someone forgot to guard is not open to every account."""
    app = app_factory()

    @app.get("/forgotten")
    def forgotten():
        return "secret"

    admin = signed_in(app, "ada", "admin")
    operator = signed_in(app, "otto", "operator")
    assert admin.get("/forgotten").status_code == 200
    assert operator.get("/forgotten").status_code == 403


def test_is_an_unknown_permission_name_refused_at_import_time():
    with pytest.raises(ValueError, match="unknown permission"):
        requires("everything")


def test_does_every_permission_name_a_known_role_and_scope():
    from facerec.auth.roles import RANK, SCOPES

    for permission in PERMISSIONS.values():
        assert permission.role is None or permission.role in RANK
        assert permission.scope is None or permission.scope in SCOPES


def test_does_a_disabled_account_lose_its_session_and_its_tokens(app):
    from facerec.auth.accounts import set_disabled

    client = signed_in(app, "vera", "viewer")
    token = token_for(app, "vera")
    assert client.get("/").status_code == 200
    assert app.test_client().get("/api/v1/cameras", headers=bearer(token)).status_code == 200
    with app.app_context():
        set_disabled(
            db.session.execute(db.select(Account).filter_by(username="vera")).scalar_one(), True
        )
        db.session.commit()
    assert client.get("/").status_code == 302
    refused = app.test_client().get("/api/v1/cameras", headers=bearer(token))
    assert refused.status_code == 401
    assert "disabled" in refused.get_json()["error"]
    login = app.test_client().post("/login", data={"username": "vera", "password": TEST_PASSWORD})
    assert "This account is disabled" in login.get_data(as_text=True)


# ---- camera limits -------------------------------------------------------------------------


def test_does_a_viewer_limited_to_door_get_403_for_the_lab_stream(app, photo_video):
    add_camera(app, "door", photo_video)
    add_camera(app, "lab", photo_video)
    viewer = signed_in(app, "vera", "viewer", cameras="door")
    refused = viewer.get("/cameras/lab/stream.mjpg")
    assert refused.status_code == 403
    assert "may not see the camera “lab”" in refused.get_data(as_text=True)
    assert viewer.get("/cameras/lab").status_code == 403
    assert viewer.get("/api/v1/cameras/lab/status").status_code == 403
    assert viewer.get("/api/v1/cameras/door/status").status_code == 200
    listed = viewer.get("/api/v1/cameras").get_json()["cameras"]
    assert [c["name"] for c in listed] == ["door"]


def tiles(page: str) -> list[str]:
    """The cameras on the live page's grid, in order."""
    return re.findall(r'class="camera-tile card"[^>]*data-camera="([^"]+)"', page)


def test_does_a_limited_viewer_see_only_their_cameras_on_the_live_page(app, photo_video):
    """The grid shows the cameras an account may see; limited to one, its page alone."""
    for name in ("door", "lab", "hall"):
        add_camera(app, name, photo_video)
    everyone = signed_in(app, "vic", "viewer").get("/").get_data(as_text=True)
    assert tiles(everyone) == ["door", "lab", "hall"]  # in the order they were added

    two = signed_in(app, "vera", "viewer", cameras="door,hall").get("/").get_data(as_text=True)
    assert tiles(two) == ["door", "hall"]
    assert "/cameras/lab" not in two

    one = signed_in(app, "desk", "viewer", cameras="door").get("/").get_data(as_text=True)
    assert tiles(one) == []  # one camera: its own page, not a grid of one
    assert "/cameras/door/stream.mjpg" in one
    assert "/cameras/lab" not in one and "/cameras/hall" not in one


# ---- scoped tokens ---------------------------------------------------------------------------


def test_can_a_recognize_token_call_recognize_and_nothing_else(app, data_dir):
    create_account(app, "otto", role="operator")
    token = token_for(app, "otto", scopes="recognize")
    client = app.test_client()
    with open(data_dir / "known" / "obama.jpg", "rb") as photo:
        answer = client.post(
            "/api/v1/recognize", headers=bearer(token), data={"image": (photo, "obama.jpg")}
        )
    assert answer.status_code == 200 and len(answer.get_json()["faces"]) == 1
    refused = client.get("/api/v1/users", headers=bearer(token))
    assert refused.status_code == 403
    assert "lacks the “read” scope" in refused.get_json()["error"]
    assert client.get("/api/v1/cameras", headers=bearer(token)).status_code == 403


def test_does_an_expired_token_get_401(app):
    create_account(app, "otto", role="operator")
    token = token_for(app, "otto", expires_days=1)
    client = app.test_client()
    assert client.get("/api/v1/users", headers=bearer(token)).status_code == 200
    with app.app_context():
        row = db.session.execute(db.select(ApiToken)).scalar_one()
        row.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    refused = client.get("/api/v1/users", headers=bearer(token))
    assert refused.status_code == 401
    assert "expired" in refused.get_json()["error"]


def test_is_a_token_never_more_than_its_accounts_role(app):
    from facerec.auth.accounts import AccountError

    create_account(app, "vera", role="viewer")
    with app.app_context():
        vera = db.session.execute(db.select(Account).filter_by(username="vera")).scalar_one()
        with pytest.raises(AccountError, match="a viewer: a token of it cannot have “write”"):
            create_token("t", vera, scopes="read,write")
    # A token made before a demotion follows its account's role at each request.
    create_account(app, "otto", role="operator")
    token = token_for(app, "otto")
    client = app.test_client()
    assert client.get("/api/v1/users", headers=bearer(token)).status_code == 200
    with app.app_context():
        otto = db.session.execute(db.select(Account).filter_by(username="otto")).scalar_one()
        otto.role = "viewer"
        db.session.commit()
    assert client.get("/api/v1/users", headers=bearer(token)).status_code == 403


def test_does_a_stream_token_open_the_stream_as_a_header_and_as_a_query(app):
    create_account(app, "vera", role="viewer")
    token = token_for(app, "vera", scopes="stream")
    client = app.test_client()
    for response in (
        client.get("/stream.mjpg", headers=bearer(token)),
        client.get(f"/stream.mjpg?token={token}"),
    ):
        assert response.status_code == 200
        assert response.mimetype == "multipart/x-mixed-replace"
        response.close()
    # ?token= opens the streams only, never the API or the pages.
    assert client.get(f"/api/v1/stream/status?token={token}").status_code == 401
    assert client.get("/api/v1/stream/status", headers=bearer(token)).status_code == 403
    assert client.get(f"/?token={token}").status_code == 302
    assert client.get("/stream.mjpg?token=frec_wrong").status_code == 401


def home_assistant_mjpeg_cameras(*forms: tuple[str, str]) -> list[dict]:
    """Home Assistant's MJPEG IP Camera form filled in with each (name, url), checked and its
    first picture taken by Home Assistant's own code (tests/homeassistant/check_mjpeg.py in
    .venv-ha, which `make homeassistant` makes)."""
    import json
    import subprocess

    from .conftest import ROOT

    python = ROOT / ".venv-ha" / "bin" / "python"
    assert (ROOT / ".venv-ha" / ".installed-stamp").exists(), (
        "Home Assistant's virtualenv is missing: run make homeassistant"
    )
    checked = subprocess.run(
        [str(python), str(ROOT / "tests" / "homeassistant" / "check_mjpeg.py")],
        input=json.dumps([{"name": name, "mjpeg_url": url} for name, url in forms]),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stderr
    return json.loads(checked.stdout)


def test_does_home_assistants_mjpeg_camera_show_the_stream_with_the_documented_address(
    app, serve, photo_video
):
    """docs/guide/roles.md's MJPEG IP Camera form, as written but for the server and the token;
    then a wrong token, a token without the stream scope, and a camera the token may not see."""
    import base64

    from facerec import faces

    from .conftest import ROOT

    page = (ROOT / "docs" / "guide" / "roles.md").read_text()
    form = dict(re.findall(r"^\| (Name|MJPEG URL) \| `([^`]+)` \|$", page, re.M))
    assert form["MJPEG URL"].startswith("http://facerec.local:8000/cameras/door/stream.mjpg?")
    add_camera(app, "door", photo_video)
    add_camera(app, "lab", photo_video)
    create_account(app, "desk", role="viewer", cameras="door")
    server = serve(app)

    def address(token, camera="door"):
        url = form["MJPEG URL"].replace("http://facerec.local:8000", server.url)
        return url.replace("frec_...", token).replace("/door/", f"/{camera}/")

    stream = token_for(app, "desk", scopes="stream")
    shown, wrong, reading, lab = home_assistant_mjpeg_cameras(
        (form["Name"], address(stream)),
        ("Front door", address("frec_wrong")),
        ("Front door", address(token_for(app, "desk", scopes="read"))),
        ("Lab", address(stream, camera="lab")),
    )
    assert shown["form"] is None and shown["connect"] is None, shown
    picture = faces.load_image(base64.b64decode(shown["image"]))  # a JPEG that decodes
    assert picture.shape[:2] == (360, 640)  # the door camera's frame
    assert wrong["connect"].startswith("InvalidAuth"), wrong
    assert "403" in reading["connect"], reading
    assert "403" in lab["connect"], lab


# ---- the command line ------------------------------------------------------------------------


def test_is_the_first_account_made_on_the_command_line_an_admin(app):
    runner = app.test_cli_runner()
    first = runner.invoke(
        args=["accounts", "create", "ada", "--password-stdin"], input="pw-123456\n"
    )
    assert first.exit_code == 0, first.output
    assert "(admin, every camera)" in first.output
    second = runner.invoke(
        args=["accounts", "create", "vic", "--password-stdin"], input="pw-123456\n"
    )
    assert "(viewer, every camera)" in second.output


def test_does_set_role_change_the_role_and_refuse_what_it_cannot_do(app, photo_video):
    add_camera(app, "door", photo_video)
    runner = app.test_cli_runner()
    runner.invoke(args=["accounts", "create", "ada", "--password-stdin"], input="pw-123456\n")
    made = runner.invoke(
        args=[
            "accounts",
            "create",
            "vic",
            "--role",
            "viewer",
            "--cameras",
            "door",
            "--password-stdin",
        ],
        input="pw-123456\n",
    )
    assert "(viewer, door)" in made.output
    changed = runner.invoke(args=["accounts", "set-role", "vic", "operator"])
    assert changed.exit_code == 0 and "“vic” is now operator (every camera)." in changed.output
    unknown = runner.invoke(args=["accounts", "set-role", "vic", "viewer", "--cameras", "attic"])
    assert unknown.exit_code != 0 and "No camera named “attic”" in unknown.output
    last = runner.invoke(args=["accounts", "set-role", "ada", "viewer"])
    assert last.exit_code != 0 and "the last admin" in last.output
    limited_admin = runner.invoke(
        args=["accounts", "set-role", "vic", "admin", "--cameras", "door"]
    )
    assert (
        limited_admin.exit_code != 0
        and "camera limits are for operators and viewers" in limited_admin.output
    )
    with app.app_context():
        actions = db.session.scalars(db.select(AuditEntry.action).order_by(AuditEntry.id)).all()
    accounts = [a for a in actions if a.startswith("account.")]
    assert accounts == ["account.created", "account.created", "account.role_changed"]


def test_does_tokens_create_take_scopes_and_an_expiry(app):
    runner = app.test_cli_runner()
    runner.invoke(
        args=["accounts", "create", "otto", "--role", "operator", "--password-stdin"],
        input="pw-123456\n",
    )
    made = runner.invoke(
        args=[
            "tokens",
            "create",
            "door",
            "--account",
            "otto",
            "--scopes",
            "stream,read",
            "--expires-days",
            "30",
        ]
    )
    assert made.exit_code == 0, made.output
    bad = runner.invoke(args=["tokens", "create", "x", "--scopes", "everything"])
    assert bad.exit_code != 0 and "not a scope" in bad.output
    with app.app_context():
        row = db.session.execute(db.select(ApiToken)).scalar_one()
        assert row.scope_list == ["stream", "read"]
        assert timedelta(days=29) < row.expires_at - utcnow() <= timedelta(days=30)


def test_is_the_roles_module_usable_on_an_app_without_routes():
    """``can`` and friends need no request context of the auth blueprint to import."""
    assert Flask(__name__)


# ---- the audit of sign-ins ---------------------------------------------------------------------


def test_are_sign_ins_and_failed_sign_ins_on_record(app):
    create_account(app, "ada")
    client = app.test_client()
    client.post("/login", data={"username": "ada", "password": "wrong-password"}).close()
    client.post("/login", data={"username": "nobody", "password": "wrong-password"}).close()
    client.post("/login", data={"username": "ada", "password": TEST_PASSWORD}).close()
    with app.app_context():
        rows = db.session.scalars(db.select(AuditEntry).order_by(AuditEntry.id)).all()
        seen = [
            (r.action, r.actor, r.object_name, r.address)
            for r in rows
            if r.action.startswith("signin")
        ]
    assert seen == [
        ("signin.failed", "anonymous", "ada", "127.0.0.1"),
        ("signin.failed", "anonymous", "nobody", "127.0.0.1"),
        ("signin", "ada", "ada", "127.0.0.1"),
    ]


# ---- the accounts page ---------------------------------------------------------------------


def account_row(app, username) -> Account:
    with app.app_context():
        row = db.session.execute(db.select(Account).filter_by(username=username)).scalar_one()
        db.session.expunge(row)
        return row


def test_can_an_admin_create_an_account_with_a_role_and_cameras(app, photo_video):
    add_camera(app, "door", photo_video)
    admin = signed_in(app, "ada", "admin")
    made = admin.post(
        "/admin/accounts",
        data={"username": "desk", "password": "front-desk-pw", "confirm": "front-desk-pw",
              "role": "viewer", "cameras": ["door"]},
    )  # fmt: skip
    assert made.status_code == 303
    desk = account_row(app, "desk")
    assert (desk.role, desk.camera_list) == ("viewer", ["door"])
    page = admin.get("/admin/accounts").get_data(as_text=True)
    assert 'data-account="desk"' in page and ">door<" in page
    taken = admin.post(
        "/admin/accounts",
        data={"username": "DESK", "password": "front-desk-pw", "confirm": "front-desk-pw",
              "role": "viewer"},
    )  # fmt: skip
    assert taken.status_code == 400 and "already exists" in taken.get_data(as_text=True)
    bad_role = admin.post(
        "/admin/accounts",
        data={"username": "x", "password": "front-desk-pw", "confirm": "front-desk-pw",
              "role": "owner"},
    )  # fmt: skip
    assert bad_role.status_code == 400 and "Not a valid choice" in bad_role.get_data(as_text=True)


def test_can_an_admin_change_a_role_disable_and_sign_out_an_account(app):
    admin = signed_in(app, "ada", "admin")
    viewer = signed_in(app, "vic", "viewer")
    vic = account_row(app, "vic").id
    assert viewer.get("/unknowns").status_code == 403

    changed = admin.post(f"/admin/accounts/{vic}", data={"role": "operator"})
    assert changed.status_code == 303
    assert viewer.get("/unknowns").status_code == 200  # the same session, the new role

    signed_out = admin.post(f"/admin/accounts/{vic}/sign-out")
    assert signed_out.status_code == 303
    assert viewer.get("/unknowns").status_code == 302  # sent to sign in again

    again = login_client(app, app.test_client(), "vic")
    assert again.get("/").status_code == 200
    assert admin.post(f"/admin/accounts/{vic}/toggle").status_code == 303
    assert account_row(app, "vic").disabled_at is not None
    assert again.get("/").status_code == 302
    assert admin.post(f"/admin/accounts/{vic}/toggle").status_code == 303
    assert account_row(app, "vic").disabled_at is None

    ada = account_row(app, "ada").id
    myself = admin.post(f"/admin/accounts/{ada}/toggle", follow_redirects=True)
    assert "You cannot disable your own account." in myself.get_data(as_text=True)
    last = admin.post(f"/admin/accounts/{ada}", data={"role": "viewer"})
    assert last.status_code == 400 and "the last admin" in last.get_data(as_text=True)
    with app.app_context():
        actions = db.session.scalars(
            db.select(AuditEntry.action).where(AuditEntry.object_id == vic).order_by(AuditEntry.id)
        ).all()
    assert actions[-4:] == [
        "account.role_changed", "account.signed_out", "account.disabled", "account.enabled",
    ]  # fmt: skip


def test_does_the_tokens_page_make_a_scoped_expiring_token_for_another_account(app):
    admin = signed_in(app, "ada", "admin")
    create_account(app, "wall", role="viewer")
    wall = account_row(app, "wall").id
    page = admin.post(
        "/admin/tokens",
        data={"name": "hall display", "account": wall, "scopes": ["stream"], "expires_days": "7"},
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "New token “hall display”" in html
    token = re.search(r'id="new-token">([^<]+)<', html).group(1)
    client = app.test_client()
    stream = client.get(f"/stream.mjpg?token={token}")
    assert stream.status_code == 200
    stream.close()
    assert client.get("/api/v1/cameras", headers=bearer(token)).status_code == 403
    too_much = admin.post("/admin/tokens", data={"name": "x", "account": wall, "scopes": ["write"]})
    assert too_much.status_code == 400
    assert "a viewer: a token of it cannot have “write”" in too_much.get_data(as_text=True)
    listed = admin.get("/admin/tokens").get_data(as_text=True)
    assert "<td>stream</td>" in listed and "expires" in listed


# ---- camera limits on the history and the unknown visitors -------------------------------------


def test_does_an_operator_limited_to_door_see_only_doors_sightings_and_visitors(app, photo_video):
    from facerec.models import Sighting

    from .test_unknowns import place, visitors

    add_camera(app, "door", photo_video)
    add_camera(app, "lab", photo_video)
    ids = visitors(app)  # Kit three times, Rose twice
    with app.app_context():
        for sighting_id in ids["rose"]:
            db.session.get(Sighting, sighting_id).camera = "lab"
        for sighting_id in ids["kit"]:
            db.session.get(Sighting, sighting_id).camera = "door"
        db.session.commit()
    place(app)
    operator = signed_in(app, "olga", "operator", cameras="door")

    listed = operator.get("/api/v1/sightings").get_json()["sightings"]
    assert sorted(s["id"] for s in listed) == sorted(ids["kit"])
    assert operator.get(f"/api/v1/sightings/{ids['rose'][0]}").status_code == 403
    assert operator.get(f"/api/v1/sightings/{ids['rose'][0]}/crop.jpg").status_code == 403
    assert operator.get(f"/api/v1/sightings/{ids['kit'][0]}/crop.jpg").status_code == 200
    csv = operator.get("/history.csv").get_data(as_text=True)
    assert ",door," in csv and ",lab," not in csv

    groups = operator.get("/api/v1/unknowns").get_json()["groups"]
    assert [g["sightings"] for g in groups] == [3]
    admin = signed_in(app, "ada", "admin")
    rose = next(
        g for g in admin.get("/api/v1/unknowns").get_json()["groups"] if g["sightings"] == 2
    )
    refused = operator.post(f"/api/v1/unknowns/{rose['id']}/enroll", json={"name": "Rose"})
    assert refused.status_code == 403 and "may not see this visitor" in refused.get_json()["error"]
    assert operator.post(f"/unknowns/{rose['id']}/dismiss").status_code == 403
    bulk = operator.post("/api/v1/unknowns/dismiss", json={"group_ids": [rose["id"]]})
    assert bulk.status_code == 403


def test_are_the_buttons_a_role_cannot_use_left_out(app, photo_video):
    from .test_unknowns import visitors

    person = enroll(app, "obama", _photo("known/obama.jpg"))
    visitors(app)
    operator = signed_in(app, "otto", "operator")
    admin = signed_in(app, "ada", "admin")
    page = operator.get(f"/admin/users/{person}").get_data(as_text=True)
    assert "Delete person" not in page
    assert "Delete person" in admin.get(f"/admin/users/{person}").get_data(as_text=True)
    history = operator.get("/history").get_data(as_text=True)
    assert "Find similar" not in history and "This is…" in history
    assert "Find similar" in admin.get("/history").get_data(as_text=True)
    for client, shown in ((operator, False), (admin, True)):
        top = client.get("/").get_data(as_text=True)
        for label in ("Accounts", "Audit", "API tokens", "Webhooks"):
            assert (f">{label}</a>" in top) is shown, label
        assert ('id="start"' in top and 'id="stop"' in top) is shown  # cameras: admins'
