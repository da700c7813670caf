"""The enrollment wizard in a real browser (headless Chromium through Playwright)."""

import itertools
import re
import time

import numpy as np
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from facerec import camera, engine, shutdown
from facerec.extensions import db
from facerec.models import Account, EnrollDraft, EnrollDraftSample

from .conftest import (
    CLIP,
    TEST_PASSWORD,
    LiveServer,
    create_account,
    login_client,
    make_app,
    screenshot,
)

pytestmark = pytest.mark.browser


def test_can_an_operator_enroll_a_person_with_uploads_in_a_browser(
    browser, app_factory, serve, data_dir
):
    # CSRF is on, as in production: every form and fetch() has to carry the token.
    app = app_factory(FACEREC_SNAPSHOTS=2, FACEREC_SNAPSHOTS_MIN=2, WTF_CSRF_ENABLED=True)
    create_account(app, "operator")
    server = serve(app)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(server.url + "/enroll/")
        assert "/login" in page.url
        page.fill("#username", "operator")
        page.fill("#password", TEST_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/enroll/$"))

        # Step 1: details, first without a name.
        page.click("text=Next: samples")
        assert page.locator(".field .errors").inner_text() == "A name is required."
        screenshot(page, "enroll-1-details-error")
        page.fill("#name", "Barack Obama")
        page.fill("#details", "44th President of the United States\nWashington, D.C.")
        screenshot(page, "enroll-1-details")
        page.click("text=Next: samples")
        page.wait_for_url(re.compile(r"/enroll/samples$"), wait_until="domcontentloaded")

        # Step 2: one good photo and one with two faces.
        assert page.locator("h1").inner_text() == "Samples of Barack Obama"
        assert "No camera is configured" in page.locator("#camera-off").inner_text()
        page.set_input_files(
            "#photos",
            [str(data_dir / "known" / "obama.jpg"), str(data_dir / "unknown" / "two_people.jpg")],
        )
        page.click("text=Upload and check")
        page.wait_for_selector(".flash-error", state="visible")
        assert page.locator(".flash-success").inner_text() == "obama.jpg: accepted."
        assert "two_people.jpg: 2 faces were found." in page.locator(".flash-error").inner_text()
        assert page.locator("#count").inner_text() == "1"
        assert "disabled" in page.locator("#to-review").get_attribute("class")
        screenshot(page, "enroll-2-samples-rejected")

        # Remove it again (a fetch() with the X-CSRFToken header), then upload two good ones.
        page.click("#thumbs button:has-text('Remove')")
        expect(page.locator("#count")).to_have_text("0")
        assert page.locator("#thumbs figure").count() == 0
        assert page.locator("#snapshot-result").inner_text() == "Sample removed."
        page.set_input_files(
            "#photos",
            [str(data_dir / "known" / "obama.jpg"), str(data_dir / "unknown" / "obama2.jpg")],
        )
        page.click("text=Upload and check")
        page.wait_for_selector("#thumbs figure >> nth=1")
        assert page.locator("#count").inner_text() == "2"
        assert page.locator("#thumbs img").evaluate_all(
            "imgs => imgs.every(img => img.complete && img.naturalWidth === 112)"
        )
        screenshot(page, "enroll-2-samples")

        # Step 3: review, then Save.
        page.click("text=Next: review")
        page.wait_for_url(re.compile(r"/enroll/review$"))
        assert page.locator("#review-name").inner_text() == "Barack Obama"
        assert page.locator(".review-thumbs img").count() == 2
        assert page.locator("#look-alike").count() == 0
        screenshot(page, "enroll-3-review")
        page.click("text=Save Barack Obama")
        page.wait_for_url(re.compile(r"/enroll/done/\d+$"))
        assert page.locator("h1").inner_text() == "Barack Obama is enrolled"
        assert page.locator("#sample-count").inner_text() == "2"
        screenshot(page, "enroll-4-done")

        # Listed among the people, and recognised in another photo of him.
        page.click("text=All people")
        page.wait_for_load_state()
        assert page.locator("td", has_text="Barack Obama").count() >= 1
        screenshot(page, "enroll-5-people")
        token = page.locator('meta[name="csrf-token"]').get_attribute("content")
        photo = (data_dir / "unknown" / "obama-480p.jpg").read_bytes()
        response = page.request.post(
            server.url + "/api/v1/recognize",
            multipart={
                "image": {"name": "obama-480p.jpg", "mimeType": "image/jpeg", "buffer": photo}
            },
            headers={"X-CSRFToken": token},
        )
        assert response.status == 200, response.text()
        assert [face["name"] for face in response.json()["faces"]] == ["Barack Obama"]
    finally:
        context.close()


def test_can_an_operator_start_the_camera_and_take_a_snapshot_in_a_browser(
    browser, app_factory, serve
):
    app = app_factory(FACEREC_CAMERA=str(CLIP), FACEREC_SNAPSHOTS=1, WTF_CSRF_ENABLED=True)
    server = serve(app)
    client = login_client(app, app.test_client())
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies(
        [{"name": "session", "value": client.get_cookie("session").value, "url": server.url}]
    )
    page = context.new_page()
    try:
        page.goto(server.url + "/enroll/", wait_until="domcontentloaded")
        page.fill("#name", "Lin-Manuel Miranda")
        page.click("text=Next: samples")
        page.wait_for_url(re.compile(r"/enroll/samples$"), wait_until="domcontentloaded")
        notice = page.locator("#camera-off")
        assert "The camera is not running" in notice.inner_text()
        screenshot(page, "enroll-2-camera-stopped")

        page.click("text=Start camera")  # a fetch() to /api/v1/stream/start with the CSRF header
        expect(notice).to_be_hidden(timeout=20_000)
        messages = []
        for _attempt in range(40):
            page.click("#snapshot")
            expect(page.locator("#snapshot")).to_be_enabled(timeout=30_000)
            message = page.locator("#snapshot-result").inner_text()
            messages.append(message)
            if message == "Sample 1 of 1 accepted.":
                break
            page.wait_for_timeout(200)
        assert messages[-1] == "Sample 1 of 1 accepted.", messages
        expect(page.locator("#count")).to_have_text("1")
        caption = page.locator("#thumbs figure figcaption").inner_text()
        assert caption.startswith("camera main, frame")
        assert "disabled" not in page.locator("#to-review").get_attribute("class")
        assert page.locator(".steps a", has_text="3 · Review").count() == 1
        screenshot(page, "enroll-2-camera-snapshot")
    finally:
        context.close()


@pytest.fixture(scope="module")
def clip_server(tmp_path_factory):
    """(app, server): the clip playing as the camera, for the module's auto-capture tests:
    each signs in as an account of its own, so each has a draft of its own."""
    app = make_app(tmp_path_factory.mktemp("clip"), FACEREC_CAMERA=str(CLIP), WTF_CSRF_ENABLED=True)
    server = LiveServer(app)
    try:
        # What a server does once in its life, not per snapshot: start the face job processes
        # (dlib's models) and the camera.
        engine.of(app).run(abs, -1)
        with app.app_context():
            camera.service().start()
        client = login_client(app, app.test_client())
        deadline = time.monotonic() + 30
        while not client.get("/api/v1/stream/status").get_json()["running"]:
            assert time.monotonic() < deadline, "the clip did not start"
            time.sleep(0.2)
        yield app, server
    finally:
        server.stop()
        shutdown(app)


@pytest.fixture
def clip_wizard(browser, clip_server, request):
    """(app, page, draft id): the samples step for Lin-Manuel Miranda (5 samples at most), the
    clip playing as the camera, signed in as an account of this test's own."""
    app, server = clip_server
    client = login_client(app, app.test_client(), request.node.name[:60])
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies(
        [{"name": "session", "value": client.get_cookie("session").value, "url": server.url}]
    )
    page = context.new_page()
    page.goto(server.url + "/enroll/", wait_until="domcontentloaded")
    page.fill("#name", "Lin-Manuel Miranda")
    page.click("text=Next: samples")
    page.wait_for_url(re.compile(r"/enroll/samples$"), wait_until="domcontentloaded")
    expect(page.locator("#camera-off")).to_be_hidden(timeout=20_000)
    with app.app_context():
        account = db.session.scalars(
            select(Account).filter_by(username=request.node.name[:60])
        ).one()
        draft = db.session.scalars(select(EnrollDraft).filter_by(account_id=account.id)).one()
    yield app, page, draft.id
    context.close()


def test_does_auto_capture_collect_the_samples_from_the_clip_without_a_click_each(clip_wizard):
    app, page, draft = clip_wizard
    page.click("#auto-capture")
    expect(page.locator("#auto-stop")).to_be_visible()
    started = time.monotonic()
    expect(page.locator("#count")).to_have_text("5", timeout=20_000)
    took = time.monotonic() - started
    expect(page.locator("#auto-status")).to_have_text("Auto-capture done: 5 of 5 samples taken.")
    expect(page.locator("#auto-stop")).to_be_hidden()
    assert page.locator("#thumbs figure").count() == 5
    screenshot(page, "enroll-2-auto-capture")
    with app.app_context():
        rows = db.session.scalars(
            select(EnrollDraftSample).filter_by(draft_id=draft).order_by(EnrollDraftSample.id)
        ).all()
        gaps = [(b.created_at - a.created_at).total_seconds() for a, b in itertools.pairwise(rows)]
        vectors = [row.vector for row in rows]
    assert len(rows) == 5 and took < 20
    assert min(gaps) >= 0.6  # spaced in time...
    assert all(  # ...and in pose: no two samples near-duplicates
        np.linalg.norm(a - b) >= 0.15 for i, a in enumerate(vectors) for b in vectors[i + 1 :]
    )


def test_does_stop_end_auto_capture(clip_wizard):
    _app, page, _draft = clip_wizard
    page.click("#auto-capture")
    page.click("#auto-stop")
    expect(page.locator("#auto-capture")).to_be_visible()
    expect(page.locator("#auto-status")).to_contain_text("Auto-capture stopped:")
    page.wait_for_timeout(1000)  # a check already on its way may still land
    taken = page.locator("#count").inner_text()
    page.wait_for_timeout(2500)
    assert page.locator("#count").inner_text() == taken  # nothing more was taken
    assert page.locator("#snapshot").is_enabled()
