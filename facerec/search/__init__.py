"""Search the history by face: /history/search and the audit of searches, /history/searches."""

from flask import Blueprint

from ..auth import require_login

bp = Blueprint("search", __name__)
bp.before_request(require_login)

from . import routes  # noqa: E402,F401
