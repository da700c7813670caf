"""Unknown visitors: /unknowns lists the groups of unknown sightings and acts on them."""

from flask import Blueprint

from ..auth import require_login

bp = Blueprint("unknowns", __name__)
bp.before_request(require_login)

from . import routes  # noqa: E402,F401
