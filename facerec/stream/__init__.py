"""The live page and the MJPEG stream."""

from flask import Blueprint

from ..auth.guard import require_login

bp = Blueprint("stream", __name__)
bp.before_request(require_login)  # "/" and /stream.mjpg open with FACEREC_PUBLIC_STREAM

from . import routes  # noqa: E402,F401
