"""Roles in a real browser (headless Chromium through Playwright): what a viewer sees, and an
admin giving a viewer more."""

import pytest

from .conftest import TEST_PASSWORD, create_account, screenshot
from .test_unknowns import visitors

pytestmark = pytest.mark.browser

ADMIN_PAGES = ("People", "History", "Enroll", "Cameras", "Unknowns", "Search")
ADMIN_LINKS = ("Accounts", "Audit", "API tokens", "Webhooks")


def sign_in(page, server, username):
    page.goto(server.url + "/login")
    page.fill("#username", username)
    page.fill("#password", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server.url + "/")


def navigation(page) -> list[str]:
    """The main navigation's links, without their badges ("Unknowns 2" is "Unknowns")."""
    return [text.split()[0] for text in page.locator("nav.nav a").all_inner_texts()]


def test_does_a_viewer_see_no_admin_navigation_until_an_admin_makes_them_an_operator(
    browser, app_factory, serve
):
    app = app_factory(WTF_CSRF_ENABLED=True)
    create_account(app, "ada", role="admin")
    create_account(app, "vic", role="viewer")
    visitors(app)
    server = serve(app)
    viewer = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
    admin = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
    errors = []
    for page in (viewer, admin):
        page.on("pageerror", lambda exc: errors.append(str(exc)))

    # The viewer: the live page and nothing to administer, in the navigation or elsewhere.
    sign_in(viewer, server, "vic")
    links = navigation(viewer)
    assert "Live" in links
    assert not set(links) & set(ADMIN_PAGES), links
    account_links = viewer.locator(".account a").all_inner_texts()
    assert not set(account_links) & set(ADMIN_LINKS), account_links
    assert viewer.locator("#start").count() == 0  # no Start/Stop: cameras are the admin's
    screenshot(viewer, "roles-1-viewer")
    refused = viewer.goto(server.url + "/unknowns")
    assert refused.status == 403
    assert "This needs the operator role" in viewer.inner_text("main")

    # The admin makes vic an operator on the accounts page.
    sign_in(admin, server, "ada")
    assert set(ADMIN_LINKS) <= set(admin.locator(".account a").all_inner_texts())
    admin.click(".account a:text('Accounts')")
    admin.wait_for_url(server.url + "/admin/accounts")
    assert admin.inner_text("tr[data-account=vic] .account-role") == "viewer"
    admin.click("tr[data-account=vic] a")
    admin.select_option("#role", "operator")
    admin.click("button:text('Save')")
    assert "“vic” is now an operator (every camera)." in admin.inner_text(".flash")
    screenshot(admin, "roles-2-promoted")

    # The viewer's next page load: the unknown visitors are there.
    viewer.goto(server.url + "/")
    assert "Unknowns" in navigation(viewer)
    viewer.click("nav.nav a:text('Unknowns')")
    viewer.wait_for_url(server.url + "/unknowns")
    assert viewer.locator("section.unknown-group").count() == 2
    assert not set(viewer.locator(".account a").all_inner_texts()) & set(ADMIN_LINKS)
    screenshot(viewer, "roles-3-operator-unknowns")
    assert errors == []
