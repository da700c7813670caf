"""Accounts, sign-in, the login requirement of every route, API tokens, and their CLI."""

import re
import time

import pytest
from sqlalchemy import func, select

from facerec import instance
from facerec.extensions import db
from facerec.models import Account, ApiToken

from .conftest import TEST_PASSWORD, create_account, login_client

# /readyz and /healthz are anonymous by contract (and /livez, answered in front of Flask);
# /metrics answers scrapers 401 (tests/test_monitoring.py).
OPEN_ENDPOINTS = {
    "api.openapi_document",  # the API's description: open while FACEREC_OPENAPI_PUBLIC (default)
    "api.docs",
    "static",
    "auth.login",
    "auth.setup",
    "monitoring.healthz",
    "monitoring.readyz",
    "monitoring.metrics",
}

# On SQLite alone (see conftest.py) but for the tests marked both_databases: the sign-in
# pages are the same on both; accounts, sessions and tokens are stored.
pytestmark = pytest.mark.sqlite_only


def routes_to_check(app):
    """(method, url, rule) for every route and method, with 1 for every URL argument."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint in OPEN_ENDPOINTS:
            continue
        url = rule.build({arg: 1 for arg in rule.arguments}, append_unknown=False)[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, url, rule


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def add_token(app, token="frec_test-token-value-0123456789", account_id=None, revoked=False):
    from facerec.models import utcnow

    with app.app_context():
        row = ApiToken(
            name="test", token_hash=ApiToken.hash(token), prefix=token[:8], account_id=account_id
        )
        if revoked:
            row.revoked_at = utcnow()
        db.session.add(row)
        db.session.commit()
        return row.id


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


# ---- who may open what --------------------------------------------------------------------


def test_does_every_protected_route_refuse_an_anonymous_visitor(app, anon_client):
    create_account(app)
    checked = set()
    for method, url, rule in routes_to_check(app):
        response = anon_client.open(url, method=method)
        where = f"{method} {url}"
        if rule.rule.startswith("/api/"):
            assert response.status_code == 401, where
            assert response.is_json and response.get_json()["error"], where
        elif getattr(app.view_functions[rule.endpoint], "accepts_tokens", False):
            # A stream client (Home Assistant, an <img>) cannot follow a sign-in page.
            assert response.status_code == 401, where
            assert "Bearer" in response.headers["WWW-Authenticate"], where
        else:
            assert response.status_code == 302, where
            assert response.location.startswith("/login"), where
        checked.add(rule.endpoint)
    # The guard must cover every blueprint, including the ones other features add.
    assert {
        "stream.live",
        "stream.stream",
        "admin.users",
        "admin.person",
        "admin.tokens",
    } <= checked
    assert {"api.stream_status", "api.stream_start", "auth.logout"} <= checked
    assert any(e.startswith("enroll.") for e in checked)


def test_does_an_anonymous_visitor_come_back_to_the_page_they_asked_for(app, anon_client):
    create_account(app)
    response = anon_client.get("/admin/users?q=ann")
    assert response.location == "/login?next=/admin/users?q%3Dann"
    login = anon_client.get(response.location)
    assert 'name="next" type="hidden" value="/admin/users?q=ann"' in login.get_data(as_text=True)
    signed_in = anon_client.post(
        "/login",
        data={"username": "tester", "password": TEST_PASSWORD, "next": "/admin/users?q=ann"},
    )
    assert signed_in.status_code == 302
    assert signed_in.location == "/admin/users?q=ann"
    assert anon_client.get("/admin/users").status_code == 200


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_does_sign_in_refuse_to_redirect_to_another_site(app, anon_client, target):
    create_account(app)
    response = anon_client.post(
        "/login", data={"username": "tester", "password": TEST_PASSWORD, "next": target}
    )
    assert response.status_code == 302
    assert response.location == "/"


def test_does_a_browser_opening_an_api_page_get_the_sign_in_page(app_factory):
    app = app_factory(FACEREC_OPENAPI_PUBLIC=False)
    anon_client = app.test_client()
    create_account(app)
    html = anon_client.get("/api/v1/docs", headers={"Accept": "text/html,*/*;q=0.8"})
    assert html.status_code == 302 and html.location.startswith("/login")
    script = anon_client.get("/api/v1/users", headers={"Accept": "application/json"})
    assert script.status_code == 401


def test_are_the_live_page_and_stream_open_to_anyone_with_public_stream(app_factory):
    app = app_factory(FACEREC_PUBLIC_STREAM=True)
    create_account(app)
    anon = app.test_client()
    page = anon.get("/")
    assert page.status_code == 200
    assert "Sign in" in page.get_data(as_text=True)
    stream = anon.get("/stream.mjpg")
    assert stream.status_code == 200
    assert stream.mimetype == "multipart/x-mixed-replace"
    stream.close()
    assert anon.get("/api/v1/stream/status").status_code == 200
    # Everything else stays closed.
    assert anon.post("/api/v1/stream/start").status_code == 401
    assert anon.post("/api/v1/stream/stop").status_code == 401
    assert anon.get("/admin/users").status_code == 302
    assert anon.get("/enroll/").status_code == 302


def test_is_the_live_page_closed_without_public_stream(app, anon_client):
    create_account(app)
    assert anon_client.get("/").status_code == 302
    assert anon_client.get("/stream.mjpg").status_code == 401
    opened = anon_client.get("/stream.mjpg", headers={"Accept": "text/html"})
    assert opened.status_code == 302 and opened.location.startswith("/login")


def test_are_static_files_open(app, anon_client):
    response = anon_client.get("/static/css/app.css")
    assert response.status_code == 200
    response.close()


# ---- setup, sign-in, sign-out -------------------------------------------------------------


@pytest.mark.both_databases
def test_does_setup_create_the_first_account_and_then_disappear(app, anon_client):
    assert anon_client.get("/login").location == "/setup"
    assert anon_client.get("/admin/users").status_code == 302
    page = anon_client.get("/setup")
    assert page.status_code == 200 and "Create the first account" in page.get_data(as_text=True)

    form = {"username": "alice", "password": "s3cret-pass", "confirm": "s3cret-pass"}
    wrong = anon_client.post("/setup", data={**form, "code": "0000-0000-0000-0000"})
    assert wrong.status_code == 400 and "This is not the setup code" in wrong.get_data(True)
    done = anon_client.post("/setup", data={**form, "code": instance.setup_code(app)})
    assert done.status_code == 302 and done.location == "/"
    people = anon_client.get("/admin/users")  # signed in by setup
    assert people.status_code == 200 and "alice" in people.get_data(as_text=True)
    with app.app_context():
        account = db.session.execute(select(Account)).scalar_one()
        assert account.username == "alice"
        assert account.password_hash != "s3cret-pass"
        assert account.check_password("s3cret-pass")

    other = app.test_client()
    assert other.get("/setup").status_code == 404
    again = other.post(
        "/setup",
        data={"username": "mallory", "password": "s3cret-pass", "confirm": "s3cret-pass"},
    )
    assert again.status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count(Account.id))) == 1


@pytest.mark.parametrize(
    ("username", "password", "confirm", "message"),
    [
        ("alice", "short", "short", "at least 8"),
        ("alice", "long-enough", "different!", "The passwords do not match."),
        ("", "long-enough", "long-enough", "This field is required."),
        ("al ice", "long-enough", "long-enough", "letters, digits"),
    ],
)
def test_does_setup_refuse_bad_input(app, anon_client, username, password, confirm, message):
    response = anon_client.post(
        "/setup",
        data={
            "username": username,
            "password": password,
            "confirm": confirm,
            "code": instance.setup_code(app),
        },
    )
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(Account.id))) == 0


def test_does_a_wrong_password_get_a_plain_message(app, anon_client):
    create_account(app)
    for username in ("tester", "nobody"):
        response = anon_client.post("/login", data={"username": username, "password": "nope-nope"})
        assert response.status_code == 200
        assert "Wrong username or password." in response.get_data(as_text=True)
    assert anon_client.get("/admin/users").status_code == 302


def test_is_the_session_cookie_httponly_and_samesite_lax(app, anon_client):
    create_account(app)
    response = anon_client.post("/login", data={"username": "tester", "password": TEST_PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_does_the_sixth_wrong_password_within_a_minute_get_429(app, anon_client):
    create_account(app)
    wrong = {"username": "tester", "password": "wrong-password"}
    for _ in range(5):
        assert anon_client.post("/login", data=wrong).status_code == 200
    sixth = anon_client.post("/login", data=wrong)
    assert sixth.status_code == 429
    assert int(sixth.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in sixth.get_data(as_text=True)
    # Even the right password waits: the address is blocked, not the guess.
    right = {"username": "tester", "password": TEST_PASSWORD}
    assert anon_client.post("/login", data=right).status_code == 429
    # Another address is not affected.
    other = app.test_client()
    signed_in = other.post("/login", data=right, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert signed_in.status_code == 302


def test_may_an_address_try_again_after_the_minute(app, anon_client):
    create_account(app)
    now = [1000.0]
    app.extensions["login_throttle"].clock = lambda: now[0]
    wrong = {"username": "tester", "password": "wrong-password"}
    for _ in range(5):
        anon_client.post("/login", data=wrong)
    assert anon_client.post("/login", data=wrong).status_code == 429
    now[0] += 61
    right = {"username": "tester", "password": TEST_PASSWORD}
    assert anon_client.post("/login", data=right).status_code == 302


def sign_in(app, address: str, password: str, **headers) -> int:
    """One sign-in of "tester" from ``address`` (the TCP peer); the answer's status."""
    response = app.test_client().post(
        "/login",
        data={"username": "tester", "password": password},
        environ_base={"REMOTE_ADDR": address},
        headers=headers,
    )
    return response.status_code


