"""Unknown visitors: /unknowns lists the groups of unknown sightings and acts on them."""

from flask import Blueprint

from ..auth import require_login

bp = Blueprint("unknowns", __name__)
bp.before_request(require_login)

from . import routes  # noqa: E402,F401


def init_app(app):
    """Group each unknown sighting as soon as it ends (before anyone opens the inbox)."""
    from functools import partial

    from .. import sightings
    from .service import on_sighting

    sightings.subscribe(partial(on_sighting, app), app)
