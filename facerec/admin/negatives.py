"""A person's negative samples on their admin page: thumbnails and removal."""

from __future__ import annotations

from flask import abort, flash, redirect, url_for
from sqlalchemy import select

from ..auth.roles import requires
from ..extensions import db
from ..models import NegativeSample
from ..negatives import negatives_of
from . import bp
from .routes import thumbnail_response

# The person page includes admin/_negatives.html, which lists them through this.
bp.add_app_template_global(negatives_of, "user_negatives")


@bp.get("/negatives/<int:negative_id>/thumbnail.jpg")
@requires("people")
def negative_thumbnail(negative_id):
    """A negative sample's face thumbnail (JPEG)."""
    data = db.session.scalar(
        select(NegativeSample.thumbnail).where(NegativeSample.id == negative_id)
    )
    if data is None:
        abort(404, description="There is no such negative sample.")
    return thumbnail_response(data)


@bp.post("/negatives/<int:negative_id>/delete")
@requires("correct")
def delete_negative(negative_id):
    """Remove a negative: the person may again be given faces like it."""
    row = db.get_or_404(
        NegativeSample,
        negative_id,
        description="There is no such negative sample (it may have been removed).",
    )
    user = row.user
    db.session.delete(row)  # through the ORM: the gallery version moves on
    db.session.commit()
    flash(
        f"Removed a “not {user.name}” face. Faces like it may be named {user.name} again.",
        "success",
    )
    return redirect(url_for("admin.person", user_id=user.id) + "#negatives")