@pytest.mark.both_databases
def test_does_a_restart_remember_where_an_account_signs_in_from(app_factory):
    """Five wrong passwords from each of two other addresses after a restart: the owner's
    usual address still gets in (before, the restart forgot it and locked the owner out)."""
    before = app_factory()
    create_account(before)
    assert sign_in(before, "192.0.2.10", TEST_PASSWORD) == 302
    after = app_factory()  # a new server process on the same database: a restart
    for address in ("198.51.100.1", "198.51.100.2"):
        for _ in range(5):
            assert sign_in(after, address, "wrong-password") == 200
    assert sign_in(after, "192.0.2.10", TEST_PASSWORD) == 302
    refused = (
        app_factory()
        .test_client()
        .post(
            "/login",
            data={"username": "tester", "password": TEST_PASSWORD},
            environ_base={"REMOTE_ADDR": "203.0.113.50"},
        )
    )
    assert refused.status_code == 429
    assert "only from addresses it was used from before" in refused.get_data(as_text=True)


@pytest.mark.both_databases
def test_does_a_restart_keep_the_count_of_wrong_passwords(app_factory):
    before = app_factory()
    create_account(before)
    for _ in range(5):
        assert sign_in(before, "198.51.100.7", "wrong-password") == 200
    after = app_factory()
    assert sign_in(after, "198.51.100.7", TEST_PASSWORD) == 429


