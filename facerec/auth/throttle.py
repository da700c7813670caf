"""Slowing down password guessing: failed sign-ins counted per account and per address.

Three counts, each over a sliding window (a minute by default):

* an address and an account together (``limit`` failures): that address is guessing this
  account's password, so it may not try it again, not even with the right password;
* an address over every account (``address_limit``): it is spraying passwords over many
  usernames (or many addresses share one unconfigured proxy, see FACEREC_TRUSTED_PROXIES);
* an account over every address (``account_limit``): it is under a distributed attack, so
  only the addresses it signed in from before may try it until the window passes.

So five wrong passwords typed for one account never lock another account out, and the right
password of an account works from any address that is not itself guessing at it.

Kept in memory, so the counts hold for one server process (the deployment runs one gunicorn
worker, which must own the camera anyway); a restart forgets them, and two servers behind a
load balancer count separately.
"""

from __future__ import annotations

import threading
import time
from collections import deque


class LoginThrottle:
    def __init__(
        self,
        limit: int = 5,
        window: float = 60.0,
        clock=time.monotonic,
        *,
        address_limit: int = 20,
        account_limit: int = 10,
        remember: float = 30 * 86400.0,
    ):
        self.limit = limit
        self.address_limit = address_limit
        self.account_limit = account_limit
        self.window = window
        self.remember = remember  # how long an address counts as one the account uses
        self.clock = clock
        self._failures: dict[tuple, deque[float]] = {}
        self._known: dict[tuple[str, str], float] = {}  # (account, address) -> last success
        self._lock = threading.Lock()

    @staticmethod
    def _account(username: str | None) -> str:
        return (username or "").strip().casefold()

    def _recent(self, key: tuple, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and now - times[0] >= self.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def _wait(self, times: deque[float], limit: int, now: float) -> int:
        if len(times) < limit:
            return 0
        return max(1, int(self.window - (now - times[-limit]) + 0.999))

    def retry_after(self, address: str, username: str | None = None) -> tuple[int, str]:
        """``(seconds, why)`` until this address may try this account; ``(0, "")`` if now."""
        account = self._account(username)
        with self._lock:
            now = self.clock()
            wait = self._wait(self._recent(("pair", account, address), now), self.limit, now)
            if wait:
                return wait, "Too many failed sign-ins for this account from your address."
            wait = self._wait(self._recent(("address", address), now), self.address_limit, now)
            if wait:
                return wait, "Too many failed sign-ins from your address."
            known = self._known.get((account, address))
            if known is None or now - known > self.remember:
                times = self._recent(("account", account), now)
                wait = self._wait(times, self.account_limit, now)
                if wait:
                    return wait, (
                        "Too many failed sign-ins for this account from many addresses; "
                        "it accepts sign-ins only from addresses it was used from before."
                    )
            return 0, ""

    def failed(self, address: str, username: str | None = None):
        account = self._account(username)
        with self._lock:
            now = self.clock()
            if len(self._failures) > 30_000:  # forget idle keys now and then
                for stale in [k for k, t in self._failures.items() if now - t[-1] >= self.window]:
                    del self._failures[stale]
            for key in (("pair", account, address), ("address", address), ("account", account)):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, address: str, username: str | None = None):
        """A right password: remember the address as one this account is used from."""
        account = self._account(username)
        with self._lock:
            now = self.clock()
            if len(self._known) > 10_000:
                for stale in [k for k, t in self._known.items() if now - t > self.remember]:
                    del self._known[stale]
            self._known[(account, address)] = now
            self._failures.pop(("pair", account, address), None)
