"""Settings: each declared once, here, and read once, by ``configure()``.

Every setting is a field of :class:`Settings` with its environment name, type (the
annotation), default, description and where it applies. ``configure(app)`` reads them, in
this order, each later source winning over the earlier ones:

1. the defaults declared below;
2. ``instance/config.py`` (Python assignments, ``FACEREC_TOLERANCE = 0.5``);
3. the environment (``FACEREC_TOLERANCE=0.5``);
4. the ``config`` given to ``create_app`` (the tests).

It checks and converts every value (a bad one stops the start with a message naming the
setting and where the value came from), keeps the result as one frozen ``Settings`` value in
``app.extensions["settings"]`` (``current_settings()``), and writes the converted values back
into ``app.config`` under their keys (Flask, Flask-SQLAlchemy and the templates read some of
them there). The configuration reference (docs/configuration.md) is generated from these
declarations by ``python -m facerec.config_reference``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Config as FlaskConfig
from flask import current_app

MB = 1024 * 1024
SERVER_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")

# Sections of the configuration reference, in its order.
CAMERAS = "Cameras and recognition"
PAGES = "Pages, streams and uploads"
ENROLLMENT = "Enrollment and the face engine"
DATABASE = "Database, servers and keys"
HISTORY = "History and unknown visitors"
EVENTS = "Events, MQTT and metrics"
SECTIONS = (CAMERAS, PAGES, ENROLLMENT, DATABASE, HISTORY, EVENTS)

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}

# Where a value came from, as error messages and `facerec settings` say it.
DEFAULT = "the default"
INSTANCE_FILE = "instance/config.py"
ENVIRONMENT = "the environment"
APP_CONFIG = "create_app's config"


class SettingError(RuntimeError):
    """A setting's value cannot be used; the message names the setting and its source."""


def setting(
    env: str,
    default: Any,
    doc: str,
    *,
    section: str,
    applies: str,
    key: str | None = None,
    shown: str | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
    check: Callable[[Any], Any] | None = None,
    secret: bool = False,
):
    """Declare one setting: a dataclass field whose metadata documents and checks it.

    ``env`` is its environment variable, ``key`` its app.config key when that differs (such
    as DATABASE_URL, kept by Flask-SQLAlchemy as SQLALCHEMY_DATABASE_URI). ``default`` may be
    a callable computed at start (the number of cores); ``shown`` is how the reference writes
    a default that is computed or empty. ``minimum``/``maximum`` bound numbers (``above`` is
    an exclusive minimum); ``check`` converts or refuses the value after its type is known.
    """
    meta = {
        "env": env,
        "key": key or env,
        "default": default,
        "doc": " ".join(doc.split()),
        "section": section,
        "applies": applies,
        "shown": shown,
        "minimum": minimum,
        "maximum": maximum,
        "above": above,
        "check": check,
        "secret": secret,
    }
    return field(metadata=meta)


def _server_name(value: str) -> str:
    value = value.strip().lower()
    if value and not SERVER_NAME_RE.fullmatch(value):
        raise ValueError(
            "is not a valid server name: use 1-64 letters, digits, - and _, starting with a "
            "letter or digit (such as entrance-a)"
        )
    return value


def networks(value: str) -> tuple:
    """``"127.0.0.1, 10.0.0.0/24"`` as ip_network values; ValueError names a bad item."""
    import ipaddress

    found = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            found.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an address or network") from None
    return tuple(found)


def _networks_text(value: str) -> str:
    networks(value)
    return value.strip()


def _rate_limit(value: str) -> str:
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError:
        raise ValueError(
            "is not a rate limit: write it like 60 per minute (or 5/second; 1000 per day)"
        ) from None
    return value.strip()


def _private_targets(value: str) -> str:
    from .outbound import parse_allowance

    try:
        parse_allowance(value)
    except RuntimeError as exc:  # its message names the item that is not an address
        raise ValueError(str(exc).split(": ", 1)[-1]) from None
    return value.strip()


def _base_url(value: str) -> str:
    from urllib.parse import urlsplit

    value = value.strip().rstrip("/")
    if value:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("is not an http:// or https:// address (https://facerec.example.net)")
    return value


def _cores() -> int:
    return os.cpu_count() or 2


