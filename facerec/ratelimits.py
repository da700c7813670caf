"""Rate limits on what is expensive: recognition, search by face, uploads, sign-in.

Flask-Limiter counts each limited request against its caller: the API token it came with,
else the signed-in account, else the address (``caller``); sign-in is counted per address
and per username typed. Over a limit the answer is 429 with ``Retry-After`` (and
``X-RateLimit-*`` headers), before any work is done. Limits are settings in the ``limits``
notation (``60 per minute``, ``1000 per day``; several separated by ``;``).

The counts live where they survive a restart and are shared by every server of one
database: in the database itself (``DatabaseStorage`` below, table ``rate_limits``), or in
Redis when FACEREC_RATE_LIMIT_STORAGE names one (``redis://host:6379``, any storage URI the
``limits`` package reads; its client library must be installed). ``limits`` ships storages
for Redis, Memcached, MongoDB and memory but none for SQL, hence the small one here: fixed
windows, one row per key, counted with one atomic upsert per request. If the storage cannot
be reached the request goes through (and the failure is logged): a rate limit must never be
the reason a working server refuses everyone. The count is written in the request's own
session and committed at once, so a limited request never holds two connections.
"""

from __future__ import annotations

import logging
import time

from flask import g, request
from flask_limiter import Limiter
from flask_login import current_user
from limits.storage import Storage
from sqlalchemy import case, delete, select
from sqlalchemy.exc import SQLAlchemyError

from .config import current_settings
from .extensions import db
from .models import UPSERT, RateLimit

log = logging.getLogger(__name__)

DATABASE_STORAGE = "facerec-database://"
KEY_MAX = 255
PRUNE_EVERY = 500  # counts: expired rows are deleted now and then, not on every request


