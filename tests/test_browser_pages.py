"""Every page in real Chromium: a phone (360x740) and a desktop (1280x800), light and dark.

On each, signed in as an admin with people, sightings, unknown visitors, cameras, webhooks,
notification targets and tokens present: nothing scrolls sideways (``scrollWidth <=
innerWidth``), no word of a name or a heading is broken inside, and axe-core
(axe-playwright-python, its bundled axe.min.js injected into the page: nothing is
downloaded) reports no serious or critical violation, colour contrast included. One app, one
server and one browser for the module; one test per size, which loads each page once and
checks it in light mode, then switched to dark mode in place.

``PAGES`` lists the pages visited, by endpoint. A route that answers GET with an HTML page and
is in neither ``PAGES`` nor ``NOT_PAGES`` fails ``test_is_every_page_in_the_list``, which says
what to add. Screenshots (the first screen) go to tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe

from facerec import shutdown
from facerec.extensions import db
from facerec.models import (
    ApiToken,
    Camera,
    NotificationDelivery,
    NotificationTarget,
    Sighting,
    Webhook,
    WebhookDelivery,
    utcnow,
)

from .conftest import (
    ARTIFACTS,
    LiveServer,
    add_camera,
    create_account,
    enroll,
    login_client,
    make_app,
)
from .test_unknowns import visitors

# The pages visited, by endpoint: each URL is filled in from the ids seed() returns
# ({user_id}, {camera}, {camera_id}, {sighting_id}). Pages shown to a signed-out visitor
# are in SIGNED_OUT. Add a new page here.
PAGES: dict[str, list[str]] = {
    "stream.live": ["/"],
    "stream.camera_view": ["/cameras/{camera}"],
    "auth.change_password": ["/account/password"],
    "auth.logout": ["/logout"],
    "admin.users": ["/admin/users", "/admin/users?q=zzz"],
    "admin.person": ["/admin/users/{user_id}"],
    "admin.delete_person": ["/admin/users/{user_id}/delete"],
    "admin.cameras": ["/admin/cameras"],
    "admin.edit_camera": ["/admin/cameras/{camera_id}"],
    "admin.tokens": ["/admin/tokens"],
    "admin.webhooks": ["/admin/webhooks"],
    "enroll.index": ["/enroll/"],
    "enroll.samples": ["/enroll/samples"],
    "enroll.review": ["/enroll/review"],
    "enroll.done": ["/enroll/done/{user_id}"],
    "history.index": ["/history", "/history?unknown=1"],
    "search.index": ["/history/search", "/history/search?sighting_id={sighting_id}"],
    "admin.accounts": ["/admin/accounts"],
    "admin.account": ["/admin/accounts/{account_id}"],
    "admin.audit": ["/admin/audit"],
    "admin.notifications": ["/admin/notifications"],
    "unknowns.index": ["/unknowns"],
    "unknowns.questions_page": ["/unknowns/questions"],
    "admin.health": ["/admin/health"],
    "api.docs": ["/api/v1/docs"],
}
SIGNED_OUT: dict[str, list[str]] = {
    "auth.setup": ["/setup"],  # visited before the first account exists
    "auth.login": ["/login"],
}
# Routes answering GET with something other than a page, and what they answer.
NOT_PAGES: dict[str, str] = {
    "static": "the CSS, scripts and icons",
    "admin.index": "a redirect to /admin/users",
    "search.audit": "a redirect to the audit page's face searches",
    "history.rows": "the rows the history page fetches to refresh itself (a fragment)",
    "monitoring.healthz": "JSON health",
    "monitoring.livez": "JSON health",
    "monitoring.readyz": "JSON health",
    "monitoring.metrics": "Prometheus text",
}
# Routes known not to be pages by their address: the JSON API (its docs page aside) and files.
NOT_PAGE_SUFFIXES = (".jpg", ".mjpg", ".csv", ".json")


def not_a_page(rule) -> bool:
    if rule.endpoint in NOT_PAGES or rule.rule.endswith(NOT_PAGE_SUFFIXES):
        return True
    return rule.rule.startswith("/api/") and rule.endpoint not in PAGES


@pytest.mark.sqlite_only
def test_is_every_page_in_the_list(app):
    listed = PAGES | SIGNED_OUT
    missing = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or not_a_page(rule) or rule.endpoint in listed:
            continue
        url = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        missing.append(
            f"{rule.rule} (endpoint {rule.endpoint}) is not visited by "
            f'tests/test_browser_pages.py: add "{rule.endpoint}": ["{url}"] to PAGES there '
            "(with something on the page: seed() adds the data and returns each {name} a URL "
            "uses), or, if it does not answer GET with an HTML page, add it to NOT_PAGES with "
            "what it answers."
        )
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    gone = [f"{name} is listed in PAGES but the app has no such endpoint" for name in listed
            if name not in endpoints]  # fmt: skip
    assert not missing + gone, "\n".join(missing + gone)


VIEWPORTS = {"phone": {"width": 360, "height": 740}, "desktop": {"width": 1280, "height": 800}}
SCHEMES = ("light", "dark")

SIDEWAYS = "() => document.documentElement.scrollWidth - window.innerWidth"
# What sticks out, to say where the sideways scroll comes from.
WIDE = """() => [...document.querySelectorAll("body *")]
  .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
  .slice(0, 4).map((e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
    + (e.className && typeof e.className === "string" ? "." + e.className.split(" ")[0] : ""))"""
WORDS_BROKEN = """
(selector) => {
  const broken = [];
  for (const el of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const m of node.data.matchAll(/[^\\s\\-\\/.,:;?=&()]+/g)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
        if (tops.size > 1) broken.push(m[0] + " in " + el.tagName.toLowerCase());
      }
    }
  }
  return broken;
}
"""
# Where a word must never be cut: headings, names, navigation, buttons, table cells.
WORD_PLACES = "h1, h2, h3, .nav a, .account a, .person-link, button, .button, th, td, label"


def seed(app, data_dir, tmp_path) -> dict:
    """Something on every page: people, sightings (known, unknown, by hand), two groups of
    unknown visitors, two cameras, a webhook and a notification target with deliveries, a
    token. Returns the ids."""
    people = [
        enroll(app, "Barack Hussein Obama II", data_dir / "known" / "obama.jpg"),
        enroll(app, "Alexandria Ocasio-Cortez", data_dir / "people" / "rose_leslie" / "img1.jpg"),
    ]
    groups = visitors(app)  # unknown sightings of two recurring visitors
    add_camera(app, "front-door", tmp_path / "missing-door.mp4")
    add_camera(app, "lab", tmp_path / "missing-lab.mp4", enabled=False)
    with app.app_context():
        now = utcnow()
        db.session.add(
            Sighting(
                camera="front-door",
                user_id=people[0],
                name="Barack Hussein Obama II",
                started_at=now - timedelta(minutes=5),
                ended_at=now - timedelta(minutes=4),
                frames=120,
                distance=0.41,
            )
        )
        # A close call (just inside the tolerance): a question on /unknowns/questions.
        db.session.add(
            Sighting(
                camera="front-door",
                user_id=people[1],
                name="Alexandria Ocasio-Cortez",
                started_at=now - timedelta(minutes=3),
                ended_at=now - timedelta(minutes=2),
                frames=40,
                distance=0.58,
            )
        )
        hook = Webhook(url="https://door.example.net/hooks/facerec", secret="s" * 32)
        db.session.add(hook)
        db.session.flush()
        db.session.add_all(
            [
                WebhookDelivery(webhook_id=hook.id, event="sighting.started", status_code=200),
                WebhookDelivery(webhook_id=hook.id, event="sighting.ended", error="refused"),
                ApiToken(name="door display", token_hash="0" * 64, prefix="frec_abc"),
            ]
        )
        target = NotificationTarget(
            url="ntfy://door-bell-user:secret-password@ntfy.example.net/front-door-visitors",
            who="unknown",
            cameras="front-door",
            days="1111100",
            start_minute=8 * 60,
            end_minute=18 * 60,
        )
        db.session.add(target)
        db.session.flush()
        db.session.add_all(
            [
                NotificationDelivery(target_id=target.id, camera="front-door", ok=True),
                NotificationDelivery(target_id=target.id, test=True, error="refused"),
            ]
        )
        db.session.commit()
        camera_id = db.session.query(Camera).filter_by(name="front-door").one().id
    return {
        "user_id": people[0],
        "camera": "front-door",
        "camera_id": camera_id,
        "sighting_id": groups["kit"][0],
    }


# A page that answers with an error on purpose: the error page is a page too.
MISSING = "/no-such-page"


# Dark mode changes colours only (app.css sets variables under prefers-color-scheme): the
# page, its layout and its markup are those of light mode. So each page is loaded once per
# size, checked in light mode, switched to dark in place (the browser applies the media change
# without reloading it) and checked again: in dark mode axe runs the rules that read colours;
# every rule runs in light mode, on both sizes. Only violations come back from axe (its
# resultTypes option): the passes, thousands of nodes on a long page, are not needed.
ALL_RULES = {"resultTypes": ["violations"]}
COLOUR_RULES = {
    "runOnly": {"type": "rule", "values": ["color-contrast", "link-in-text-block"]},
    "resultTypes": ["violations"],
}
AXE_SCRIPT = Axe().axe_script  # the package's bundled axe.min.js
AXE_RUN = "(options) => axe.run(document, options)"
# The page's own background: it is another colour in dark mode, or the page did not switch.
BACKGROUND = "() => getComputedStyle(document.documentElement).backgroundColor"


def check_look(page, label: str, options: dict, problems: list[str]):
    """Check the page as it is now shown (axe already injected); add what is wrong with it to
    ``problems``. Its first screen goes to tests/artifacts/ for people to look at (quicker than
    the whole page)."""
    name = "pages-" + re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    if (extra := page.evaluate(SIDEWAYS)) > 0:
        problems.append(f"{label}: scrolls {extra} px sideways: {page.evaluate(WIDE)}")
    if broken := page.evaluate(WORDS_BROKEN, WORD_PLACES):
        problems.append(f"{label}: words broken inside: {sorted(set(broken))[:8]}")
    for violation in page.evaluate(AXE_RUN, options)["violations"]:
        if violation["impact"] in ("serious", "critical"):
            where = [node["target"] for node in violation["nodes"][:3]]
            problems.append(
                f"{label}: axe {violation['impact']} {violation['id']} "
                f"({violation['help']}) at {json.dumps(where)}"
            )


def check(page, url: str, label: str, problems: list[str]):
    """Visit ``url`` once and check it in light then in dark mode; add what is wrong with it
    to ``problems``."""
    page.emulate_media(color_scheme="light")
    response = page.goto(url, wait_until="domcontentloaded")
    expected = 404 if url.endswith(MISSING) else 200
    if response is None or response.status != expected:
        problems.append(f"{label}: answered {response.status if response else 'nothing'}")
        return
    page.wait_for_timeout(50)  # what the page's scripts lay out on DOMContentLoaded
    page.evaluate(AXE_SCRIPT)  # once: both runs below use it
    check_look(page, f"{label} light", ALL_RULES, problems)
    light = page.evaluate(BACKGROUND)
    page.emulate_media(color_scheme="dark")
    if page.evaluate(BACKGROUND) == light:
        problems.append(f"{label}: does not turn dark in dark mode (background stays {light})")
    check_look(page, f"{label} dark", COLOUR_RULES, problems)


def visit(browser, server, urls, size, problems, cookie=None):
    """Every URL at one size, each in light and dark mode, in one browser context."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=VIEWPORTS[size])
    if cookie:
        context.add_cookies([{"name": "session", "value": cookie, "url": server.url}])
    page = context.new_page()
    try:
        for url in urls:
            check(page, server.url + url, f"{url} {size}", problems)
        if cookie:
            # The account's name is the way to its password page: it shows at every size.
            page.goto(server.url + "/", wait_until="domcontentloaded")
            for scheme in SCHEMES:
                page.emulate_media(color_scheme=scheme)
                if not page.locator('.account a[href="/account/password"]').is_visible():
                    problems.append(f"/ {size} {scheme}: no visible link to /account/password")
    finally:
        context.close()