@dataclass(frozen=True)
class Settings:
    """Every setting of a running facerec, converted and checked (see the module's docstring)."""

    # -- cameras and recognition -------------------------------------------------------------
    camera: str = setting(
        "FACEREC_CAMERA",
        "0",
        """What the server watches while no camera is stored: a webcam index (`0` is the
        first webcam), a video file (played at its own frame rate and looped) or an
        `rtsp://` or `http://` URL. Empty: no camera (the enrollment wizard then takes
        uploads only). It defines the camera named `main` (or named after `FACEREC_SERVER`);
        the first camera added stores `main` beside it, and from then on the cameras table
        alone decides.""",
        section=CAMERAS,
        applies="server start, while no camera is stored",
    )
    tolerance: float = setting(
        "FACEREC_TOLERANCE",
        0.6,
        """The match threshold: a face is a person's when its distance to one of their
        samples (euclidean, between 128-number face encodings) is below it; above it the
        face is unknown. Lower is stricter: fewer wrong names, more unknown faces.""",
        section=CAMERAS,
        applies="every camera without a tolerance of its own; photos sent to the API; "
        "search; the enrollment and sample checks; unknown-visitor grouping",
        above=0,
        maximum=1,
    )
    detect_width: int = setting(
        "FACEREC_DETECT_WIDTH",
        640,
        """Camera frames are downscaled to this many pixels wide before faces are looked
        for. Raise it for a wide camera where faces are small (each recognition then takes
        longer).""",
        section=CAMERAS,
        applies="every camera without a detection width of its own",
        minimum=16,
    )
    detect_upsample: int = setting(
        "FACEREC_DETECT_UPSAMPLE",
        1,
        """How many times a camera frame (at the detection width) is upsampled to find
        small faces. 0 is about four times faster and finds only larger faces.""",
        section=CAMERAS,
        applies="every camera",
        minimum=0,
        maximum=3,
    )
    recognition_workers: int = setting(
        "FACEREC_RECOGNITION_WORKERS",
        0,
        """Face engine processes that may recognise camera frames at once (shared by the
        cameras, never more than there are cameras). 0: one per core. One process keeps one
        core busy; more than the cores only time-slice them.""",
        section=CAMERAS,
        applies="server start",
        shown="`0` (one per core)",
        minimum=0,
    )
    motion_gate: bool = setting(
        "FACEREC_MOTION_GATE",
        True,
        """Look for faces only where something moves, or where a face already is: a camera
        looking at a still, empty scene does no face detection at all. `0`: every frame the
        face engine can take is searched whole and every face in it encoded (as before the
        gate existed; several times the CPU).""",
        section=CAMERAS,
        applies="every camera without a setting of its own",
    )
    motion_area: float = setting(
        "FACEREC_MOTION_AREA",
        0.1,
        """How much of the picture, in percent, must change from one moment to the next to
        count as movement. Lower it for a camera where people are small in the picture;
        raise it when leaves, screens or rain keep waking the face engine.""",
        section=CAMERAS,
        applies="every camera without a setting of its own",
        above=0,
        maximum=100,
    )
    recheck_interval: float = setting(
        "FACEREC_RECHECK_INTERVAL",
        2.0,
        """Seconds between two looks at a face whose name is settled (a face is encoded
        while it is new or its name is in doubt, after the enrolled people changed, and
        otherwise this often), so that a wrong name cannot stick.""",
        section=CAMERAS,
        applies="every camera without a setting of its own",
        above=0,
    )
    movement_interval: float = setting(
        "FACEREC_MOVEMENT_INTERVAL",
        0.25,
        """The shortest time, in seconds, between two searches for faces caused by movement
        alone, away from the faces in view: a scene where something keeps moving (people
        gesturing, an audience, leaves) costs a search this often, not every frame the face
        engine can take; searches that take the engine long (the whole picture moving) come
        less often, so that they cost at most a fifth of a core. Movement that starts after
        a still moment, a scene cut and a face still to be named are searched at once. `0`:
        every frame with movement that the engine can take is searched.""",
        section=CAMERAS,
        applies="every camera",
        minimum=0,
    )
    stream_delay: int = setting(
        "FACEREC_STREAM_DELAY",
        12,
        """The most frames a camera's stream is held back waiting for the recognition
        result computed on them, so that boxes and names are drawn on the frames they were
        found in (12 frames is 0.4 s at 30 frames a second).""",
        section=CAMERAS,
        applies="every camera",
        minimum=0,
    )
    jpeg_quality: int = setting(
        "FACEREC_JPEG_QUALITY",
        80,
        "JPEG quality of the MJPEG streams, from 1 to 100.",
        section=CAMERAS,
        applies="every camera",
        minimum=1,
        maximum=100,
    )
    idle_timeout: float = setting(
        "FACEREC_IDLE_TIMEOUT",
        0.0,
        """Seconds without a viewer after which a camera stops and releases its source,
        until the next viewer. 0 (the default): cameras watch all the time, so history,
        unknown visitors, events and notifications never depend on an open page; with the
        motion gate, a camera watching a still scene costs little.""",
        section=CAMERAS,
        applies="every camera",
        minimum=0,
    )
    media_dirs: str = setting(
        "FACEREC_MEDIA_DIRS",
        "",
        """Folders, separated by `:`, whose video files a camera added on the Cameras page or
        through the API may play (see [Cameras](guide/cameras.md#what-a-camera-source-may-be)).
        Empty: none; the command line, run on the server itself, may name any file.""",
        section=CAMERAS,
        applies="camera sources entered on a page or through the API",
    )
    camera_timeout: float = setting(
        "FACEREC_CAMERA_TIMEOUT",
        5.0,
        """Seconds a network camera (RTSP, HTTP) has to accept the connection and answer,
        and, once streaming, to send its next frame: a camera silent that long with its
        connection open has stalled, and is reopened rather than waited on.""",
        section=CAMERAS,
        applies="every network camera, when it is next opened",
        above=0,
    )
    snapshot_rate: float = setting(
        "FACEREC_SNAPSHOT_RATE",
        2.0,
        """Pictures a second asked of a snapshot camera (an `http://` URL that answers each
        request with one JPEG, such as an ESP32-CAM's `/capture`), unless the camera has a
        snapshot rate of its own.""",
        section=CAMERAS,
        applies="every snapshot camera without a rate of its own",
        above=0,
        maximum=30,
    )
    autostart: bool = setting(
        "FACEREC_AUTOSTART",
        True,
        """Every enabled camera starts with the server (and a camera added later at once)
        and keeps watching, viewer or not, unless someone pressed Stop; a viewer also
        starts a camera that stopped for lack of viewers (`FACEREC_IDLE_TIMEOUT`). `0`:
        cameras start only from their Start button or the API.""",
        section=CAMERAS,
        applies="every camera",
    )

    # -- pages, streams and uploads ----------------------------------------------------------
    public_stream: bool = setting(
        "FACEREC_PUBLIC_STREAM",
        False,
        """`1` lets anyone open the live page, a camera's page, the MJPEG streams and the
        read-only stream and camera status API without signing in.""",
        section=PAGES,
        applies="pages and API, at once",
    )
    max_viewers: int = setting(
        "FACEREC_MAX_VIEWERS",
        60,
        """Stream viewers served at once, over every camera; one more gets 503 with
        `Retry-After`. Keep it about 40 below gunicorn's threads (`THREADS`, 100), so pages,
        the API and health checks always find a thread. 0: no limit.""",
        section=PAGES,
        applies="server start",
        minimum=0,
    )
    stream_send_timeout: float = setting(
        "FACEREC_STREAM_SEND_TIMEOUT",
        10.0,
        """Seconds a viewer may leave a frame unread (a frozen tab, a sleeping phone)
        before its stream is ended, freeing its thread and its slot.""",
        section=PAGES,
        applies="every stream",
        minimum=0,
    )
    trusted_proxies: int = setting(
        "FACEREC_TRUSTED_PROXIES",
        0,
        """Reverse proxies in front of facerec whose `X-Forwarded-For` and
        `X-Forwarded-Proto` are trusted (1 behind one nginx), and only on requests that come
        from one of `FACEREC_PROXY_ADDRESSES`. 0: the headers are ignored.""",
        section=PAGES,
        applies="server start",
        minimum=0,
    )
    proxy_addresses: str = setting(
        "FACEREC_PROXY_ADDRESSES",
        "127.0.0.1,::1",
        """The addresses (or networks, `10.0.0.0/24`) the reverse proxies of
        `FACEREC_TRUSTED_PROXIES` connect from; separated by commas. A request from any
        other address is taken as it comes, its `X-Forwarded-For` ignored: a client that
        reaches the server directly cannot pick its own address (and so another's sign-in
        throttle).""",
        section=PAGES,
        applies="server start, with FACEREC_TRUSTED_PROXIES above 0",
        check=_networks_text,
    )
    max_content_length: int = setting(
        "MAX_CONTENT_LENGTH",
        10 * MB,
        "The largest request body accepted, in bytes (10 MB); a larger upload gets 413.",
        section=PAGES,
        applies="every request",
        shown="`10485760` (10 MB)",
        minimum=1,
    )
    max_pixels: int = setting(
        "FACEREC_MAX_PIXELS",
        40_000_000,
        "Images with more pixels than this are refused before they are decoded.",
        section=PAGES,
        applies="every uploaded photo: wizard, person page, API, search, import",
        minimum=1,
    )
    pixel_budget: int = setting(
        "FACEREC_PIXEL_BUDGET",
        8_000_000,
        """The most pixels face detection looks at for one photo, upsampling included. A
        large photo is decoded at a reduced size first (JPEG at 1/2, 1/4 or 1/8 of its size,
        others reduced right after decoding), to about 1600 pixels wide, the width faces are
        looked for at; it is looked at again upsampled, for small faces, only within this
        budget. So a 40-megapixel photo costs about as much as a 2-megapixel one.""",
        section=PAGES,
        applies="every uploaded photo: wizard, person page, API, search",
        minimum=100_000,
    )
    rate_limit_recognize: str = setting(
        "FACEREC_RATE_LIMIT_RECOGNIZE",
        "60 per minute",
        """How many `POST /api/v1/recognize` one API token (or account) may make, in the
        notation `N per second|minute|hour|day` (several separated by `;`). Beyond it: 429
        with `Retry-After`, before any work.""",
        section=PAGES,
        applies="POST /api/v1/recognize",
        check=_rate_limit,
    )
    rate_limit_search: str = setting(
        "FACEREC_RATE_LIMIT_SEARCH",
        "30 per minute",
        "How many searches by face one API token (or account) may make (see above).",
        section=PAGES,
        applies="POST /api/v1/sightings/search, the Search page",
        check=_rate_limit,
    )
    rate_limit_uploads: str = setting(
        "FACEREC_RATE_LIMIT_UPLOADS",
        "60 per minute",
        """How many requests that send photos to the face engine one API token (or account)
        may make: the wizard's photos and snapshots, a person's samples, negatives.""",
        section=PAGES,
        applies="the wizard, the person page, POST /api/v1/users(/<id>/samples|negatives)",
        check=_rate_limit,
    )
    rate_limit_sign_in: str = setting(
        "FACEREC_RATE_LIMIT_SIGN_IN",
        "30 per minute",
        """How many sign-in attempts (right or wrong) one address, and one username, may
        make; wrong passwords have their own, stricter counts (see Accounts).""",
        section=PAGES,
        applies="POST /login, /setup, /account/password",
        check=_rate_limit,
    )
    rate_limit_storage: str = setting(
        "FACEREC_RATE_LIMIT_STORAGE",
        "",
        """Where the rate limits' counts are kept. Empty: in the database (they survive a
        restart and are shared by the servers of one database). Or a storage URI of the
        `limits` package, such as `redis://localhost:6379` (install its client: `redis`).""",
        section=PAGES,
        applies="server start",
        shown="empty (the database)",
    )

    # -- enrollment and the face engine ------------------------------------------------------
    snapshots: int = setting(
        "FACEREC_SNAPSHOTS",
        5,
        "The most samples the enrollment wizard takes.",
        section=ENROLLMENT,
        applies="the enrollment wizard",
        minimum=1,
    )
    snapshots_min: int = setting(
        "FACEREC_SNAPSHOTS_MIN",
        1,
        "The fewest samples a person can be saved with in the wizard.",
        section=ENROLLMENT,
        applies="the enrollment wizard",
        minimum=1,
    )
    enroll_ttl: float = setting(
        "FACEREC_ENROLL_TTL",
        7200.0,
        """Seconds after its last step at which an enrollment wizard left alone expires (its
        samples are deleted).""",
        section=ENROLLMENT,
        applies="the enrollment wizard",
        above=0,
    )
    require_consent: bool = setting(
        "FACEREC_REQUIRE_CONSENT",
        False,
        """`1` refuses to save a person (the wizard, the person page, the API, `facerec users
        import`, enrolling an unknown visitor) without the basis on which their face is held:
        consent, employment or other (see [People](guide/people.md#consent)).""",
        section=ENROLLMENT,
        applies="every save of a person, at once",
    )
    engine_workers: int = setting(
        "FACEREC_ENGINE_WORKERS",
        _cores,
        """Face engine processes kept for uploaded photos, snapshots and API calls, beside
        the cameras' `FACEREC_RECOGNITION_WORKERS` (a photo also takes a camera's process
        while it is idle).""",
        section=ENROLLMENT,
        applies="server start",
        shown="the number of cores",
        minimum=1,
    )
    engine_queue: int = setting(
        "FACEREC_ENGINE_QUEUE",
        8,
        """Photos (uploads, snapshots, API calls) that may wait for a face engine process.
        One more is answered 503 at once, with `Retry-After` saying when the queue is likely
        to have room again.""",
        section=ENROLLMENT,
        applies="server start",
        minimum=1,
    )
    engine_timeout: float = setting(
        "FACEREC_ENGINE_TIMEOUT",
        120.0,
        """Seconds a photo may wait for the face engine, its turn in the queue included;
        beyond it the request is answered 503 and a process still working on it is
        replaced.""",
        section=ENROLLMENT,
        applies="server start",
        above=0,
    )

    # -- database, servers and keys ----------------------------------------------------------
    database_url: str = setting(
        "DATABASE_URL",
        "",
        """The SQLAlchemy database URL: `postgresql+psycopg://user:password@host:port/db`
        for PostgreSQL (see [Several servers](serving/postgresql.md)). Empty: SQLite in
        `instance/facerec.db`.""",
        section=DATABASE,
        applies="server start and every command",
        key="SQLALCHEMY_DATABASE_URI",
        shown="SQLite in `instance/facerec.db`",
        secret=True,
    )
    secret_key: str = setting(
        "SECRET_KEY",
        "",
        """Signs sessions and CSRF tokens. Empty: a random key is generated into
        `instance/config.py` (mode 600) on the first start. Servers sharing one database
        need the same key.""",
        section=DATABASE,
        applies="server start",
        shown="generated into `instance/config.py`",
        secret=True,
    )
    server: str = setting(
        "FACEREC_SERVER",
        "",
        """This server's name when several share one database (letters, digits, `-`, `_`):
        it runs only the cameras stored under this name. Empty: the only server.""",
        section=DATABASE,
        applies="server start and `facerec cameras`",
        check=_server_name,
    )
    db_busy_timeout: float = setting(
        "FACEREC_DB_BUSY_TIMEOUT",
        5.0,
        """Seconds a request waits for a database lock another connection holds (SQLite's
        busy timeout, PostgreSQL's `lock_timeout`) before it answers 503 and saves
        nothing.""",
        section=DATABASE,
        applies="server start",
        above=0,
    )

    # -- history and unknown visitors --------------------------------------------------------
    retention_days: int = setting(
        "FACEREC_RETENTION_DAYS",
        30,
        """Days a known person's sighting (face crop, face encoding, who and when) is kept
        after it ends. 0: kept for ever.""",
        section=HISTORY,
        applies="the hourly pruning and `facerec sightings prune`",
        minimum=0,
    )
    retention_unknown_days: int = setting(
        "FACEREC_RETENTION_UNKNOWN_DAYS",
        7,
        """Days an unknown visitor's sighting (a stranger's face crop and encoding) is kept
        after it ends: strangers' faces go sooner than known people's. 0: kept for ever.""",
        section=HISTORY,
        applies="the hourly pruning and `facerec sightings prune`",
        minimum=0,
    )
    audit_retention_days: int = setting(
        "FACEREC_AUDIT_RETENTION_DAYS",
        365,
        """Days an audit entry (who changed what and when, sign-ins and failed sign-ins) and
        an entry of the search log are kept. 0: kept for ever.""",
        section=HISTORY,
        applies="`facerec audit prune` and the hourly pruning",
        minimum=0,
    )
    auto_assign: bool = setting(
        "FACEREC_AUTO_ASSIGN",
        True,
        """When someone is enrolled or given new samples, unknown visitors whose every face
        now matches them alone are named after them at once (their sightings relabelled, no
        sample added). 0: they are only offered, as "Looks like ...", on the unknowns
        page.""",
        section=HISTORY,
        applies="looking at the unknown visitors again after the gallery changes",
    )
    group_distance: float | None = setting(
        "FACEREC_GROUP_DISTANCE",
        None,
        """How close an unknown face must be to a group's centroid to join that group of
        recurring visitors. Empty: 0.75 x `FACEREC_TOLERANCE`.""",
        section=HISTORY,
        applies="unknown-visitor grouping",
        shown="0.75 x `FACEREC_TOLERANCE`",
        above=0,
        maximum=1,
    )

    # -- events, MQTT and metrics ------------------------------------------------------------
    allow_private_targets: str = setting(
        "FACEREC_ALLOW_PRIVATE_TARGETS",
        "",
        """`1` lets webhooks, notification targets and cameras entered on a page reach
        loopback, link-local and private addresses; or a list such as
        `192.168.1.20,10.0.0.0/8` allows those alone (see
        [Webhooks](integrations/webhooks.md#addresses-facerec-does-not-send-to)). Empty: none
        of them.""",
        section=EVENTS,
        applies="webhooks, notifications and cameras entered on a page, when added and at "
        "every connection",
        check=_private_targets,
    )
    event_queue: int = setting(
        "FACEREC_EVENT_QUEUE",
        1000,
        """Events waiting for delivery to webhooks and MQTT; beyond it the oldest is dropped
        (and counted).""",
        section=EVENTS,
        applies="server start",
        minimum=1,
    )
    webhook_timeout: float = setting(
        "FACEREC_WEBHOOK_TIMEOUT",
        10.0,
        "Seconds a webhook receiver has to answer before the delivery counts as failed.",
        section=EVENTS,
        applies="every webhook",
        above=0,
    )
    webhook_backoff: tuple[float, ...] = setting(
        "FACEREC_WEBHOOK_BACKOFF",
        (10.0, 60.0, 300.0),
        """Seconds before each retry of a failed delivery, separated by commas: the default
        makes four attempts over about six minutes.""",
        section=EVENTS,
        applies="every webhook",
        minimum=0,
    )
    notify_backoff: tuple[float, ...] = setting(
        "FACEREC_NOTIFY_BACKOFF",
        (10.0, 60.0, 300.0),
        """Seconds before each retry of a notification that did not go out, separated by
        commas (see [Notifications](integrations/notifications.md)).""",
        section=EVENTS,
        applies="every notification target",
        minimum=0,
    )
    base_url: str = setting(
        "FACEREC_BASE_URL",
        "",
        """The address people and other systems reach facerec at, such as
        `https://facerec.example.net`: notifications link to the sighting with it, and the
        `crop_url` of events becomes absolute. Empty: messages carry no link, and events the
        path alone.""",
        section=EVENTS,
        applies="notifications and events, at server start",
        check=_base_url,
    )
    mqtt_url: str = setting(
        "FACEREC_MQTT_URL",
        "",
        """The MQTT broker, `mqtt://[user:password@]host[:port]` or `mqtts://...` for TLS.
        Empty: no MQTT.""",
        section=EVENTS,
        applies="server start",
        shown="empty (off)",
        secret=True,
    )
    mqtt_discovery_prefix: str = setting(
        "FACEREC_MQTT_DISCOVERY_PREFIX",
        "homeassistant",
        "The topic prefix Home Assistant's MQTT discovery listens on.",
        section=EVENTS,
        applies="server start",
    )
    presence_timeout: float = setting(
        "FACEREC_PRESENCE_TIMEOUT",
        300.0,
        """Seconds after a person's last sighting ended before MQTT says they are
        `not_home`.""",
        section=EVENTS,
        applies="MQTT presence",
        minimum=0,
    )
    metrics_public: bool = setting(
        "FACEREC_METRICS_PUBLIC",
        False,
        "`1` serves `/metrics` without a token or a signed-in session.",
        section=EVENTS,
        applies="`/metrics`, at once",
    )
    openapi_public: bool = setting(
        "FACEREC_OPENAPI_PUBLIC",
        True,
        "The API's description (`/api/v1/openapi.json` and the `/api/v1/docs` page) is open "
        "without a token or sign-in, so client generators can read it from its URL: it holds "
        "no data. `0` asks for credentials there too.",
        section=PAGES,
        applies="the API's description, at once",
    )

    # Where each value came from (setting name -> DEFAULT, INSTANCE_FILE, ...): not a setting.
    origins: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def replace(self, **changes) -> Settings:
        """A copy with ``changes`` (attribute names), converted and checked like the rest."""
        values = {}
        for spec in declared():
            if spec.name in changes:
                values[spec.name] = spec.convert(changes.pop(spec.name), APP_CONFIG)
        if changes:
            raise TypeError(f"not settings: {', '.join(sorted(changes))}")
        return dataclasses.replace(self, **values)

    def group_join_distance(self, tolerance: float | None = None) -> float:
        """``group_distance``, or 0.75 x the tolerance when it is not set (``tolerance``: a
        camera's own, for the faces that camera saw)."""
        return self.group_distance or 0.75 * (tolerance or self.tolerance)


