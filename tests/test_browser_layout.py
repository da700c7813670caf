"""Every page on a phone (390x844) and in dark mode, in real Chromium: nothing sideways.

Checked on each page: no horizontal scroll, no word of a name broken across lines, the
navigation in at most two rows (with nine links, as many as the product will have), and in
dark mode dark surfaces with light text. Screenshots land in tests/artifacts/ for people.
"""

from __future__ import annotations

import pytest

from facerec import web
from facerec.extensions import db
from facerec.models import ApiToken

from .conftest import enroll, login_client, screenshot

pytestmark = pytest.mark.browser

LONG_NAMES = ["Barack Hussein Obama II", "Alexandria Ocasio-Cortez", "Kit Harington"]

# Nine links in all (Live comes first): what the navigation holds once History, Unknowns,
# Cameras and Webhooks are in, pointed at pages that exist today.
NINE = [
    ("enroll.index", "Enroll"),
    ("admin.users", "People"),
    ("admin.users", "History"),
    ("admin.users", "Unknowns"),
    ("admin.cameras", "Cameras"),
    ("admin.users", "Webhooks"),
    ("admin.tokens", "Tokens"),
    ("api.docs", "API"),
]

WORDS_BROKEN = """
(selector) => {
  const broken = [];
  for (const el of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      // Words end at spaces and hyphens: "Ocasio-" / "Cortez" is how hyphenated names wrap.
      for (const m of node.data.matchAll(/[^\\s-]+/g)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
        if (tops.size > 1) broken.push(m[0]);
      }
    }
  }
  return broken;
}
"""

NAV_ROWS = "() => new Set([...document.querySelectorAll('.nav a')].map(a => a.offsetTop)).size"
SIDEWAYS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
LUMINANCE = """
(selectors) => {
  const el = selectors.map((s) => document.querySelector(s)).find((e) => e);
  const rgb = getComputedStyle(el);
  const lum = (c) => {
    const [r, g, b] = c.match(/\\d+/g).map(Number);
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
  };
  return [lum(rgb.backgroundColor), lum(rgb.color)];
}
"""


@pytest.fixture
def site(app_factory, serve, data_dir, monkeypatch):
    monkeypatch.setattr(web, "NAV", NINE)
    app = app_factory(FACEREC_CAMERA="")
    ids = [
        enroll(app, LONG_NAMES[0], data_dir / "known" / "obama.jpg"),
        enroll(app, LONG_NAMES[1], data_dir / "people" / "rose_leslie" / "img1.jpg"),
        enroll(app, LONG_NAMES[2], data_dir / "people" / "kit_harington" / "john1.jpeg"),
    ]
    with app.app_context():
        token = ApiToken(name="door display", token_hash="0" * 64, prefix="frec_abc")
        db.session.add(token)
        db.session.commit()
    client = login_client(app, app.test_client())
    return serve(app), client, ids


PAGES = [
    ("live", "/"),
    ("people", "/admin/users"),
    ("people-search", "/admin/users?q=obama"),
    ("person", "/admin/users/{id}"),
    ("unknowns", "/unknowns"),
    ("questions", "/unknowns/questions"),
    ("health", "/admin/health"),
    ("tokens", "/admin/tokens"),
    ("enroll-details", "/enroll/"),
    ("api-docs", "/api/v1/docs"),
]


def check_page(page, name: str, scheme: str, problems: list[str]):
    """Check the page as it is now shown in ``scheme``; add what is wrong to ``problems``."""
    screenshot(page, f"phone-{scheme}-{name}")
    if (extra := page.evaluate(SIDEWAYS)) > 0:
        problems.append(f"{name} {scheme}: scrolls {extra} px sideways")
    if broken := page.evaluate(WORDS_BROKEN, "h1, .person-link, .nav a, .account a"):
        problems.append(f"{name} {scheme}: words broken inside: {broken}")
    if (rows := page.evaluate(NAV_ROWS)) > 2:
        problems.append(f"{name} {scheme}: navigation on {rows} rows")
    if scheme == "dark":
        # The root paints the page (body and main are transparent); a card where there is one.
        background, ink = page.evaluate(LUMINANCE, ["html"])
        card_bg, card_ink = page.evaluate(LUMINANCE, [".card", "main"])
        if not (background < 0.2 and ink > 0.7 and card_bg < 0.25 and card_ink > 0.7):
            problems.append(
                f"{name}: not dark (page {background:.2f}/{ink:.2f}, "
                f"card {card_bg:.2f}/{card_ink:.2f})"
            )


def test_does_every_page_fit_a_phone_without_breaking_names(browser, site):
    """Light and dark mode: each page loaded once, checked in light mode, then switched to
    dark in place (app.css follows prefers-color-scheme without a reload) and checked again."""
    server, client, ids = site
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.add_cookies(
        [{"name": "session", "value": client.get_cookie("session").value, "url": server.url}]
    )
    page = context.new_page()
    problems = []
    try:
        for name, path in PAGES:
            page.emulate_media(color_scheme="light")
            page.goto(server.url + path.format(id=ids[0]), wait_until="domcontentloaded")
            page.wait_for_timeout(100)
            for scheme in ("light", "dark"):
                page.emulate_media(color_scheme=scheme)
                check_page(page, name, scheme, problems)
        # The search box keeps room for a word, not "Searc".
        page.goto(server.url + "/admin/users", wait_until="domcontentloaded")
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            width = page.locator(".search input[type=search]").bounding_box()["width"]
            assert width >= 200, (scheme, width)
    finally:
        context.close()
    assert problems == []


def test_does_the_review_of_a_long_name_fit_a_phone(browser, app_factory, serve, data_dir):
    app = app_factory(FACEREC_CAMERA="")
    client = login_client(app, app.test_client())
    client.post("/enroll/", data={"name": "Barack Hussein Obama II", "details": ""})
    with open(data_dir / "known" / "obama.jpg", "rb") as photo:
        client.post(
            "/enroll/samples/upload",
            data={"photos": [(photo, "obama.jpg")]},
            content_type="multipart/form-data",
        )
    server = serve(app)
    context = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark")
    context.add_cookies(
        [{"name": "session", "value": client.get_cookie("session").value, "url": server.url}]
    )
    page = context.new_page()
    try:
        for name in ("samples", "review"):
            page.goto(f"{server.url}/enroll/{name}", wait_until="domcontentloaded")
            screenshot(page, f"phone-dark-enroll-{name}")
            assert page.evaluate(SIDEWAYS) <= 0
            assert page.evaluate(WORDS_BROKEN, "h1, #review-name, .upload-results li") == []
    finally:
        context.close()