@pytest.fixture(scope="module")
def site(browser, tmp_path_factory, data_dir):
    """One app with something on every page, served, and an admin's session cookie. The
    first-run page is visited here, at every size, before the first account exists."""
    tmp_path = tmp_path_factory.mktemp("pages")
    app = make_app(tmp_path, FACEREC_CAMERA="")
    server = LiveServer(app)
    try:
        ids = seed(app, data_dir, tmp_path)
        first_run = {size: [] for size in VIEWPORTS}
        for size in VIEWPORTS:
            visit(browser, server, SIGNED_OUT["auth.setup"], size, first_run[size])
        ids["account_id"] = create_account(app, "admin")
        # An admin in the middle of enrolling someone (the wizard's steps need a draft).
        client = login_client(app, app.test_client(), "admin")
        client.post("/enroll/", data={"name": "Grace Brewster Murray Hopper", "details": "Visitor"})
        with open(data_dir / "known" / "biden.jpg", "rb") as photo:
            client.post(
                "/enroll/samples/upload",
                data={"photos": [(photo, "biden.jpg")]},
                content_type="multipart/form-data",
            )
        cookie = client.get_cookie("session").value
        yield server, ids, cookie, first_run
    finally:
        server.stop()
        shutdown(app)


@pytest.mark.browser
@pytest.mark.parametrize("size", VIEWPORTS)
def test_does_every_page_fit_and_pass_an_accessibility_scan(browser, site, size):
    """Light and dark mode at one size: each page loaded once, checked in both."""
    server, ids, cookie, first_run = site
    problems = list(first_run[size])
    visit(browser, server, SIGNED_OUT["auth.login"], size, problems)
    urls = [url.format(**ids) for urls in PAGES.values() for url in urls]
    visit(browser, server, [*urls, MISSING], size, problems, cookie)
    assert problems == [], "\n".join(problems)


