"""Unknown visitors and face search in a real browser (headless Chromium through Playwright)."""

import re
from types import SimpleNamespace

import pytest

from facerec.extensions import db
from facerec.models import Sighting, User

from .conftest import TEST_PASSWORD, create_account, screenshot
from .test_unknowns import add_sighting, place, visitors

pytestmark = pytest.mark.browser


@pytest.fixture
def operator(browser, app_factory, serve):
    """An operator's browser page on a served app that has the visitors of test_unknowns.

    CSRF is on, as in production: every form has to carry the token.
    """
    app = app_factory(WTF_CSRF_ENABLED=True)
    create_account(app, "operator")
    ids = visitors(app)
    place(app)
    server = serve(app)
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    yield SimpleNamespace(app=app, ids=ids, server=server, page=page)
    page.context.close()


def sign_in(page, server, path):
    page.goto(server.url + path)
    assert "/login" in page.url
    page.fill("#username", "operator")
    page.fill("#password", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server.url + path)


def test_can_an_operator_enrol_an_unknown_visitor_from_the_unknowns_page(operator):
    app, ids, server, page = operator.app, operator.ids, operator.server, operator.page
    sign_in(page, server, "/unknowns")
    groups = page.locator("section.unknown-group")
    assert groups.count() == 2
    assert page.locator("nav .nav-badge").inner_text() == "2"
    kit = groups.filter(has_text="Seen 3 times on 3 days")
    assert kit.count() == 1
    screenshot(page, "unknowns-1-groups")

    kit.locator("input[name=name]").fill("Kit Harington")
    kit.locator("textarea[name=details]").fill("Delivers the post")
    kit.locator("button", has_text="Enrol as new person").click()

    page.wait_for_url(re.compile(r"/admin/users/\d+$"))
    assert "Enrolled Kit Harington with 3 samples." in page.inner_text(".flash")
    assert page.locator(".samples-card img").count() >= 3
    screenshot(page, "unknowns-2-enrolled")
    with app.app_context():
        user = db.session.query(User).one()
        assert (user.name, user.details) == ("Kit Harington", "Delivers the post")
        assert {db.session.get(Sighting, i).user_id for i in ids["kit"]} == {user.id}

    page.goto(server.url + "/unknowns")
    assert page.locator("section.unknown-group").count() == 1
    assert page.locator("nav .nav-badge").inner_text() == "1"
    page.locator("section.unknown-group button", has_text="Dismiss").click()
    page.wait_for_url(server.url + "/unknowns")
    assert page.locator(".empty").inner_text() == "No unknown visitors."
    assert page.locator("nav .nav-badge").count() == 0


def test_can_an_operator_search_the_history_by_face_in_a_browser(operator, data_dir):
    ids, server, page = operator.ids, operator.server, operator.page
    sign_in(page, server, "/history/search")
    # A photo with two faces: choose one from the numbered boxes.
    page.set_input_files("#image", str(data_dir / "people-test" / "kit_with_rose.jpg"))
    page.click("button:has-text('Search')")
    assert page.inner_text("h2") == "2 faces in this photo: which one?"
    assert page.locator("img.pick-photo").evaluate("img => img.naturalWidth") > 0
    screenshot(page, "search-1-choose")
    page.click("button:has-text('Search for face 1')")
    rows = page.locator("table.search-results tbody tr")
    assert rows.count() == 3
    assert sorted(int(r.get_attribute("data-sighting")) for r in rows.all()) == ids["kit"]
    screenshot(page, "search-2-results")

    # Find similar from a result, then the audit trail lists both searches.
    rows.first.locator("a", has_text="Find similar").click()
    assert page.locator("table.search-results tbody tr").count() == 3
    page.goto(server.url + "/history/searches")
    assert page.locator("table.audit tbody tr[data-action='sightings.searched']").count() == 2
    screenshot(page, "search-3-log")


def test_can_an_operator_tick_three_visitors_with_the_keyboard_and_assign_them(operator, data_dir):
    app, server, page = operator.app, operator.server, operator.page
    add_sighting(app, data_dir / "known" / "obama.jpg", minutes=9000)
    place(app)
    with app.app_context():
        db.session.add(User(name="Sam Someone", details=""))
        db.session.commit()
    sign_in(page, server, "/unknowns")
    assert page.locator("section.unknown-group").count() == 3

    for _ in range(3):
        page.keyboard.press("j")
        page.keyboard.press("x")
    assert page.inner_text("#bulk-count") == "3 visitors ticked."
    screenshot(page, "unknowns-3-ticked-with-the-keyboard")
    page.keyboard.press("a")
    assert page.evaluate("document.activeElement.id") == "bulk-person"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")

    page.wait_for_load_state()
    page.wait_for_selector(".flash")
    assert "3 visitors assigned to Sam Someone" in page.inner_text(".flash")
    assert page.locator(".empty").inner_text() == "No unknown visitors."
    screenshot(page, "unknowns-4-assigned-with-the-keyboard")
    with app.app_context():
        sam = db.session.query(User).filter_by(name="Sam Someone").one()
        assert db.session.query(Sighting).filter_by(user_id=sam.id).count() == 6
