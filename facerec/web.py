"""Cross-cutting web behaviour: error pages, security headers (the database pragmas are in
``extensions``)."""

import ipaddress
import logging
import re

from flask import jsonify, render_template, request, url_for
from markupsafe import Markup, escape
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import (
    HTTPException,
    NotFound,
    RequestEntityTooLarge,
    ServiceUnavailable,
)
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from .config import current_settings, networks
from .engine import EngineBusy, EngineUnavailable
from .faces import PHOTO_FORMATS
from .gallery import distance_text

log = logging.getLogger(__name__)

# The largest id every supported database holds: ids are INTEGER columns, which PostgreSQL
# stores in 32 bits (SQLite in up to 64). A larger number cannot be anyone's id.
DATABASE_ID_MAX = 2**31 - 1


class DatabaseIdConverter(IntegerConverter):
    """``<int:...>`` in every route: a number beyond the database's range is a 404.

    Without the bound, /admin/users/99999999999999999999 reaches the query and SQLite raises
    OverflowError (PostgreSQL "integer out of range" from 2**31 on), a 500 instead of the
    404 any other missing id gets. NotFound rather than
    ValidationError: werkzeug answers a failed converter with 405 when a sibling rule takes
    another method (GET /admin/users/<id> beside POST).
    """

    def to_python(self, value):
        number = super().to_python(value)
        if number > DATABASE_ID_MAX:
            raise NotFound("There is nothing with this id.")
        return number


# Seconds a client is asked to wait after a 429 or 503 that does not say otherwise (a busy
# database, a face engine restarting its pool): about how long either takes to recover.
RETRY_AFTER = 5
ENGINE_BUSY = "The face engine is busy or restarting; try again."


def engine_retry_after(exc: Exception) -> int:
    """Retry-After for a face engine refusal: its own estimate when the queue was full."""
    return exc.retry_after if isinstance(exc, EngineBusy) else RETRY_AFTER


def is_lock_error(exc: OperationalError) -> bool:
    """SQLite's "database is locked/busy", PostgreSQL's lock or statement timeouts."""
    text = str(getattr(exc, "orig", exc)).lower()
    code = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return "locked" in text or "busy" in text or code in {"55P03", "57014", "40P01"}


def release_database():
    """Before a request waits on the face engine: give its database connection back.

    A request holds a pooled connection from its first query to its end. Twenty requests
    waiting seconds for the engine would hold twenty connections, and every other request
    (a sign-in, a page, the health check) would wait for the pool. Ending the transaction
    here returns the connection; the objects loaded so far stay as they were read.
    Called where nothing was written yet, so there is nothing to commit: if something is,
    the transaction goes on untouched (it must stay whole) and the connection is kept.
    """
    from .extensions import db

    session = db.session()
    if session.new or session.dirty or session.deleted:
        log.warning("release_database() with unsaved changes: the connection is kept")
        return
    # Not expired: what the request loaded reads as it did (one transaction's view, as
    # before), and a row deleted meanwhile shows when it is written, as it would have.
    session.expire_on_commit, before = False, session.expire_on_commit
    try:
        session.commit()
    finally:
        session.expire_on_commit = before


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    accept = request.accept_mimetypes
    best = accept.best_match(["application/json", "text/html"])
    return best == "application/json" and accept[best] > accept["text/html"]


def size_in_words(n: int) -> str:
    """A byte count as people say it: 10 MB, 512 KB."""
    if n >= 1024 * 1024:
        return f"{n / 1024 / 1024:g} MB"
    return f"{max(1, round(n / 1024))} KB"


SAMPLE_SOURCES = {
    "upload": "Uploaded photo",
    "camera": "Camera snapshot",
    "import": "Imported photo",
    "api": "Added by the API",
}

NAV = [
    ("history.index", "History"),
    ("enroll.index", "Enroll"),
    ("admin.users", "People"),
    ("admin.cameras", "Cameras"),
    ("unknowns.index", "Unknowns"),
    ("search.index", "Search"),
    ("api.docs", "API"),
]


def _is_under(path: str, url: str) -> bool:
    """Is ``path`` the page at ``url`` or one below it? ("/" is only itself.)"""
    base = url.rstrip("/")
    return path == url or (bool(base) and (path == base or path.startswith(base + "/")))


class TrustedProxyFix:
    """ProxyFix for the requests that come from a trusted proxy's address, and only those.

    Behind N reverse proxies, the client is the N-th address from the right of
    X-Forwarded-For. ProxyFix alone believes the header whoever sends it: with the server
    also reachable directly, a client could name any address (and so fill another
    address's sign-in throttle). A request from any other peer is passed on untouched.
    """

    def __init__(self, app, trusted: int, proxies: tuple):
        self.plain = app
        self.fixed = ProxyFix(app, x_for=trusted, x_proto=trusted)
        self.proxies = proxies

    def _from_proxy(self, peer: str | None) -> bool:
        try:
            address = ipaddress.ip_address((peer or "").split("%", 1)[0])
        except ValueError:
            return False
        address = getattr(address, "ipv4_mapped", None) or address
        return any(address in network for network in self.proxies)

    def __call__(self, environ, start_response):
        if self._from_proxy(environ.get("REMOTE_ADDR")):
            return self.fixed(environ, start_response)
        return self.plain(environ, start_response)


