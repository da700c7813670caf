"""The live page and the MJPEG stream."""

from flask import Blueprint

bp = Blueprint("stream", __name__)

from . import routes  # noqa: E402,F401
