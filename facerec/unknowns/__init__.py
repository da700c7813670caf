"""Unknown visitors: /unknowns lists the groups of unknown sightings and acts on them."""

from flask import Blueprint, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..auth import require_login

bp = Blueprint("unknowns", __name__)
bp.before_request(require_login)

from ..models import GALLERY_CHANGED  # noqa: E402
from .placing import Placer  # noqa: E402


def placer(app=None) -> Placer:
    """The app's placer of unknown sightings (its queue, thread and group index)."""
    return (app or current_app).extensions["unknowns"]


def place_now(sighting_ids) -> int:
    """Group these sightings at once, in a transaction of their own (call after a commit):
    for a request that shows the group it made, such as “this is not N”."""
    return placer().place(sighting_ids)


@event.listens_for(Session, "after_commit")
def _gallery_changed(session):
    """A commit that changed people, samples or negatives: the app's unknowns thread looks at
    the unknown visitors again (``looking``)."""
    if session.info.pop(GALLERY_CHANGED, False) and has_app_context():
        found = current_app.extensions.get("unknowns")
        if found is not None:
            found.request_look_again()


@event.listens_for(Session, "after_rollback")
def _gallery_not_changed(session):
    session.info.pop(GALLERY_CHANGED, None)


def init_app(app):
    """Group each unknown sighting once it ended, off the sightings writer's thread."""
    from .. import sightings

    found = app.extensions["unknowns"] = Placer(app)
    sightings.subscribe(found.on_sighting, app)
    # What ended while no server ran is placed after the first request is answered.
    app.before_request(found.sweep_once)
    return found


from . import routes  # noqa: E402,F401
