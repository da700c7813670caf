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

The counts and the addresses each account signed in from live in the database
(``sign_in_failures``, ``sign_in_addresses``): a restart forgets neither, so it neither
hands a guesser a fresh set of tries nor locks the owner out of an address they always use,
and servers sharing one database count together. Each write is its own short transaction,
committed at once: a request that fails afterwards does not take its failure back.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import delete, select
from sqlalchemy.exc import OperationalError

from ..extensions import db
from ..models import UPSERT, SignInAddress, SignInFailure

KEY_MAX = 200

log = logging.getLogger(__name__)


class LoginThrottle:
    def __init__(
        self,
        limit: int = 5,
        window: float = 60.0,
        clock=time.time,
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
        self.clock = clock  # seconds since the epoch: the times outlive the process

    @staticmethod
    def _account(username: str | None) -> str:
        return (username or "").strip().casefold()[:64]

    @staticmethod
    def _keys(account: str, address: str) -> tuple[str, str, str]:
        address = address[:64]
        return (
            f"pair:{account}:{address}"[:KEY_MAX],
            f"address:{address}"[:KEY_MAX],
            f"account:{account}"[:KEY_MAX],
        )

    def _wait(self, conn, key: str, limit: int, now: float) -> int:
        """Seconds until ``key`` has fewer than ``limit`` failures in the window (0: now)."""
        times = conn.execute(
            select(SignInFailure.at)
            .where(SignInFailure.key == key, SignInFailure.at > now - self.window)
            .order_by(SignInFailure.at.desc())
            .limit(limit)
        ).scalars()
        times = list(times)
        if len(times) < limit:
            return 0
        return max(1, int(self.window - (now - times[-1]) + 0.999))

    def retry_after(self, address: str, username: str | None = None) -> tuple[int, str]:
        """``(seconds, why)`` until this address may try this account; ``(0, "")`` if now."""
        account = self._account(username)
        pair, by_address, by_account = self._keys(account, address)
        now = self.clock()
        with db.engine.connect() as conn:
            if wait := self._wait(conn, pair, self.limit, now):
                return wait, "Too many failed sign-ins for this account from your address."
            if wait := self._wait(conn, by_address, self.address_limit, now):
                return wait, "Too many failed sign-ins from your address."
            known = conn.execute(
                select(SignInAddress.seen_at).where(
                    SignInAddress.account == account, SignInAddress.address == address[:64]
                )
            ).scalar()
            stranger = known is None or now - known > self.remember
            if stranger and (wait := self._wait(conn, by_account, self.account_limit, now)):
                return wait, (
                    "Too many failed sign-ins for this account from many addresses; "
                    "it accepts sign-ins only from addresses it was used from before."
                )
        return 0, ""

    def failed(self, address: str, username: str | None = None):
        now = self.clock()
        keys = self._keys(self._account(username), address)
        with db.engine.begin() as conn:
            # Failures older than every window are of no use: they go as new ones come.
            conn.execute(delete(SignInFailure).where(SignInFailure.at < now - self.window))
            conn.execute(SignInFailure.__table__.insert(), [{"key": k, "at": now} for k in keys])

    def succeeded(self, address: str, username: str | None = None):
        """A right password: remember the address as one this account is used from.

        Best effort: a busy or locked database must not refuse a right password, so if
        this cannot be written now the address is simply remembered at the next sign-in.
        """
        try:
            self._remember(address, username)
        except OperationalError as exc:
            log.warning("sign-in address not remembered (database busy): %s", exc.orig)

    def _remember(self, address: str, username: str | None):
        account = self._account(username)
        pair, _by_address, _by_account = self._keys(account, address)
        now = self.clock()
        with db.engine.begin() as conn:
            stmt = UPSERT[conn.dialect.name](SignInAddress).values(
                account=account, address=address[:64], seen_at=now
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[SignInAddress.account, SignInAddress.address],
                    set_={"seen_at": now},
                )
            )
            conn.execute(delete(SignInFailure).where(SignInFailure.key == pair))
            conn.execute(delete(SignInAddress).where(SignInAddress.seen_at < now - self.remember))
