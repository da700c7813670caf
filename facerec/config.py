"""Configuration: environment variables first, then instance/config.py, then defaults."""

import os
import re
import secrets
from pathlib import Path

MB = 1024 * 1024
SERVER_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def _env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_number(name, default, kind=float):
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return kind(value)
    except ValueError:
        raise RuntimeError(f"{name}={value!r} is not a valid {kind.__name__}") from None


class Config:
    """Production defaults. Every value can be overridden from the environment."""

    SECRET_KEY = os.environ.get("SECRET_KEY") or None
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or None  # default set in configure()
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    MAX_CONTENT_LENGTH = int(_env_number("MAX_CONTENT_LENGTH", 10 * MB, int))
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session

    FACEREC_CAMERA = os.environ.get("FACEREC_CAMERA", "0")
    # Folders (separated by ":") whose video files a camera added on a page or through the
    # API may play; none by default (the command line may name any file).
    FACEREC_MEDIA_DIRS = os.environ.get("FACEREC_MEDIA_DIRS", "")
    # This server's name among several sharing one database: it opens only the cameras
    # stored under this name (empty: the only server).
    FACEREC_SERVER = os.environ.get("FACEREC_SERVER", "")
    FACEREC_TOLERANCE = _env_number("FACEREC_TOLERANCE", 0.6)
    FACEREC_PUBLIC_STREAM = _env_bool("FACEREC_PUBLIC_STREAM")
    # The wizard takes between FACEREC_SNAPSHOTS_MIN and FACEREC_SNAPSHOTS samples.
    FACEREC_SNAPSHOTS = int(_env_number("FACEREC_SNAPSHOTS", 5, int))
    FACEREC_SNAPSHOTS_MIN = int(_env_number("FACEREC_SNAPSHOTS_MIN", 1, int))
    # An enrollment wizard left alone this many seconds is thrown away.
    FACEREC_ENROLL_TTL = _env_number("FACEREC_ENROLL_TTL", 7200.0)
    # Images above this many pixels are refused before they are decoded.
    FACEREC_MAX_PIXELS = int(_env_number("FACEREC_MAX_PIXELS", 40_000_000, int))
    # Live pipeline tuning.
    FACEREC_DETECT_WIDTH = int(_env_number("FACEREC_DETECT_WIDTH", 640, int))
    FACEREC_DETECT_UPSAMPLE = int(_env_number("FACEREC_DETECT_UPSAMPLE", 1, int))
    FACEREC_STREAM_DELAY = int(_env_number("FACEREC_STREAM_DELAY", 12, int))
    FACEREC_JPEG_QUALITY = int(_env_number("FACEREC_JPEG_QUALITY", 80, int))
    FACEREC_IDLE_TIMEOUT = _env_number("FACEREC_IDLE_TIMEOUT", 120.0)
    FACEREC_AUTOSTART = _env_bool("FACEREC_AUTOSTART", True)
    # Recognition processes shared by the cameras (0: one per core).
    FACEREC_RECOGNITION_WORKERS = int(_env_number("FACEREC_RECOGNITION_WORKERS", 0, int))
    # MJPEG viewers served at once over every camera (each holds a server thread); one more
    # gets 503. Keep it well below gunicorn's --threads (Makefile THREADS=100), so pages, the
    # API and health checks always find a thread. 0 = no limit.
    FACEREC_MAX_VIEWERS = int(_env_number("FACEREC_MAX_VIEWERS", 60, int))
    # A viewer whose socket accepts no data for this many seconds is dropped.
    FACEREC_STREAM_SEND_TIMEOUT = _env_number("FACEREC_STREAM_SEND_TIMEOUT", 10.0)
    # Reverse proxies in front of facerec whose X-Forwarded-For is trusted (0: none).
    FACEREC_TRUSTED_PROXIES = int(_env_number("FACEREC_TRUSTED_PROXIES", 0, int))
    # Seconds a request waits for a locked SQLite database before it answers 503 "busy".
    FACEREC_DB_BUSY_TIMEOUT = _env_number("FACEREC_DB_BUSY_TIMEOUT", 5.0)
    # Days a sighting (a face crop, its encoding, who and when) is kept; 0 keeps them all.
    FACEREC_RETENTION_DAYS = int(_env_number("FACEREC_RETENTION_DAYS", 30, int))
    # Processes that encode uploaded photos, snapshots and API requests.
    FACEREC_ENGINE_WORKERS = int(_env_number("FACEREC_ENGINE_WORKERS", os.cpu_count() or 2, int))
    # Events out (facerec.events): the queue between capture and delivery, webhooks, MQTT.
    FACEREC_EVENT_QUEUE = int(_env_number("FACEREC_EVENT_QUEUE", 1000, int))
    FACEREC_WEBHOOK_TIMEOUT = _env_number("FACEREC_WEBHOOK_TIMEOUT", 10.0)
    # Seconds before each retry of a failed delivery: 4 attempts over about 6 minutes.
    FACEREC_WEBHOOK_BACKOFF = os.environ.get("FACEREC_WEBHOOK_BACKOFF", "10,60,300")
    FACEREC_MQTT_URL = os.environ.get("FACEREC_MQTT_URL", "")
    FACEREC_MQTT_DISCOVERY_PREFIX = os.environ.get("FACEREC_MQTT_DISCOVERY_PREFIX", "homeassistant")
    FACEREC_PRESENCE_TIMEOUT = _env_number("FACEREC_PRESENCE_TIMEOUT", 300.0)
    FACEREC_METRICS_PUBLIC = _env_bool("FACEREC_METRICS_PUBLIC")
    # Webhooks, notification targets and cameras entered on a page or the API may point at
    # loopback, link-local or (webhooks, notifications) private addresses only when allowed:
    # 1 allows them all, a list (192.168.1.20,10.0.0.0/8) those alone (facerec.outbound).
    FACEREC_ALLOW_PRIVATE_TARGETS = os.environ.get("FACEREC_ALLOW_PRIVATE_TARGETS", "")


