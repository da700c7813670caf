"""The history page in a real browser: sightings appear while the camera runs, no reload."""

import pytest

from .conftest import CLIP, screenshot
from .test_browser_stream import signed_in_page

pytestmark = pytest.mark.browser


def test_does_the_history_list_a_sighting_that_appears_while_the_clip_plays(
    browser, app_factory, serve, enroll_known
):
    app = app_factory(FACEREC_CAMERA=str(CLIP))
    enroll_known(app)
    server = serve(app)
    page = signed_in_page(browser, app, server)
    page.goto(server.url + "/history")
    assert page.locator("#history-empty").is_visible()
    assert page.locator("tr[data-sighting-id]").count() == 0
    page.evaluate("window.notReloaded = true")

    app.extensions["cameras"].first().start()
    # The first face the camera tracks becomes a row, without the page being reloaded.
    page.wait_for_selector("tr[data-sighting-id]", timeout=60_000)
    assert page.evaluate("window.notReloaded") is True
    assert page.locator("#history-empty").is_hidden()
    page.wait_for_selector("tr[data-sighting-id] .person-link", timeout=60_000)
    names = page.locator("tr[data-sighting-id] .person-link").all_inner_texts()
    assert "lin-manuel-miranda" in names
    assert not set(names) & {"obama", "biden"}
    assert page.locator("tr[data-sighting-id] img.thumb").first.evaluate(
        "img => img.complete && img.naturalWidth > 0"
    )
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "history-live")
    app.extensions["cameras"].first().stop()
