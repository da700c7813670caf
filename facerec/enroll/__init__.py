"""The enrollment wizard: details, samples (camera snapshots or uploads), review and save."""

from flask import Blueprint

from ..auth.guard import require_login

bp = Blueprint("enroll", __name__, url_prefix="/enroll")
bp.before_request(require_login)

from . import intake, routes  # noqa: E402,F401