def test_is_a_forged_x_forwarded_for_from_an_untrusted_peer_ignored(app_factory):
    """With FACEREC_TRUSTED_PROXIES=1 and the server reachable directly, a client naming
    another address in X-Forwarded-For is still counted as itself: it cannot lock that
    address out. Through the proxy (on loopback), the header names the client."""
    app = app_factory(FACEREC_TRUSTED_PROXIES=1)
    create_account(app)
    victim = "192.0.2.44"
    for _ in range(6):
        sign_in(app, "203.0.113.9", "wrong-password", **{"X-Forwarded-For": victim})
    assert sign_in(app, "203.0.113.9", TEST_PASSWORD) == 429  # the guesser itself
    # The victim, arriving through the proxy: its address, with no failures of its own.
    assert sign_in(app, "127.0.0.1", TEST_PASSWORD, **{"X-Forwarded-For": victim}) == 302
    # Five failures through the proxy from one client are that client's, not the proxy's.
    for _ in range(5):
        sign_in(app, "127.0.0.1", "wrong-password", **{"X-Forwarded-For": "192.0.2.45"})
    assert sign_in(app, "127.0.0.1", TEST_PASSWORD, **{"X-Forwarded-For": "192.0.2.45"}) == 429
    assert sign_in(app, "127.0.0.1", TEST_PASSWORD, **{"X-Forwarded-For": victim}) == 302