@dataclass(frozen=True)
class Spec:
    """One declared setting, as read from its field (for configure() and the reference)."""

    name: str
    kind: Any
    env: str
    key: str
    default: Any
    doc: str
    section: str
    applies: str
    shown: str | None
    minimum: float | None
    maximum: float | None
    above: float | None
    check: Callable[[Any], Any] | None
    secret: bool

    def default_value(self):
        return self.default() if callable(self.default) else self.default

    def convert(self, value, origin: str):
        """``value`` (text from the environment, or a Python value) as this setting's type."""
        try:
            converted = _as_kind(value, self.kind)
            if self.check is not None:
                converted = self.check(converted)
            self._bounds(converted)
        except ValueError as exc:
            raise SettingError(f"{self.env}={value!r} (from {origin}) {exc}.") from None
        return converted

    def _bounds(self, value):
        numbers = value if isinstance(value, tuple) else (value,)
        for number in numbers:
            if not isinstance(number, int | float) or isinstance(number, bool):
                continue
            if (
                (self.above is not None and not number > self.above)
                or (self.minimum is not None and number < self.minimum)
                or (self.maximum is not None and number > self.maximum)
            ):
                raise ValueError(f"must be {self.bounds_text()}")

    def bounds_text(self) -> str:
        """ "above 0 and at most 1", "at least 16", or "" for a setting without bounds."""
        bounds = []
        if self.above is not None:
            bounds.append(f"above {self.above:g}")
        if self.minimum is not None:
            bounds.append(f"at least {self.minimum:g}")
        if self.maximum is not None:
            bounds.append(f"at most {self.maximum:g}")
        return " and ".join(bounds)

    def describe_type(self) -> str:
        """The type in words, with its bounds, for the reference."""
        words = _KIND_WORDS.get(self.kind, "text")
        bounds = self.bounds_text()
        return f"{words}, {bounds}" if bounds else words

    def default_text(self) -> str:
        """The default as the reference shows it."""
        if self.shown is not None:
            return self.shown
        value = self.default_value()
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, float):
            return f"{value:g}"
        if isinstance(value, tuple):
            return ",".join(f"{item:g}" for item in value)
        return f"{value}"


