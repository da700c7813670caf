"""What a camera source typed on a page or sent through the API may be.

The Test button opens a source at once, and a saved camera is opened by the server for
ever after, so a source from the web is what the server reads on that person's behalf. It
may only be:

* a webcam index (``0``);
* an ``rtsp://``, ``rtsps://``, ``http://`` or ``https://`` URL whose host is not this
  server (loopback, unspecified) nor link-local (the cloud metadata service), unless
  FACEREC_ALLOW_PRIVATE_TARGETS allows it; cameras live on the local network, so private
  addresses are fine;
* a video file inside one of the folders of FACEREC_MEDIA_DIRS (``:``-separated), or the
  file FACEREC_CAMERA names.

Nothing else FFmpeg would open: no ``tcp://``, ``udp://`` or ``rtmp://`` (a ``listen``
option makes the server wait for a connection), no ``concat:``, ``subfile:``, ``file:`` or
other protocol prefixes, no paths outside the media folders (the answer never says whether
such a path exists). FFmpeg follows no redirect for any camera (see ``sources``).

The command line (``facerec cameras add``), run on the server by its administrator, may name
any file or URL: it does not go through these rules.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from flask import current_app

from .. import outbound
from ..config import current_settings

ENTERED_SCHEMES = ("rtsp", "rtsps", "http", "https")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
WEBCAM_MAX = 63
KINDS = (
    "a webcam number (0), an rtsp://, rtsps://, http:// or https:// address, or a video "
    "file in the media folders (FACEREC_MEDIA_DIRS)"
)


class SourceRefused(ValueError):
    """A source the web may not name; the message says what it may name instead."""


def media_dirs(app=None) -> list[Path]:
    """The folders of FACEREC_MEDIA_DIRS, resolved (symbolic links followed)."""
    raw = current_settings(app).media_dirs
    return [Path(item).expanduser().resolve() for item in raw.split(os.pathsep) if item.strip()]


def check_entered_source(spec: str, app=None) -> str:
    """``spec`` as the camera will be stored, if the web may name it; else SourceRefused.

    A file comes back as its absolute path, so that what was checked is what is opened.
    """
    app = app or current_app._get_current_object()
    spec = (spec or "").strip()
    if spec.isdigit():
        if int(spec) > WEBCAM_MAX:
            raise SourceRefused(f"There is no webcam number {int(spec)}; use 0 to {WEBCAM_MAX}.")
        return str(int(spec))
    scheme = _SCHEME.match(spec)
    if scheme and len(scheme.group(1)) > 1:  # C:\... is a Windows path, not a scheme
        return _check_url(spec, scheme.group(1).lower(), app)
    return _check_file(spec, app)


def _check_url(spec: str, scheme: str, app) -> str:
    if scheme not in ENTERED_SCHEMES:
        raise SourceRefused(
            f"{scheme}: sources cannot be used from the web. A camera source is {KINDS}."
        )
    parts = urlsplit(spec)
    try:
        port = parts.port
    except ValueError:
        raise SourceRefused("The address's port must be a number from 1 to 65535.") from None
    if not parts.hostname or port == 0:
        raise SourceRefused("The address names no host (such as rtsp://192.168.1.20/stream).")
    try:
        outbound.check_host(parts.hostname, port, lan=True, app=app)
    except outbound.TargetRefused as exc:
        raise SourceRefused(str(exc)) from None
    return spec


def _env_file(app) -> Path | None:
    """The file FACEREC_CAMERA names, resolved (None when it names a webcam or a URL)."""
    env = current_settings(app).camera.strip()
    if not env or env.isdigit() or _SCHEME.match(env):
        return None
    return Path(env).expanduser().resolve()


def _check_file(spec: str, app) -> str:
    path = Path(spec).expanduser()
    if path.is_absolute():
        resolved = path.resolve()
    else:  # relative to a media folder, never to the server's working folder
        resolved = None
        for folder in media_dirs(app):
            candidate = (folder / path).resolve()
            if candidate.is_file():
                resolved = candidate
                break
    if resolved is not None and resolved == _env_file(app):
        return str(resolved)  # the administrator's own FACEREC_CAMERA file
    folders = media_dirs(app)
    if resolved is None or not any(resolved.is_relative_to(folder) for folder in folders):
        # The same words whether or not the path exists: the answer must not tell.
        where = (
            "the media folders (FACEREC_MEDIA_DIRS)"
            if folders
            else "a media folder, and none is configured (FACEREC_MEDIA_DIRS)"
        )
        raise SourceRefused(
            f"Video files can be used only from {where}. A camera source is {KINDS}."
        )
    if not resolved.is_file():
        raise SourceRefused("There is no such video file in the media folders.")
    return str(resolved)
