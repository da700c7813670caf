"""The webhooks page in a real browser: add, send a test, see the delivery, remove."""

import json

import pytest

from facerec import events

from .conftest import TEST_PASSWORD, create_account, screenshot
from .receivers import Receiver

pytestmark = pytest.mark.browser


def test_can_an_operator_add_test_and_remove_a_webhook_in_a_browser(browser, app_factory, serve):
    # The receiver is on loopback, which only this setting lets webhooks reach.
    app = app_factory(WTF_CSRF_ENABLED=True, FACEREC_ALLOW_PRIVATE_TARGETS="1")
    create_account(app, "operator")
    receiver = Receiver()
    server = serve(app)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # The refused form below is answered 400 on purpose; any other console error counts.
    page.on(
        "console",
        lambda msg: (
            msg.type == "error" and "status of 400" not in msg.text and errors.append(msg.text)
        ),
    )
    try:
        page.goto(server.url + "/login")
        page.fill("#username", "operator")
        page.fill("#password", TEST_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(server.url + "/")
        page.click("text=Webhooks")
        page.wait_for_url(server.url + "/admin/webhooks")
        assert "No webhooks yet" in page.inner_text("main")
        assert "sends people's names" in page.inner_text("main")

        # A URL that is not http(s) is refused with the reason, and what was typed stays.
        page.fill("#url", "ftp://files.example.net/")
        page.click("text=Add webhook")
        assert "Only http:// and https://" in page.inner_text("main")
        assert page.input_value("#url") == "ftp://files.example.net/"

        page.fill("#url", receiver.url)
        page.fill("#secret", "s3cret")
        page.check("input[value='sighting.started']")
        page.click("text=Add webhook")
        page.wait_for_url(server.url + "/admin/webhooks")
        assert "Added the webhook" in page.inner_text(".flash")
        assert receiver.url in page.inner_text(".webhook-url")
        assert "sighting.started" in page.inner_text(".webhook")
        screenshot(page, "webhooks-01-added")

        page.click("text=Send test")
        page.wait_for_url(server.url + "/admin/webhooks")
        assert "Test delivered" in page.inner_text(".flash")
        assert page.locator("table.deliveries tbody tr").count() == 1
        assert "webhook.test" in page.inner_text("table.deliveries")
        assert json.loads(receiver.requests[0]["body"])["event"] == "webhook.test"
        screenshot(page, "webhooks-02-tested")

        page.click("text=Disable")
        assert "Disabled the webhook" in page.inner_text(".flash")
        assert page.inner_text(".webhook .badge") == "disabled"

        page.click("text=Remove")
        page.wait_for_url(server.url + "/admin/webhooks")
        assert "Removed the webhook" in page.inner_text(".flash")
        assert "No webhooks yet" in page.inner_text("main")
        assert errors == []
    finally:
        context.close()
        events.close(app)
        receiver.close()