_KIND_WORDS = {
    bool: "on/off (`1`, `true`, `yes`, `on` or `0`, `false`, `no`, `off`)",
    int: "whole number",
    float: "number",
    float | None: "number, or empty",
    str: "text",
    tuple[float, ...]: "numbers separated by commas",
}


def _as_kind(value, kind):
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        word = str(value).strip().lower()
        if word in TRUE_WORDS | FALSE_WORDS:
            return word in TRUE_WORDS
        raise ValueError("must be 1 or 0 (or true/false, yes/no, on/off)")
    if kind is int:
        if isinstance(value, bool):
            raise ValueError("must be a whole number")
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(str(value).strip())
        except ValueError:
            raise ValueError("must be a whole number") from None
    if kind is float or kind == float | None:
        if kind is not float and (value is None or str(value).strip() == ""):
            return None
        if isinstance(value, bool):
            raise ValueError("must be a number")
        try:
            return float(str(value).strip())
        except ValueError:
            raise ValueError("must be a number") from None
    if kind == tuple[float, ...]:
        parts = value.split(",") if isinstance(value, str) else list(value)
        try:
            return tuple(float(str(part).strip()) for part in parts if str(part).strip())
        except ValueError:
            raise ValueError("must be numbers separated by commas, like 10,60,300") from None
    if value is None:
        return ""
    return str(value)


