"""One token cannot take the site down: requests waiting on the face engine hold no database
connection, and twenty clients posting photos get answers (200, 429 or 503, never 500)
while sign-in keeps answering. (The latency figures are bench/flood.py's.)"""

from __future__ import annotations

import io
import threading
import urllib.error
import urllib.request
from collections import Counter

import pytest

from .conftest import login_client
from .servers import Gunicorn, add_api_token, post_photo
from .test_auth import add_token, bearer

pytestmark = pytest.mark.sqlite_only


def test_do_requests_waiting_on_the_face_engine_hold_no_database_connection(app_factory, data_dir):
    """A pool of two connections, six recognitions waiting on one engine worker: the sign-in
    page and the people list still get a connection (before, each waiting request kept one
    and the others waited for the pool until they failed)."""
    app = app_factory(
        FACEREC_ENGINE_WORKERS=1,
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 2, "max_overflow": 0, "pool_timeout": 2},
    )
    token = "frec_flood-test-token-00000000"
    add_token(app, token)
    photo = (data_dir / "unknown" / "two_people.jpg").read_bytes()
    answers: list[int] = []

    def recognize():
        response = app.test_client().post(
            "/api/v1/recognize",
            data={"image": (io.BytesIO(photo), "two.jpg")},
            headers=bearer(token),
            content_type="multipart/form-data",
        )
        answers.append(response.status_code)

    recognitions = [threading.Thread(target=recognize) for _ in range(6)]
    for thread in recognitions:
        thread.start()
    browser = login_client(app, app.test_client())
    pages = []
    while any(thread.is_alive() for thread in recognitions):
        pages.append(app.test_client().get("/login").status_code)
        pages.append(browser.get("/admin/users").status_code)
    for thread in recognitions:
        thread.join()
    assert answers == [200] * 6
    assert pages and set(pages) == {200}, Counter(pages)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/recognize", "image"),
        ("/api/v1/sightings/search", "image"),
        ("/api/v1/users/{user}/samples", "image"),
        ("/api/v1/users/{user}/negatives", "image"),
        ("/admin/users/{user}/samples", "photos"),
        ("/history/search", "image"),
    ],
)
def test_does_a_request_hold_no_connection_while_the_engine_works(
    app_factory, data_dir, monkeypatch, path, field
):
    """Checked from inside: whether the request still holds its connection (is in a
    transaction) at the moment the face engine is asked. With the rate limits off, so that
    it is the view that gives the connection back (the limits' database storage commits)."""
    from facerec.engine.pool import Engine
    from facerec.extensions import db

    app = app_factory(RATELIMIT_ENABLED=False, FACEREC_TOLERANCE=0.3)
    client = login_client(app, app.test_client())
    user = client.post("/api/v1/users", json={"name": "Ada"}).get_json()["id"]
    held = []
    real_run = Engine.run

    def spying_run(self, *args, **kwargs):
        # The request's own session (the app's background threads, such as the unknowns'
        # look-again after a gallery change, hold connections of their own meanwhile).
        held.append(db.session().in_transaction())
        return real_run(self, *args, **kwargs)

    monkeypatch.setattr(Engine, "run", spying_run)
    photo = (data_dir / "unknown" / "two_people.jpg").read_bytes()
    response = client.post(
        path.format(user=user),
        data={field: (io.BytesIO(photo), "two.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code < 500, response.get_data(as_text=True)
    assert held and set(held) == {False}, held


def test_do_twenty_clients_on_one_token_get_200_429_or_503_and_never_500(tmp_path, data_dir):
    server = Gunicorn(
        tmp_path, threads=40, FACEREC_CAMERA="", FACEREC_RATE_LIMIT_RECOGNIZE="30 per minute"
    )
    try:
        token = add_api_token(server.database_url)
        photo = (data_dir / "known" / "obama.jpg").read_bytes()  # one face: search takes it
        statuses: Counter = Counter()
        sign_ins: Counter = Counter()
        lock = threading.Lock()

        def client(rounds: int):
            for _ in range(rounds):
                for path in ("/api/v1/recognize", "/api/v1/sightings/search"):
                    status = post_photo(server.url + path, token, photo)
                    with lock:
                        statuses[status] += 1

        clients = [threading.Thread(target=client, args=(3,)) for _ in range(20)]
        for thread in clients:
            thread.start()
        while any(thread.is_alive() for thread in clients):
            try:
                with urllib.request.urlopen(server.url + "/login", timeout=30) as page:
                    sign_ins[page.status] += 1
            except urllib.error.HTTPError as exc:
                sign_ins[exc.code] += 1
        for thread in clients:
            thread.join()
        assert sum(statuses.values()) == 120
        assert set(statuses) <= {200, 429, 503}, statuses
        assert statuses[429] > 0  # 60 recognitions asked, 30 allowed a minute
        assert set(sign_ins) == {200}, sign_ins
        assert "Traceback" not in server.output()
    finally:
        server.stop()
