"""Rate limits on what is expensive (Flask-Limiter, counts in the database): recognition,
search by face, uploads and sign-in; 429 with Retry-After, per token, account or address."""

from __future__ import annotations

import io

import pytest

from .conftest import TEST_PASSWORD, create_account, login_client
from .test_auth import add_token, bearer

# On SQLite alone but for the tests marked both_databases (see conftest.py): the counts are
# stored, so whether they survive a restart runs on both.
pytestmark = pytest.mark.sqlite_only

NOT_AN_IMAGE = b"GIF89a not really"  # refused at once, before the face engine: fast


def recognize(client, token: str) -> object:
    return client.post(
        "/api/v1/recognize",
        data={"image": (io.BytesIO(NOT_AN_IMAGE), "x.gif")},
        headers=bearer(token),
        content_type="multipart/form-data",
    )


@pytest.mark.both_databases
def test_does_a_token_over_its_recognize_limit_get_429_with_retry_after(app_factory):
    app = app_factory(FACEREC_RATE_LIMIT_RECOGNIZE="2 per minute")
    first, second = "frec_limited-token-one-0000000", "frec_limited-token-two-0000000"
    add_token(app, first)
    add_token(app, second)
    client = app.test_client()
    assert [recognize(client, first).status_code for _ in range(2)] == [400, 400]
    refused = recognize(client, first)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-RateLimit-Limit"] == "2"
    assert refused.get_json()["error"].startswith(
        "Too many recognition requests: at most 2 per minute for each token or account."
    )
    # Another token has a count of its own.
    assert recognize(client, second).status_code == 400

    # A restart (another server on the same database) keeps counting.
    again = app_factory(FACEREC_RATE_LIMIT_RECOGNIZE="2 per minute")
    assert recognize(again.test_client(), first).status_code == 429


def test_does_a_signed_in_account_meet_the_search_limit_on_the_page(app_factory, data_dir):
    app = app_factory(FACEREC_RATE_LIMIT_SEARCH="1 per minute")
    client = login_client(app, app.test_client())
    photo = (data_dir / "unknown" / "two_people.jpg").read_bytes()

    def search():
        return client.post(
            "/history/search",
            data={"image": (io.BytesIO(photo), "two.jpg")},
            content_type="multipart/form-data",
        )

    assert search().status_code in (200, 400)
    refused = search()
    assert refused.status_code == 429
    assert "Too many searches by face: at most 1 per minute" in refused.get_data(as_text=True)
    assert int(refused.headers["Retry-After"]) > 0
    # Another account of the same address is counted on its own.
    create_account(app, "other")
    other = login_client(app, app.test_client(), "other")
    assert other.get("/history/search").status_code == 200  # GET is not limited


def test_are_uploads_limited_per_account(app_factory):
    app = app_factory(FACEREC_RATE_LIMIT_UPLOADS="1 per minute")
    client = login_client(app, app.test_client())
    created = client.post("/api/v1/users", json={"name": "Ada"})
    assert created.status_code == 201

    def add_sample():
        return client.post(
            f"/api/v1/users/{created.get_json()['id']}/samples",
            data={"image": (io.BytesIO(NOT_AN_IMAGE), "x.gif")},
            content_type="multipart/form-data",
        )

    assert add_sample().status_code == 400  # the engine's word on it: not an image
    refused = add_sample()
    assert refused.status_code == 429
    assert "Too many photo uploads" in refused.get_json()["error"]


def test_is_sign_in_limited_per_address_and_per_username(app_factory):
    app = app_factory(FACEREC_RATE_LIMIT_SIGN_IN="3 per minute")
    create_account(app)

    def sign_in(address: str, username: str = "tester", password: str = TEST_PASSWORD):
        return (
            app.test_client()
            .post(
                "/login",
                data={"username": username, "password": password},
                environ_base={"REMOTE_ADDR": address},
            )
            .status_code
        )

    # One address trying many usernames (right or wrong) meets the limit.
    assert [sign_in("198.51.100.1", f"user{n}", "wrong") for n in range(3)] == [200] * 3
    assert sign_in("198.51.100.1") == 429
    # Many addresses trying one username meet it too.
    assert [sign_in(f"198.51.100.{n}", "victim", "wrong") for n in (10, 11, 12)] == [200] * 3
    assert sign_in("198.51.100.13", "victim", "wrong") == 429
    # Someone else, elsewhere, is not affected.
    assert sign_in("192.0.2.7") == 302
