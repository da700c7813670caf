"""Accounts and admin pages in a real browser (headless Chromium through Playwright)."""

import pytest
from sqlalchemy import func, select

from facerec.extensions import db
from facerec.models import Account, FaceSample, User

from .conftest import enroll, screenshot

pytestmark = pytest.mark.browser

PASSWORD = "a-browser-password"


def test_can_an_operator_set_up_sign_in_and_manage_people_in_a_browser(
    browser, app_factory, serve, data_dir
):
    app = app_factory()
    people = data_dir / "people"
    obama = enroll(app, "obama", people / "obama/obama.jpg", people / "obama/obama2.jpg")
    enroll(app, "biden", people / "biden/biden.jpg", people / "biden/biden2.jpg")
    enroll(app, "rose leslie", people / "rose_leslie/img1.jpg")
    server = serve(app)
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))

    # No account yet: the admin pages lead to the setup page.
    page.goto(server.url + "/admin/users")
    assert page.url == server.url + "/setup"
    screenshot(page, "admin-01-setup")
    from facerec import instance

    page.fill("#code", instance.setup_code(app))
    page.fill("#username", "operator")
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server.url + "/")
    assert "Welcome, operator" in page.inner_text(".flash")
    assert page.inner_text(".account-name") == "operator"

    # Sign out, then sign in again through the login page.
    page.click(".account .link-button")
    page.wait_for_url(server.url + "/login")
    assert "You have signed out." in page.inner_text(".flash")
    page.goto(server.url + "/admin/users")
    assert page.url.startswith(server.url + "/login?next=")
    page.fill("#username", "operator")
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    assert "Wrong username or password." in page.inner_text(".auth-card")
    screenshot(page, "admin-02-login-failed")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server.url + "/admin/users")
    assert page.locator("a.person-link").all_inner_texts() == ["biden", "obama", "rose leslie"]
    thumbs = page.locator("table.people img.thumb")
    assert thumbs.count() == 3
    assert all(
        thumbs.nth(i).evaluate("img => img.complete && img.naturalWidth > 0") for i in range(3)
    )
    screenshot(page, "admin-03-people")

    # Search.
    page.fill("input[name=q]", "OBA")
    page.click(".search button[type=submit]")
    page.wait_for_url("**/admin/users?q=OBA*")
    assert page.locator("a.person-link").all_inner_texts() == ["obama"]
    screenshot(page, "admin-04-search")

    # Edit the name and details.
    page.click("a.person-link")
    page.wait_for_url(f"{server.url}/admin/users/{obama}")
    assert page.locator(".thumbs img").count() == 2
    page.fill("#name", "Barack Obama")
    page.fill("#details", "44th president")
    page.click("text=Save changes")
    page.wait_for_url(f"{server.url}/admin/users/{obama}")
    assert "Renamed “obama” to “Barack Obama”" in page.inner_text(".flash")
    assert page.inner_text("h1") == "Barack Obama"
    screenshot(page, "admin-05-person-edited")

    # Delete one sample: the browser asks first, and Cancel keeps it.
    questions = []

    def answer(dialog, accept):
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, False))
    page.click("button[aria-label='Delete sample 1']")
    assert questions == ["Delete sample 1 of Barack Obama? This cannot be undone."]
    assert page.locator(".thumbs img").count() == 2
    page.once("dialog", lambda dialog: answer(dialog, True))
    page.click("button[aria-label='Delete sample 1']")
    page.wait_for_url(f"{server.url}/admin/users/{obama}")
    assert "Deleted a sample of Barack Obama." in page.inner_text(".flash")
    assert page.locator(".thumbs img").count() == 1
    screenshot(page, "admin-06-sample-deleted")

    # Delete the person, through the confirmation page.
    page.click("text=Delete person…")
    page.wait_for_url(f"{server.url}/admin/users/{obama}/delete")
    assert page.inner_text("h1") == "Delete Barack Obama?"
    screenshot(page, "admin-07-delete-confirm")
    page.click("button.danger")
    page.wait_for_url(server.url + "/admin/users")
    assert "Deleted Barack Obama" in page.inner_text(".flash")
    assert page.locator("a.person-link").all_inner_texts() == ["biden", "rose leslie"]
    screenshot(page, "admin-08-person-deleted")

    # API tokens page: a token is shown once.
    page.click("text=API tokens")
    page.wait_for_url(server.url + "/admin/tokens")
    page.fill("#name", "door display")
    page.click("text=Create token")
    token = page.inner_text("#new-token").strip()
    assert token.startswith("frec_")
    # Copy puts it on the clipboard and says so.
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    page.click("button[data-copy=new-token]")
    page.wait_for_selector("button[data-copy=new-token]:has-text('Copied')")
    assert page.evaluate("navigator.clipboard.readText()") == token
    # The page highlights where you are: API tokens, not People.
    assert page.locator(".nav a.active").count() == 0
    assert page.locator(".account a.active").inner_text() == "API tokens"
    screenshot(page, "admin-09-token-created")

    # Revoking asks first.
    page.once("dialog", lambda dialog: answer(dialog, True))
    page.click("button[aria-label='Revoke door display']")
    page.wait_for_url(server.url + "/admin/tokens")
    assert questions[-1].startswith("Revoke the token “door display”?")
    assert "Revoked the token “door display”" in page.inner_text(".flash")

    # Sign out.
    page.click(".account .link-button")
    page.wait_for_url(server.url + "/login")
    screenshot(page, "admin-10-signed-out")
    page.goto(server.url + "/admin/users")
    assert page.url.startswith(server.url + "/login")

    assert errors == []
    context.close()
    with app.app_context():
        assert db.session.get(User, obama) is None
        assert db.session.scalar(select(func.count(FaceSample.id)).filter_by(user_id=obama)) == 0
        assert db.session.scalar(select(func.count(Account.id))) == 1