def init_app(app):
    settings = current_settings(app)
    if settings.trusted_proxies > 0:
        # With 0 (the default) the headers are ignored: a client cannot pick its own address.
        app.wsgi_app = TrustedProxyFix(
            app.wsgi_app, settings.trusted_proxies, networks(settings.proxy_addresses)
        )

    # Before the blueprints add their routes: a rule picks its converter when it is added.
    app.url_map.converters["int"] = DatabaseIdConverter

    @app.template_filter("distance")
    def distance_filter(distance, tolerance=None, by_hand=False) -> str:
        """``{{ match.distance|distance }}`` -> "0.41 (match below 0.60)".

        The one way a face distance is shown on a page: with the tolerance it is judged
        against (FACEREC_TOLERANCE unless given, as a search's own) and the verdict, or
        "labelled by hand" (``by_hand=True``). Use it for every distance a page shows;
        scripts get the tolerance from a ``data-tolerance`` attribute and write the same
        words with ``facerec.distanceText`` (static/js/facerec.js).
        """
        if distance is None:
            return ""
        if tolerance is None:
            tolerance = current_settings(app).tolerance
        return distance_text(float(distance), float(tolerance), by_hand=bool(by_hand))

    @app.context_processor
    def navigation():
        """``nav_links``: (url, label, active) for each NAV entry this app has and the
        request may open (a viewer sees no People, History...).

        A link is active on its own page and on every page below its address (People on
        /admin/users/7, Enroll on /enroll/review), and nowhere else: the API tokens page
        under /admin is not "People". One link at most: the nearest, so on /history/search
        it is Search, not History too.
        """
        from .auth.roles import can_open

        shown = [
            (url_for(endpoint), label)
            for endpoint, label in NAV
            if endpoint in app.view_functions and can_open(endpoint)
        ]
        here = max((url for url, _ in shown if _is_under(request.path, url)), key=len, default=None)
        links = [(url, label, url == here) for url, label in shown]
        return {"nav_links": links, "nav_active": _is_under, "config_endpoints": app.view_functions}

    @app.template_filter("sample_source")
    def sample_source_filter(source: str) -> str:
        """A sample's ``source`` as a caption: "Uploaded photo", "Camera snapshot"..."""
        return SAMPLE_SOURCES.get(source or "", (source or "Sample").capitalize())

    @app.template_filter("breakable")
    def breakable(text) -> Markup:
        """``{{ path|breakable }}``: a path or URL that wraps after its / ? & = (a <wbr> each)
        rather than inside a word, so a long source fits a phone without "slid eshow. mp4"."""
        parts = re.split(r"(/+|[?&=])", str(text or ""))
        # Separators sit at odd positions; each is followed by a break opportunity.
        return Markup("").join(
            escape(part) + (Markup("<wbr>") if i % 2 else Markup(""))
            for i, part in enumerate(parts)
        )

    @app.template_filter("consent_basis")
    def consent_basis_filter(basis: str) -> str:
        """A consent basis in words ("Employment"), or "Not recorded"."""
        from .consent import BASES, NONE_TEXT

        return BASES[basis].split(":")[0] if basis in BASES else NONE_TEXT

    @app.context_processor
    def settings_context():
        """``settings``: the app's settings (``settings.tolerance``), as code reads them;
        ``consent_bases``, the consent bases in words for the forms written by hand."""
        from .consent import BASES, NONE_TEXT

        return {
            "settings": current_settings(app),
            "consent_bases": BASES,
            "consent_none": NONE_TEXT,
        }

    @app.context_processor
    def photo_rules():
        """``photo_rules``: the one sentence every upload form shows under its file field."""
        limit = current_settings(app).max_content_length
        size = f", up to {size_in_words(limit)} per upload" if limit else ""
        return {"photo_rules": f"{PHOTO_FORMATS}; one face each{size}."}

    @app.errorhandler(HTTPException)
    def http_error(exc):
        if isinstance(exc, RequestEntityTooLarge) and not request.path.startswith("/api/"):
            limit = current_settings(app).max_content_length
            exc = RequestEntityTooLarge(
                f"The upload is larger than the limit of {size_in_words(limit)}. Nothing was "
                "saved: go back and choose smaller or fewer files."
            )
        if wants_json():
            response = jsonify(error=exc.description or exc.name)
        else:
            response = app.make_response(render_template("error.html", error=exc))
        response.status_code = exc.code
        # The headers HTTP requires of the error: Allow on 405, Retry-After on 429/503,
        # WWW-Authenticate on 401 (werkzeug puts them on the exception).
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        if exc.code in (429, 503) and "Retry-After" not in response.headers:
            response.headers["Retry-After"] = str(RETRY_AFTER)
        return response

    @app.errorhandler(EngineBusy)
    @app.errorhandler(EngineUnavailable)
    def engine_unavailable(exc):
        """The face engine's queue is full, a job timed out or its worker died: 503 with
        Retry-After, never a bare 500.

        Uploads and snapshots on the admin pages and in the wizard; the API has its own
        handler with the same words.
        """
        response = http_error(ServiceUnavailable(ENGINE_BUSY))
        response.headers["Retry-After"] = str(engine_retry_after(exc))
        return response

    @app.errorhandler(OperationalError)
    def database_busy(exc):
        """A locked (or unreachable) database: 503 with Retry-After, never a bare 500.

        The transaction is rolled back first, so nothing of the request is written and the
        error page itself (which reads the signed-in account) can still use the session.
        """
        from .extensions import db

        db.session.rollback()
        locked = is_lock_error(exc)
        log.warning("database %s: %s", "busy" if locked else "unavailable", exc.orig)
        if locked:
            message = "The database is busy; nothing was saved. Try again in a few seconds."
        else:
            message = "The database is unavailable; nothing was saved. Try again shortly."
        return http_error(ServiceUnavailable(message))

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
        )
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        return response
