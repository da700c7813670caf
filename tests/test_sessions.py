"""Sessions end when they should: sign-out and a password change revoke old cookies."""

from facerec.extensions import db
from facerec.models import Account

from .conftest import TEST_PASSWORD, create_account


def sign_in(app, username="tester"):
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": TEST_PASSWORD})
    assert response.status_code == 302
    return client


def copy_of_cookie(app, client):
    """Another client holding a copy of ``client``'s session cookie (a stolen cookie)."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def assert_signed_out(thief):
    page = thief.get("/admin/users")
    assert page.status_code == 302 and page.location.startswith("/login")
    api = thief.post("/api/v1/users", json={"name": "Mallory"})
    assert api.status_code == 401


def test_is_a_copied_session_cookie_refused_after_sign_out(app):
    create_account(app)
    client = sign_in(app)
    thief = copy_of_cookie(app, client)
    assert thief.get("/admin/users").status_code == 200  # the copy works while signed in
    assert client.post("/logout").status_code == 302
    assert_signed_out(thief)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Account)) == 1
        from facerec.models import User

        assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 0


def test_is_an_old_session_cookie_refused_after_accounts_set_password(app):
    create_account(app)
    client = sign_in(app)
    thief = copy_of_cookie(app, client)
    assert thief.get("/admin/users").status_code == 200
    result = app.test_cli_runner().invoke(
        args=["accounts", "set-password", "tester", "--password-stdin"],
        input="another long password\n",
    )
    assert result.exit_code == 0, result.output
    assert_signed_out(thief)
    assert_signed_out(client)
    # The new password opens a new session.
    again = app.test_client()
    response = again.post(
        "/login", data={"username": "tester", "password": "another long password"}
    )
    assert response.status_code == 302
    assert again.get("/admin/users").status_code == 200


def test_does_sign_out_everywhere_end_the_sessions_of_other_browsers(app):
    create_account(app)
    create_account(app, "other")
    laptop = sign_in(app)
    phone = sign_in(app)
    someone_else = sign_in(app, "other")
    page = laptop.get("/logout").get_data(as_text=True)
    assert "Sign out everywhere" in page
    # The top bar's button says what it does, on every page.
    top_bar = laptop.get("/admin/users").get_data(as_text=True).split("</header>")[0]
    assert ">Sign out everywhere</button>" in top_bar
    laptop.post("/logout")
    assert_signed_out(phone)
    # Another account's session is not touched.
    assert someone_else.get("/admin/users").status_code == 200


def test_does_a_remember_me_cookie_die_with_the_sessions(app):
    """The id Flask-Login keeps (session and remember cookie) carries the generation."""
    account_id = create_account(app)
    with app.app_context():
        account = db.session.get(Account, account_id)
        before = account.get_id()
        account.end_sessions()
        db.session.commit()
        assert account.get_id() != before
        from facerec.auth import load_account

        assert load_account(before) is None
        assert load_account(account.get_id()).id == account_id


def change_password(client, current, new, confirm=None):
    return client.post(
        "/account/password",
        data={"current": current, "password": new, "confirm": new if confirm is None else confirm},
    )


def test_does_changing_the_password_on_the_page_end_other_sessions_but_keep_this_one(app):
    create_account(app)
    client = sign_in(app)
    thief = copy_of_cookie(app, client)
    page = client.get("/account/password")
    assert page.status_code == 200 and "Current password" in page.get_data(as_text=True)

    changed = change_password(client, TEST_PASSWORD, "a brand new passphrase")
    assert changed.status_code == 302
    assert "Your password is changed" in client.get("/").get_data(as_text=True)
    assert client.get("/admin/users").status_code == 200  # this browser goes on
    assert_signed_out(thief)  # the copy made before the change is worthless

    old = app.test_client().post("/login", data={"username": "tester", "password": TEST_PASSWORD})
    assert old.status_code == 200 and "Wrong username or password." in old.get_data(as_text=True)
    sign_in_new = app.test_client().post(
        "/login", data={"username": "tester", "password": "a brand new passphrase"}
    )
    assert sign_in_new.status_code == 302


def test_does_the_password_page_refuse_bad_input_and_keep_the_password(app):
    create_account(app)
    client = sign_in(app)
    cases = [
        ("not my password", "a brand new passphrase", None, "That is not your current password."),
        (TEST_PASSWORD, "short", None, "too short"),
        (TEST_PASSWORD, "a brand new passphrase", "something else", "The passwords do not match."),
        (TEST_PASSWORD, TEST_PASSWORD, None, "The new password is the same as the current one."),
    ]
    for current, new, confirm, message in cases:
        response = change_password(client, current, new, confirm)
        assert response.status_code == 400, message
        assert message in response.get_data(as_text=True)
    assert client.get("/admin/users").status_code == 200  # still signed in
    assert sign_in(app)  # the old password still works


def test_are_wrong_current_passwords_throttled_like_sign_ins(app):
    create_account(app)
    client = sign_in(app)
    for _ in range(5):
        assert change_password(client, "guess", "a brand new passphrase").status_code == 400
    refused = change_password(client, TEST_PASSWORD, "a brand new passphrase")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "Try again in" in refused.get_data(as_text=True)


def test_is_the_password_page_closed_to_anonymous_visitors(app):
    create_account(app)
    response = app.test_client().get("/account/password")
    assert response.status_code == 302 and response.location.startswith("/login")
    posted = app.test_client().post("/account/password", data={"current": "x"})
    assert posted.status_code in (302, 401)