@pytest.mark.both_databases
def test_does_sign_out_end_the_session(client):
    assert client.get("/admin/users").status_code == 200
    assert "Sign out" in client.get("/logout").get_data(as_text=True)
    response = client.post("/logout")
    assert response.status_code == 302 and response.location == "/login"
    assert client.get("/admin/users").status_code == 302


# ---- CSRF ---------------------------------------------------------------------------------


def test_is_a_post_without_csrf_token_refused(app_factory):
    app = app_factory(WTF_CSRF_ENABLED=True)
    create_account(app)
    anon = app.test_client()
    response = anon.post("/login", data={"username": "tester", "password": TEST_PASSWORD})
    assert response.status_code == 400
    assert anon.get("/admin/users").status_code == 302  # not signed in

    token = csrf_from(anon.get("/login").get_data(as_text=True))
    response = anon.post(
        "/login", data={"username": "tester", "password": TEST_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    # Signed in, a form POST still needs the token, and the API needs X-CSRFToken.
    assert anon.post("/logout").status_code == 400
    assert anon.post("/api/v1/stream/stop").status_code == 400
    page = anon.get("/admin/users").get_data(as_text=True)
    token = csrf_from(page)
    assert anon.post("/api/v1/stream/stop", headers={"X-CSRFToken": token}).status_code == 200
    assert anon.post("/logout", data={"csrf_token": token}).status_code == 302


def test_does_an_anonymous_api_post_get_401_rather_than_a_csrf_error(app_factory):
    app = app_factory(WTF_CSRF_ENABLED=True)
    assert app.test_client().post("/api/v1/stream/start").status_code == 401


# ---- API tokens ---------------------------------------------------------------------------


@pytest.mark.both_databases
def test_does_a_bearer_token_open_the_api_and_record_its_use(app, anon_client):
    account_id = create_account(app)
    token_id = add_token(app, "frec_with-account-000000000000", account_id=account_id)
    token = "frec_with-account-000000000000"
    response = anon_client.get("/api/v1/stream/status", headers=bearer(token))
    assert response.status_code == 200
    assert "running" in response.get_json()
    response.close()  # as a server does once it is sent: the bookkeeping is written then
    with app.app_context():
        assert db.session.get(ApiToken, token_id).last_used_at is not None
    # A token is for the API only, and sets no session.
    assert "Set-Cookie" not in response.headers
    page = anon_client.get("/admin/users", headers=bearer(token))
    assert page.status_code == 302


def test_does_a_token_without_an_account_work_for_the_api(app, anon_client):
    add_token(app, "frec_no-account-00000000000000", account_id=None)
    response = anon_client.post(
        "/api/v1/stream/stop", headers=bearer("frec_no-account-00000000000000")
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "header", ["Bearer frec_revoked-0000000000000", "Bearer wrong", "Basic eA=="]
)
def test_does_a_revoked_or_unknown_token_get_401(app, anon_client, header):
    add_token(app, "frec_revoked-0000000000000", revoked=True)
    response = anon_client.get("/api/v1/stream/status", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.get_json()["error"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


# ---- the CLI ------------------------------------------------------------------------------


def test_does_accounts_create_read_the_password_from_stdin(app, runner):
    result = runner.invoke(
        args=["accounts", "create", "bob", "--password-stdin"], input="a-long-password\n"
    )
    assert result.exit_code == 0, result.output
    assert "Created the account “bob” (admin, every camera)." in result.output
    client = app.test_client()
    response = client.post("/login", data={"username": "bob", "password": "a-long-password"})
    assert response.status_code == 302


def test_does_accounts_create_prompt_twice(app, runner):
    result = runner.invoke(args=["accounts", "create", "carol"], input="pw-12345678\npw-12345678\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.execute(select(Account).filter_by(username="carol")).scalar_one()


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["accounts", "create", "dave", "--password-stdin"], "short\n", "too short"),
        (["accounts", "create", "dave", "--password-stdin"], "\n", "A password is required."),
        (["accounts", "create", "tester", "--password-stdin"], "long-password\n", "already exists"),
        (["accounts", "create", "bad name", "--password-stdin"], "long-password\n", "letters"),
    ],
)
def test_does_accounts_create_refuse_bad_input(app, runner, args, stdin, message):
    create_account(app)
    result = runner.invoke(args=args, input=stdin)
    assert result.exit_code != 0
    assert message in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Account.id))) == 1


