"""Cameras in the database: the rules for a name and a source, shared by the CLI and the pages.

Every change goes through the ORM and a commit; each web process notices it on its next
look at the table (see ``registry``), so nothing needs a restart.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from ..config import current_settings
from ..extensions import db
from ..models import CAMERA_NAME_MAX, CAMERA_SOURCE_MAX, Camera
from .source_rules import SourceRefused, check_entered_source
from .sources import TRANSPORTS

NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")
DETECT_WIDTH_MIN, DETECT_WIDTH_MAX = 160, 3840
# Pictures a second asked of a snapshot camera: from one a minute to a video's rate.
SNAPSHOT_RATE_MIN, SNAPSHOT_RATE_MAX = 1 / 60, 30.0
# Seconds between two encodings of a settled face: from "almost every result" to an hour.
RECHECK_MIN, RECHECK_MAX = 0.1, 3600.0


class CameraError(ValueError):
    """A camera value breaks a rule; the message is written for the operator."""


def clean_name(raw: str | None) -> str:
    name = (raw or "").strip().lower()
    if not name:
        raise CameraError("A camera needs a name, such as front-door.")
    if len(name) > CAMERA_NAME_MAX:
        raise CameraError(f"The name is too long ({len(name)} characters; at most 64).")
    if not NAME_RE.fullmatch(name):
        raise CameraError(
            "A camera name may hold only letters, digits, - and _, and starts with a letter "
            "or digit (it is part of the camera's web address), such as front-door."
        )
    return name


def clean_source(raw: str | None) -> str:
    source = (raw or "").strip()
    if not source:
        raise CameraError(
            "A camera needs a source: a webcam number (0), a video file path or a stream URL."
        )
    if len(source) > CAMERA_SOURCE_MAX:
        raise CameraError(f"The source is too long (at most {CAMERA_SOURCE_MAX} characters).")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in source):
        raise CameraError("The source may not contain control characters or line breaks.")
    return source


def clean_detect_width(raw) -> int | None:
    return _optional_number(
        raw,
        int,
        lambda value: DETECT_WIDTH_MIN <= value <= DETECT_WIDTH_MAX,
        f"The detection width must be a whole number of pixels from {DETECT_WIDTH_MIN} "
        f"to {DETECT_WIDTH_MAX}, or empty for the server's default.",
    )


def clean_tolerance(raw) -> float | None:
    return _optional_number(
        raw,
        float,
        lambda value: 0.0 < value <= 1.0,
        "The tolerance must be a number above 0 and at most 1 (0.6 is usual), or empty "
        "for the server's default.",
    )


def clean_motion_area(raw) -> float | None:
    return _optional_number(
        raw,
        float,
        lambda value: 0.0 < value <= 100.0,
        "The motion area must be a percentage of the picture above 0 and at most 100 (0.1 "
        "is usual), or empty for the server's default (FACEREC_MOTION_AREA).",
    )


def clean_recheck_interval(raw) -> float | None:
    return _optional_number(
        raw,
        float,
        lambda value: RECHECK_MIN <= value <= RECHECK_MAX,
        f"The re-check interval must be a number of seconds from {RECHECK_MIN:g} to "
        f"{RECHECK_MAX:g}, or empty for the server's default (FACEREC_RECHECK_INTERVAL).",
    )


def clean_motion_gate(raw) -> bool | None:
    """``on``/``off`` (or a bool); empty or ``default``: the server's FACEREC_MOTION_GATE."""
    if raw is None or isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower()
    if word in ("", "default"):
        return None
    if word in ("on", "1", "true", "yes"):
        return True
    if word in ("off", "0", "false", "no"):
        return False
    raise CameraError("The motion gate must be on, off, or empty for the server's default.")


def clean_transport(raw) -> str:
    transport = (raw or "").strip().lower() or "tcp"
    if transport not in TRANSPORTS:
        raise CameraError(
            "The transport must be tcp (the video inside the RTSP connection: the default, "
            "and what works through NAT and Wi-Fi) or udp."
        )
    return transport


def clean_snapshot_rate(raw) -> float | None:
    return _optional_number(
        raw,
        float,
        lambda value: SNAPSHOT_RATE_MIN <= value <= SNAPSHOT_RATE_MAX,
        "The snapshot rate must be a number of pictures a second from 0.017 (one a minute) "
        f"to {SNAPSHOT_RATE_MAX:g}, or empty for the server's default (FACEREC_SNAPSHOT_RATE).",
    )


def _optional_number(raw, parse, allowed, problem: str):
    """``raw`` read by ``parse``; None when empty (the server's default).

    Raises CameraError(``problem``) when ``parse`` cannot read it or ``allowed`` refuses it.
    """
    text = "" if raw is None else str(raw).strip()
    if not text:
        return None
    try:
        value = parse(text)
    except ValueError:
        raise CameraError(problem) from None
    if not allowed(value):
        raise CameraError(problem)
    return value


def this_server() -> str:
    """FACEREC_SERVER: the cameras of this server are the rows stored under it."""
    return current_settings().server


def all_cameras() -> list[Camera]:
    """This server's cameras (other servers sharing the database keep theirs)."""
    stmt = select(Camera).where(Camera.server == this_server()).order_by(Camera.id)
    return list(db.session.execute(stmt).scalars())