@pytest.mark.browser
def test_does_a_slow_upload_show_its_progress_then_every_line_of_its_answer(
    browser, site, data_dir, tmp_path
):
    server, _ids, cookie, _first_run = site
    upload_shows_its_progress(browser, server, cookie, data_dir, tmp_path)


def upload_shows_its_progress(browser, server, cookie, data_dir, tmp_path):
    """An upload that takes more than a second says how far it is, then the answer shows,
    every line of it."""
    context = browser.new_context(viewport=VIEWPORTS["phone"], color_scheme="dark")
    context.add_cookies([{"name": "session", "value": cookie, "url": server.url}])
    page = context.new_page()
    try:
        page.goto(server.url + "/enroll/samples", wait_until="domcontentloaded")
        # The server takes its time (as on the first check after a restart).
        page.route("**/enroll/samples/upload", lambda route: (time.sleep(2), route.continue_()))
        # A photo and files that are not photos: an answer of many lines on a phone.
        files = [data_dir / "unknown" / "obama2.jpg"]
        for number in range(1, 7):
            files.append(tmp_path / f"notes-{number}.txt")
            files[-1].write_text("not a photo\n")
        page.set_input_files("#photos", [str(path) for path in files])
        page.click("text=Upload and check")
        progress = page.locator(".upload-progress")
        progress.wait_for(state="visible", timeout=10_000)
        assert "Uploa" in progress.inner_text()
        for path in files:
            page.wait_for_selector(f".upload-results li:has-text('{path.name}')", timeout=60_000)
        assert page.url == server.url + "/enroll/samples"
        # Every line of the answer shows: the box is as tall as what it holds.
        hidden = page.evaluate(
            "() => { const box = document.querySelector('#upload-results');"
            " return box.scrollHeight - box.clientHeight; }"
        )
        assert hidden <= 1, f"the upload results hide {hidden} px of their lines"
    finally:
        context.close()