@pytest.mark.both_databases
def test_do_cli_tokens_work_until_revoked(app, runner, anon_client):
    create_account(app)
    created = runner.invoke(args=["tokens", "create", "door display", "--account", "tester"])
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("frec_") and len(token) > 40
    assert anon_client.get("/api/v1/stream/status", headers=bearer(token)).status_code == 200

    listed = runner.invoke(args=["tokens", "list"])
    assert "door display" in listed.output and token[:8] in listed.output
    assert token not in listed.output  # never shown again
    with app.app_context():
        row = db.session.execute(select(ApiToken)).scalar_one()
        assert row.token_hash == ApiToken.hash(token) and row.account.username == "tester"

    revoked = runner.invoke(args=["tokens", "revoke", str(row.id)])
    assert revoked.exit_code == 0 and "Revoked" in revoked.output
    assert anon_client.get("/api/v1/stream/status", headers=bearer(token)).status_code == 401
    assert "revoked" in runner.invoke(args=["tokens", "list"]).output


def test_does_tokens_create_refuse_an_unknown_account(runner):
    result = runner.invoke(args=["tokens", "create", "x", "--account", "ghost"])
    assert result.exit_code != 0 and "No account named “ghost”" in result.output


# ---- the tokens page ----------------------------------------------------------------------


def test_does_the_tokens_page_show_a_new_token_once_and_revoke_it(app, anon_client):
    client = login_client(app, app.test_client())
    created = client.post("/admin/tokens", data={"name": "kiosk"})
    assert created.status_code == 200
    assert created.headers["Cache-Control"] == "no-store"
    token = re.search(r'id="new-token">([^<]+)<', created.get_data(as_text=True)).group(1)
    assert anon_client.get("/api/v1/stream/status", headers=bearer(token)).status_code == 200

    listing = client.get("/admin/tokens").get_data(as_text=True)
    assert "kiosk" in listing and token[:8] in listing and token not in listing
    with app.app_context():
        row = db.session.execute(select(ApiToken)).scalar_one()
        assert row.account.username == "tester"
    revoked = client.post(f"/admin/tokens/{row.id}/revoke", follow_redirects=True)
    assert "Revoked the token “kiosk”" in revoked.get_data(as_text=True)
    assert anon_client.get("/api/v1/stream/status", headers=bearer(token)).status_code == 401


def test_does_the_tokens_page_refuse_an_empty_name(client, app):
    response = client.post("/admin/tokens", data={"name": "   "})
    assert response.status_code == 400
    assert "A token name is required." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(ApiToken.id))) == 0


@pytest.mark.both_databases
def test_does_accounts_set_password_replace_the_password(app, runner):
    create_account(app)
    result = runner.invoke(
        args=["accounts", "set-password", "TESTER", "--password-stdin"], input="new-password-1\n"
    )
    assert result.exit_code == 0, result.output
    client = app.test_client()
    old = client.post("/login", data={"username": "tester", "password": TEST_PASSWORD})
    assert old.status_code == 200  # refused
    new = client.post("/login", data={"username": "tester", "password": "new-password-1"})
    assert new.status_code == 302
    listed = runner.invoke(args=["accounts", "list"])
    assert "tester" in listed.output
    assert TEST_PASSWORD not in listed.output


@pytest.mark.both_databases
def test_can_two_simultaneous_first_setups_create_only_one_account(app, monkeypatch):
    import threading

    from facerec.auth import routes

    slow = routes.create_account

    def create_slowly(*args, **kwargs):
        time.sleep(0.3)  # both requests are past their first check by now
        return slow(*args, **kwargs)

    monkeypatch.setattr(routes, "create_account", create_slowly)
    statuses = []
    code = instance.setup_code(app)

    def submit(username):
        client = app.test_client()
        form = {
            "username": username,
            "password": "s3cret-pass",
            "confirm": "s3cret-pass",
            "code": code,
        }
        statuses.append(client.post("/setup", data=form).status_code)

    threads = [threading.Thread(target=submit, args=(n,)) for n in ("alice", "mallory")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [302, 404]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Account)) == 1