class DatabaseStorage(Storage):
    """A ``limits`` storage in facerec's own database (the current app's), fixed windows.

    A row holds a key's count and when its window ends; a count whose window has ended
    starts again from the request that finds it so, in the same upsert.
    """

    STORAGE_SCHEME = ["facerec-database"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._counted = 0

    @property
    def base_exceptions(self):
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        table = RateLimit.__table__
        session = db.session
        insert = UPSERT[session.get_bind().dialect.name](RateLimit).values(
            key=key[:KEY_MAX], count=amount, expires_at=now + expiry
        )
        ended = table.c.expires_at <= now
        stmt = insert.on_conflict_do_update(
            index_elements=[RateLimit.key],
            set_={
                "count": case((ended, amount), else_=table.c.count + amount),
                "expires_at": case((ended, now + expiry), else_=table.c.expires_at),
            },
        ).returning(table.c.count)
        try:
            # In the request's own transaction, committed at once (a limited view has not
            # written anything yet): one connection per request, never two, and it goes
            # back to the pool before the view's slow work.
            count = session.execute(stmt).scalar_one()
            self._counted += 1
            if self._counted % PRUNE_EVERY == 0:
                session.execute(delete(RateLimit).where(RateLimit.expires_at <= now))
            session.commit()
        except SQLAlchemyError:
            session.rollback()
            raise
        return count

    def _row(self, key: str):
        return db.session.execute(
            select(RateLimit.count, RateLimit.expires_at).where(RateLimit.key == key[:KEY_MAX])
        ).first()

    def get(self, key: str) -> int:
        row = self._row(key)
        return row.count if row is not None and row.expires_at > time.time() else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return row.expires_at if row is not None and row.expires_at > time.time() else time.time()

    def check(self) -> bool:
        try:
            db.session.execute(select(1))
            return True
        except SQLAlchemyError:
            db.session.rollback()
            return False

    def reset(self) -> int | None:
        count = db.session.execute(delete(RateLimit)).rowcount
        db.session.commit()
        return count

    def clear(self, key: str) -> None:
        db.session.execute(delete(RateLimit).where(RateLimit.key == key[:KEY_MAX]))
        db.session.commit()


def address() -> str:
    """The client's address (X-Forwarded-For only from trusted proxies: see web.py)."""
    return request.remote_addr or "unknown"


def caller() -> str:
    """Whom a limited request counts against: its API token, its account, its address."""
    user = current_user  # loads the token or session first, so g says which it was
    token = g.get("api_token")
    if user.is_authenticated and token is not None:
        return f"token:{token.id}"
    if user.is_authenticated and getattr(user, "id", None) is not None:
        return f"account:{user.id}"
    return f"address:{address()}"


def username_typed() -> str:
    """Sign-in attempts also count against the username they try, from any address."""
    return "username:" + (request.form.get("username") or "").strip().casefold()[:64]


def _limit(name: str):
    """The current app's setting ``name`` (the limits are read on every request, so each
    app of a test keeps its own)."""
    return lambda: getattr(current_settings(), name)


def _message(what: str, name: str, per: str = "token or account"):
    """The 429's words: what was limited, the limit, and for whom."""

    def message() -> str:
        limit = getattr(current_settings(), name)
        return (
            f"Too many {what}: at most {limit} for each {per}. Nothing was done; try again "
            "later (Retry-After says when)."
        )

    return message


limiter = Limiter(
    key_func=caller,
    strategy="fixed-window",
    headers_enabled=True,
    swallow_errors=True,
    storage_uri=DATABASE_STORAGE,
)

# Decorators for the views: each counts against the caller, POST requests only.
recognize_limit = limiter.shared_limit(
    _limit("rate_limit_recognize"),
    scope="recognize",
    methods=["POST"],
    error_message=_message("recognition requests", "rate_limit_recognize"),
)
search_limit = limiter.shared_limit(
    _limit("rate_limit_search"),
    scope="search",
    methods=["POST"],
    error_message=_message("searches by face", "rate_limit_search"),
)
upload_limit = limiter.shared_limit(
    _limit("rate_limit_uploads"),
    scope="uploads",
    methods=["POST"],
    error_message=_message("photo uploads", "rate_limit_uploads"),
)


def sign_in_limit(view):
    """Per address and per username typed: guessing from many addresses, or many accounts
    from one, both meet a limit (beside the failure counts of ``auth.throttle``)."""
    message = _message("sign-in attempts", "rate_limit_sign_in", "address and username")
    view = limiter.limit(
        _limit("rate_limit_sign_in"),
        key_func=lambda: f"sign-in:{address()}",
        methods=["POST"],
        error_message=message,
    )(view)
    return limiter.limit(
        _limit("rate_limit_sign_in"),
        key_func=lambda: f"sign-in:{username_typed()}",
        methods=["POST"],
        error_message=message,
    )(view)


def init_app(app):
    """Bind the limiter: the database for the counts unless FACEREC_RATE_LIMIT_STORAGE says."""
    settings = current_settings(app)
    app.config["RATELIMIT_STORAGE_URI"] = settings.rate_limit_storage or DATABASE_STORAGE
    app.config.setdefault("RATELIMIT_ENABLED", True)
    # Flask-Limiter puts its window's end as Retry-After on every answer of a limited route
    # (the later of its own and the answer's): right on its 429, but a 503 that said when
    # the face engine has room (3 s) would say the end of the minute, and a 200 needs none.
    # The answer's own is noted before the limiter's hook and put back after it (Flask runs
    # these hooks last registered first).
    app.after_request(_own_retry_after_back)
    limiter.init_app(app)
    app.after_request(_note_own_retry_after)


def _note_own_retry_after(response):
    g.own_retry_after = response.headers.get("Retry-After")
    return response


def _own_retry_after_back(response):
    if response.status_code != 429 and "own_retry_after" in g:
        own = g.pop("own_retry_after")
        if own is None:
            response.headers.pop("Retry-After", None)
        else:
            response.headers["Retry-After"] = own
    return response
