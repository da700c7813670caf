"""Several cameras in a real browser: the grid and the single view."""

import cv2
import numpy as np
import pytest

from .conftest import CLIP, add_camera, screenshot
from .servers import wait_for
from .test_browser_stream import is_live_video, signed_in_page

pytestmark = pytest.mark.browser


def tile_image(page, name) -> np.ndarray:
    png = page.locator(f'.camera-tile[data-camera="{name}"] img').screenshot()
    return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)


def wait_for_live(page, grab, timeout=30.0):
    deadline = page.evaluate("Date.now()") + timeout * 1000
    while page.evaluate("Date.now()") < deadline:
        image = grab()
        if is_live_video(image):
            return image
        page.wait_for_timeout(250)
    raise AssertionError("the image never showed live video")


def test_does_the_grid_show_every_camera_moving_and_open_a_single_view(
    browser, app_factory, serve, photo_video, enroll_known
):
    app = app_factory()
    enroll_known(app)
    for name, source in (("hamilton", CLIP), ("office", photo_video)):
        add_camera(app, name, source).start()
    registry = app.extensions["cameras"]
    assert wait_for(lambda: all(s.state == "running" for s in registry.services()))
    server = serve(app)
    page = signed_in_page(browser, app, server)
    page.goto(server.url + "/")
    assert page.locator(".camera-tile").count() == 2

    for name in ("hamilton", "office"):
        first = wait_for_live(page, lambda n=name: tile_image(page, n))
        page.wait_for_timeout(800)

        # Another frame follows: the tile is not frozen. (One look 800 ms later could land a
        # whole loop of the 3 s office video on, on a busy machine, on the very same frame.)
        def moved(n=name, before=first):
            return np.abs(before.astype(int) - tile_image(page, n).astype(int)).mean() > 0.5

        assert wait_for(moved, timeout=10), f"{name} is frozen"
    assert wait_for(lambda: page.locator(".tile-state").all_inner_texts() == ["running"] * 2)
    screenshot(page, "cameras-grid")

    page.click('.camera-tile[data-camera="office"]')
    page.wait_for_url(server.url + "/cameras/office")
    stream = page.locator("#stream")
    assert stream.get_attribute("src") == "/cameras/office/stream.mjpg"

    def grab():
        png = stream.screenshot()
        return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)

    wait_for_live(page, grab)
    # Who is in view: the office video shows biden and obama.
    assert wait_for(
        lambda: {"biden", "obama"} <= set(page.locator("#faces li span").all_inner_texts()),
        timeout=90,
    )
    screenshot(page, "cameras-single")
    page.click("#stop")
    assert wait_for(lambda: page.locator("#state").inner_text() == "stopped")
    assert not registry.get("office").running
    assert registry.get("hamilton").running  # only this camera stopped
    page.click("#start")
    assert wait_for(lambda: page.locator("#state").inner_text() == "running")
    wait_for_live(page, grab)

    # The single view's address is a bookmark: opened afresh it shows the same camera.
    page.goto(server.url + "/cameras/office")
    assert page.locator("h1.camera-title").inner_text() == "office"

    # The cameras page tests a camera in place: a snapshot of its current frame.
    page.goto(server.url + "/admin/cameras")
    page.click('button[aria-label="Test office"]')
    snapshot = page.locator("#test-snapshot")
    assert snapshot.evaluate("img => img.complete && img.naturalWidth") == 640
    screenshot(page, "cameras-admin")
    page.context.close()