def declared() -> tuple[Spec, ...]:
    """Every setting, in declaration order."""
    return _SPECS


def _specs() -> tuple[Spec, ...]:
    hints = typing.get_type_hints(Settings)
    specs = []
    for item in dataclasses.fields(Settings):
        if "env" not in item.metadata:
            continue
        specs.append(Spec(name=item.name, kind=hints[item.name], **item.metadata))
    return tuple(specs)


_SPECS = _specs()


class Config:
    """Flask's own settings for production. The declared settings' defaults are added below,
    so that ``Config`` and ``TestConfig`` still list every key."""

    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session


for _spec in _SPECS:
    setattr(Config, _spec.key, _spec.default_value())


class TestConfig(Config):
    """Used by the test suite: a throwaway database, a known key, no CSRF unless a test asks.

    Given to ``create_app`` as a whole (every key), so neither the environment nor
    instance/config.py changes what a test sees.
    """

    TESTING = True
    SECRET_KEY = "test-secret-key-only-for-the-test-suite"
    WTF_CSRF_ENABLED = False
    FACEREC_CAMERA = os.environ.get("FACEREC_TEST_CAMERA", "")
    FACEREC_AUTOSTART = False
    FACEREC_ENGINE_WORKERS = 1
    FACEREC_MQTT_URL = ""
    FACEREC_METRICS_PUBLIC = False
    # Unknown visitors named by a thread after each enrolment would race the tests that
    # enrol someone and then act on the visitors; the tests of it turn it on.
    FACEREC_AUTO_ASSIGN = False