class TestConfig(Config):
    """Used by the test suite: a throwaway database, a known key, no CSRF unless a test asks."""

    TESTING = True
    SECRET_KEY = "test-secret-key-only-for-the-test-suite"
    WTF_CSRF_ENABLED = False
    FACEREC_CAMERA = os.environ.get("FACEREC_TEST_CAMERA", "")
    FACEREC_AUTOSTART = False
    FACEREC_ENGINE_WORKERS = 1
    FACEREC_MQTT_URL = ""
    FACEREC_METRICS_PUBLIC = False


def configure(app, config=None):
    """Load settings onto ``app``: defaults, then instance/config.py, then ``config``."""
    app.config.from_object(Config)
    app.config.from_pyfile("config.py", silent=True)
    if os.environ.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = os.environ["SECRET_KEY"]
    if isinstance(config, dict):
        app.config.from_mapping(config)
    elif config is not None:
        app.config.from_object(config)

    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'facerec.db'}"
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _generated_secret_key(instance / "config.py")
    server = str(app.config.get("FACEREC_SERVER") or "").strip().lower()
    if server and not SERVER_NAME_RE.fullmatch(server):
        raise RuntimeError(
            f"FACEREC_SERVER={server!r} is not a valid server name: use 1-64 letters, digits, "
            "- and _, starting with a letter or digit (such as entrance-a)."
        )
    app.config["FACEREC_SERVER"] = server
    from .outbound import ALLOW_SETTING, parse_allowance

    parse_allowance(app.config.get(ALLOW_SETTING))  # a mistyped list stops the start, clearly
    _limit_lock_waits(app)


def _limit_lock_waits(app):
    """How long a request waits for a lock another connection holds (FACEREC_DB_BUSY_TIMEOUT):
    SQLite's busy timeout, PostgreSQL's lock_timeout. Beyond it the request answers 503."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    seconds = float(app.config["FACEREC_DB_BUSY_TIMEOUT"])
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
