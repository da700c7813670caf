"""Admin pages: the table of people, a person's page, API tokens, webhooks, notifications."""

from flask import Blueprint

from ..auth import require_login
from ..extensions import db

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(require_login)


def toggle_enabled(row, label: str) -> str:
    """Enable a disabled row (camera, webhook, notification target) or disable an enabled
    one, committed; returns the sentence that tells the user, e.g. "Disabled the camera
    “door”."."""
    row.enabled = not row.enabled
    db.session.commit()
    return f"{'Enabled' if row.enabled else 'Disabled'} {label}."


def delete_row(row, message: str) -> str:
    """Delete a row (camera, webhook, notification target; what belongs to it goes too),
    committed; returns ``message`` (built from the row before the call, e.g. "Deleted the
    camera “door”.")."""
    db.session.delete(row)
    db.session.commit()
    return message


from . import (  # noqa: E402, F401
    accounts,
    audit,
    cameras,
    health,
    negatives,
    notifications,
    routes,
    tokens,
    webhooks,
)