def configure(app, config=None):
    """Load the settings onto ``app``: defaults, instance/config.py, environment, ``config``."""
    for name in dir(Config):
        if name.isupper() and name not in _KEYS:
            app.config[name] = getattr(Config, name)
    raw = {spec.env: spec.default_value() for spec in _SPECS}
    origins = {spec.env: DEFAULT for spec in _SPECS}

    instance_file = Path(app.instance_path) / "config.py"
    file_config = FlaskConfig(app.instance_path)
    file_config.from_pyfile(instance_file, silent=True)
    _take(app.config, file_config, raw, origins, INSTANCE_FILE)

    for spec in _SPECS:
        value = os.environ.get(spec.env)
        # An empty variable means "not set", except for text where empty is a value
        # (FACEREC_CAMERA= is "no camera").
        if value is None or (value.strip() == "" and spec.kind is not str):
            continue
        raw[spec.env], origins[spec.env] = value, ENVIRONMENT

    if config is not None:
        if not isinstance(config, Mapping):
            config = {name: getattr(config, name) for name in dir(config) if name.isupper()}
        _take(app.config, config, raw, origins, APP_CONFIG)

    values = {spec.name: spec.convert(raw[spec.env], origins[spec.env]) for spec in _SPECS}
    instance = Path(app.instance_path)
    instance.mkdir(mode=0o700, parents=True, exist_ok=True)  # it holds the key and faces
    if not values["database_url"]:
        values["database_url"] = f"sqlite:///{instance / 'facerec.db'}"
    if not values["secret_key"]:
        values["secret_key"] = _generated_secret_key(instance_file)
    settings = Settings(**values, origins=origins)
    for spec in _SPECS:
        app.config[spec.key] = getattr(settings, spec.name)
    app.extensions["settings"] = settings
    _limit_lock_waits(app, settings)
    return settings


