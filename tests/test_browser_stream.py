"""The live page in a real browser (headless Chromium through Playwright)."""

import time

import cv2
import numpy as np
import pytest

from .conftest import CLIP, login_client, screenshot
from .test_stream import is_placeholder

pytestmark = pytest.mark.browser


def signed_in_page(browser, app, server):
    """A browser page carrying the session cookie of a signed-in operator."""
    client = login_client(app, app.test_client())
    cookie = client.get_cookie("session")
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.add_cookies([{"name": "session", "value": cookie.value, "url": server.url}])
    return context.new_page()


def stream_image(page) -> np.ndarray:
    png = page.locator("#stream").screenshot()
    return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)


def wait_until(page, predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        image = stream_image(page)
        if predicate(image):
            return image
        page.wait_for_timeout(250)
    raise AssertionError("the stream image never reached the expected state")


def is_live_video(image):
    # The placeholder is letterboxed dark grey; the clip is a real picture.
    return not is_placeholder(image) and image.std() > 25


def test_does_the_live_page_show_moving_frames_and_obey_stop_and_start(browser, app_factory, serve):
    app = app_factory(FACEREC_CAMERA=str(CLIP))
    server = serve(app)
    page = signed_in_page(browser, app, server)
    page.goto(server.url + "/")
    assert page.title().startswith("Live")

    page.click("#start")
    first = wait_until(page, is_live_video)
    page.wait_for_timeout(700)
    second = wait_until(page, is_live_video)
    assert np.abs(first.astype(int) - second.astype(int)).mean() > 1.0, "frames do not change"
    page.wait_for_function("document.getElementById('state').textContent === 'running'")
    assert page.is_disabled("#start") and page.is_enabled("#stop")
    screenshot(page, "live-running")

    page.click("#stop")
    wait_until(page, is_placeholder)
    page.wait_for_function("document.getElementById('state').textContent === 'stopped'")
    assert page.is_enabled("#start") and page.is_disabled("#stop")
    screenshot(page, "live-stopped")

    page.click("#start")
    resumed = wait_until(page, is_live_video)
    page.wait_for_timeout(700)
    later = wait_until(page, is_live_video)
    assert np.abs(resumed.astype(int) - later.astype(int)).mean() > 1.0
    page.context.close()