def find(name: str) -> Camera | None:
    return db.session.execute(
        select(Camera).where(
            Camera.name == (name or "").strip().lower(), Camera.server == this_server()
        )
    ).scalar_one_or_none()


def default_camera() -> str | None:
    """The name of the camera /stream.mjpg and /api/v1/stream/* show: the first enabled
    stored camera, or FACEREC_CAMERA's while none is stored (None: no camera at all)."""
    rows = all_cameras()
    if not rows:
        env = env_camera()
        return env[0] if env else None
    return next((row.name for row in rows if row.enabled), None)


def get(camera_id: int) -> Camera | None:
    row = db.session.get(Camera, camera_id)
    return row if row is not None and row.server == this_server() else None


def check_name_free(name: str, camera_id: int | None = None):
    """Names are unique over every server: the shared history records sightings by name."""
    clash = db.session.execute(
        select(Camera.server).where(Camera.name == name, Camera.id != (camera_id or 0))
    ).scalar()
    if clash is not None:
        where = f" on the server “{clash}”" if clash != this_server() else ""
        raise CameraError(f"A camera named “{name}” already exists{where}.")


def clean_entered_source(raw: str | None) -> str:
    """A source typed on a page or sent through the API: ``clean_source`` and then the
    rules of ``source_rules`` (the command line may name any file or URL)."""
    try:
        return check_entered_source(clean_source(raw))
    except SourceRefused as exc:
        raise CameraError(str(exc)) from None


def env_camera() -> tuple[str, str] | None:
    """``(name, source)`` of the camera FACEREC_CAMERA defines while none is stored (its
    name is ``main``, or this server's name), or None when it names none or one is stored."""
    source = current_settings().camera.strip()
    if not source or all_cameras():
        return None
    return this_server() or "main", source


def keep_env_camera(adding: str) -> Camera | None:
    """Store the FACEREC_CAMERA camera as a row before the first camera ``adding`` is.

    Without it, the first stored camera would silently replace the running ``main``
    (stored cameras alone decide once there is one). Stored, ``main`` stays until an
    administrator removes it on purpose. Nothing is stored when ``adding`` is that name
    itself (the administrator is defining it) or the name is taken on another server.
    """
    env = env_camera()
    if env is None or env[0] == adding:
        return None
    name, source = env
    try:
        check_name_free(name)
    except CameraError:
        return None
    row = Camera(name=name, source=source, enabled=True, server=this_server())
    db.session.add(row)
    db.session.flush()  # before the new camera, so that it keeps its place as the first
    return row


def clean_detect_source(raw, source: str, entered: bool, stored: str | None = None):
    """The detection sub-stream, or None (empty: faces are looked for in the main stream).

    Checked like a source (the web's rules when ``entered``, unless it is ``stored``, kept
    unchanged); the main stream itself is refused, as a sub-stream would only read it twice.
    """
    text = (raw or "").strip()
    if not text:
        return None
    check = clean_entered_source if entered and text != stored else clean_source
    try:
        detect = check(text)
    except CameraError as exc:
        raise CameraError(f"Detection sub-stream: {exc}") from None
    if detect == source:
        raise CameraError(
            "The detection sub-stream is the main stream itself: enter the camera's smaller "
            "stream (such as /Streaming/Channels/102), or leave it empty."
        )
    return detect


def save(
    camera: Camera | None,
    *,
    name,
    source,
    enabled=True,
    detect_width=None,
    tolerance=None,
    entered=False,
    transport=None,
    snapshot_rate=None,
    motion_gate=None,
    motion_area=None,
    recheck_interval=None,
    keep_main=True,
    detect_source=None,
):
    """Validate and store a new (``camera`` None) or changed camera; the caller commits.

    ``entered``: the source comes from the web or the API, so ``source_rules`` applies
    (unless it is the camera's stored source, kept unchanged). ``keep_main``: the first
    camera stored keeps the FACEREC_CAMERA camera beside it (``keep_env_camera``);
    False replaces it.
    """
    name = clean_name(name)
    unchanged = camera is not None and (source or "").strip() == camera.source
    source = clean_entered_source(source) if entered and not unchanged else clean_source(source)
    stored_detect = camera.detect_source if camera is not None else None
    detect_source = clean_detect_source(detect_source, source, entered, stored_detect)
    detect_width = clean_detect_width(detect_width)
    tolerance = clean_tolerance(tolerance)
    transport = clean_transport(transport)
    snapshot_rate = clean_snapshot_rate(snapshot_rate)
    motion_gate = clean_motion_gate(motion_gate)
    motion_area = clean_motion_area(motion_area)
    recheck_interval = clean_recheck_interval(recheck_interval)
    check_name_free(name, camera.id if camera else None)
    if camera is None:
        if keep_main:
            keep_env_camera(name)
        camera = Camera(server=this_server())
        db.session.add(camera)
    camera.name, camera.source, camera.enabled = name, source, bool(enabled)
    camera.detect_width, camera.tolerance = detect_width, tolerance
    camera.transport, camera.snapshot_rate = transport, snapshot_rate
    camera.motion_gate, camera.motion_area = motion_gate, motion_area
    camera.recheck_interval = recheck_interval
    camera.detect_source = detect_source
    return camera