_KEYS = {spec.key: spec for spec in _SPECS} | {spec.env: spec for spec in _SPECS}


def _take(app_config, source: Mapping, raw, origins, origin):
    """Copy ``source`` into ``app_config``, its declared settings into ``raw`` instead (a
    setting may be named by its key or its environment name: SQLALCHEMY_DATABASE_URI or
    DATABASE_URL)."""
    for name, value in source.items():
        spec = _KEYS.get(name)
        if spec is None:
            app_config[name] = value
        else:
            raw[spec.env], origins[spec.env] = value, origin


def current_settings(app=None) -> Settings:
    """The settings of ``app`` (default: the current app)."""
    return (app or current_app).extensions["settings"]


def _limit_lock_waits(app, settings):
    """How long a request waits for a lock another connection holds (FACEREC_DB_BUSY_TIMEOUT):
    SQLite's busy timeout, PostgreSQL's lock_timeout. Beyond it the request answers 503."""
    uri = settings.database_url
    seconds = settings.db_busy_timeout
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    connect_args = dict(options.get("connect_args") or {})
    if uri.startswith("sqlite"):
        connect_args.setdefault("timeout", seconds)
    elif uri.startswith("postgresql"):
        connect_args.setdefault("options", f"-c lock_timeout={max(1, round(seconds * 1000))}")
    else:
        return
    options["connect_args"] = connect_args
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def _generated_secret_key(path):
    """Create instance/config.py with a random SECRET_KEY on first run (never a default key)."""
    key = secrets.token_hex(32)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        # The file exists but has no key (or another process just wrote one): append ours.
        scope = {}
        exec(compile(path.read_text(), str(path), "exec"), scope)
        if scope.get("SECRET_KEY"):
            return scope["SECRET_KEY"]
        with open(path, "a") as fh:
            fh.write(f"\nSECRET_KEY = {key!r}\n")
        return key
    with os.fdopen(fd, "w") as fh:
        fh.write(f"# Generated by facerec on first run. Keep it secret.\nSECRET_KEY = {key!r}\n")
    return key
