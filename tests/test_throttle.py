"""Sign-in throttling: per account and per address; X-Forwarded-For only behind trusted proxies."""

import pytest

from .conftest import TEST_PASSWORD, create_account

# On SQLite alone (see conftest.py): each server keeps its own throttle in memory.
pytestmark = pytest.mark.sqlite_only


def attempt(client, username, password, address="192.0.2.1", forwarded_for=None):
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.post(
        "/login",
        data={"username": username, "password": password},
        headers=headers,
        environ_base={"REMOTE_ADDR": address},
    )


def test_do_five_wrong_passwords_for_one_account_leave_another_accounts_sign_in_open(app):
    """Behind one proxy everybody shares its address: Alice's typos must not lock Bob out."""
    create_account(app, "alice")
    create_account(app, "bob")
    for _ in range(6):
        attempt(app.test_client(), "alice", "wrong password!")
    assert attempt(app.test_client(), "alice", "wrong password!").status_code == 429
    assert attempt(app.test_client(), "bob", TEST_PASSWORD).status_code == 302


def test_is_an_address_spraying_many_accounts_blocked(app):
    create_account(app)
    for number in range(20):
        attempt(app.test_client(), f"user{number}", "guess-guess")
    blocked = attempt(app.test_client(), "tester", TEST_PASSWORD)
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    # Somebody else, elsewhere, is not affected.
    assert attempt(app.test_client(), "tester", TEST_PASSWORD, "198.51.100.7").status_code == 302


def test_does_an_account_under_attack_from_many_addresses_still_open_for_its_owner(app):
    create_account(app)
    # The owner signed in from home before.
    assert attempt(app.test_client(), "tester", TEST_PASSWORD, "203.0.113.10").status_code == 302
    for number in range(12):  # a botnet: two guesses from each of many addresses
        attempt(app.test_client(), "tester", "guess-guess", f"198.51.100.{number // 2}")
    stranger = attempt(app.test_client(), "tester", "guess-guess", "198.51.100.200")
    assert stranger.status_code == 429
    assert "many addresses" in stranger.get_data(as_text=True)
    # The right password from the owner's address still works.
    assert attempt(app.test_client(), "tester", TEST_PASSWORD, "203.0.113.10").status_code == 302


def test_is_x_forwarded_for_ignored_without_trusted_proxies(app):
    create_account(app)
    for number in range(5):  # a client making up a new address for every guess
        attempt(app.test_client(), "tester", "guess-guess", forwarded_for=f"10.9.9.{number}")
    response = attempt(app.test_client(), "tester", "guess-guess", forwarded_for="10.9.9.99")
    assert response.status_code == 429


def test_is_x_forwarded_for_honoured_behind_a_trusted_proxy(app_factory):
    app = app_factory(FACEREC_TRUSTED_PROXIES=1)
    create_account(app)
    proxy = "127.0.0.1"
    for _ in range(5):
        attempt(app.test_client(), "tester", "guess-guess", proxy, forwarded_for="203.0.113.5")
    guesser = attempt(app.test_client(), "tester", TEST_PASSWORD, proxy, "203.0.113.5")
    assert guesser.status_code == 429
    # Another client of the same proxy is another address: the right password works.
    owner = attempt(app.test_client(), "tester", TEST_PASSWORD, proxy, "203.0.113.6")
    assert owner.status_code == 302
    # Only the proxy's own entry is trusted: an address the client prepends is not used.
    spoofed = attempt(
        app.test_client(), "tester", TEST_PASSWORD, proxy, forwarded_for="1.2.3.4, 203.0.113.5"
    )
    assert spoofed.status_code == 429
