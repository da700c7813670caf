"""/history/search: find earlier sightings of a face (every search goes on the audit trail)."""

from __future__ import annotations

import base64
import secrets
import threading
import time

import cv2
import numpy as np
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from .. import engine, faces, people
from ..auth.guard import safe_next
from ..auth.roles import require_camera, requires
from ..config import current_settings
from ..extensions import db
from ..models import Sighting, User
from ..ratelimits import search_limit
from ..unknowns import place_now
from ..unknowns import service as unknowns
from ..web import release_database
from . import bp, service

# Photos with several faces wait here (by a random token) while the operator picks one.
PICK_TTL = 600
_picks: dict[str, tuple[float, str, list]] = {}
_picks_lock = threading.Lock()


def _form_values() -> dict:
    source = request.form if request.method == "POST" else request.args
    return {k: source.get(k, "") for k in ("tolerance", "limit", "since", "until", "camera")}


def _offset() -> int:
    source = request.form if request.method == "POST" else request.args
    return max(0, source.get("offset", 0, type=int) or 0)


def _render(status=200, **context):
    context.setdefault("values", _form_values())
    context.setdefault("default_tolerance", current_settings().tolerance)
    return render_template("search/index.html", everyone=people.everyone(), **context), status


def _run(encoding, values: dict, source: str, sighting_id=None, pick=None, face=0):
    """Search and show one page of results, with the face searched with (a photo's, kept under
    ``pick`` for the next pages, or the sighting's crop)."""
    try:
        filters = service.parse_filters(values)
    except service.SearchError as exc:
        flash(f"Not searched: {exc}", "error")
        return _render(422)
    offset = _offset()
    matches, total = service.search_page(encoding, filters, offset)
    if offset == 0:  # the next pages are the same search, already on record
        service.record(source, filters, total, sighting_id)
    face_url = None
    if pick is not None:
        face_url = _pick_face(pick, face)
    elif sighting_id is not None:
        face_url = f"/api/v1/sightings/{sighting_id}/crop.jpg"
    return _render(
        matches=matches,
        filters=filters,
        searched=True,
        total=total,
        offset=offset,
        pick=None,
        more_pick=pick,
        more_face=face,
        sighting_id=sighting_id,
        face_url=face_url,
    )


def _face_jpeg(rgb: np.ndarray, reduced: float, box) -> str:
    """The face searched with, as a data: URL (the photo itself is not kept); ``rgb`` is the
    photo ``reduced`` times smaller than the one ``box`` was found in."""
    box = tuple(v / reduced for v in box)
    return "data:image/jpeg;base64," + base64.b64encode(faces.crop(rgb, box)).decode()


def _boxes_jpeg(rgb: np.ndarray, reduced: float, found) -> str:
    """The photo with each face boxed and numbered, as a data: URL (no file is kept).

    ``rgb`` is the photo ``reduced`` times smaller than the one the boxes were found in."""
    image = rgb.copy()
    scale = min(1.0, 900 / max(image.shape[:2]))
    image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    for number, face in enumerate(found, start=1):
        top, right, bottom, left = (int(v * scale / reduced) for v in face.box)
        cv2.rectangle(image, (left, top), (right, bottom), (255, 200, 0), 2)
        cv2.putText(image, str(number), (left + 4, top + 24), cv2.FONT_HERSHEY_SIMPLEX, 0.8,
                    (255, 200, 0), 2)  # fmt: skip
    return "data:image/jpeg;base64," + base64.b64encode(faces.to_jpeg(image)).decode()


def _keep_pick(found, rgb, reduced: float) -> str:
    """Keep a photo's faces (encoding and crop) a while under a random token: to choose one
    of several, and to turn the pages of the results."""
    now = time.monotonic()
    token = secrets.token_urlsafe(16)
    kept = [(f.encoding, _face_jpeg(rgb, reduced, f.box)) for f in found]
    with _picks_lock:
        for key in [k for k, (t, _, _) in _picks.items() if now - t > PICK_TTL]:
            del _picks[key]
        _picks[token] = (now, str(current_user.get_id()), kept)
    return token


def _pick_entry(token: str, index: int):
    with _picks_lock:
        entry = _picks.get(token)
    if entry is None or entry[1] != str(current_user.get_id()):
        return None
    kept = entry[2]
    return kept[index] if 0 <= index < len(kept) else None


def _take_pick(token: str, index: int):
    entry = _pick_entry(token, index)
    return entry[0] if entry is not None else None


def _pick_face(token: str, index: int) -> str | None:
    entry = _pick_entry(token, index)
    return entry[1] if entry is not None else None


@bp.route("/history/search", methods=["GET", "POST"])
@search_limit
@requires("search")
def index():
    """Upload a photo (choosing a face when there are several), or start from a sighting."""
    if request.method == "GET":
        sighting_id = request.args.get("sighting_id", type=int)
        if sighting_id is None:
            return _render()
        row = db.session.get(Sighting, sighting_id)
        if row is None or row.encoding is None:
            abort(404, description="There is no such sighting, or it has no face to search with.")
        return _run(row.vector, _form_values(), "sighting", row.id)
    if request.form.get("pick"):
        face = request.form.get("face", -1, type=int)
        encoding = _take_pick(request.form["pick"], face)
        if encoding is None:
            flash("That photo is no longer kept (10 minutes); upload it again.", "error")
            return _render(409)
        return _run(encoding, _form_values(), "photo", pick=request.form["pick"], face=face)
    upload = request.files.get("image")
    data = upload.read() if upload else b""
    if not data:
        flash("Choose a photo with the face to search for.", "error")
        return _render(400)
    try:
        # Decoded small, in this process, only to draw the boxes on: the engine does the rest.
        rgb, reduced = faces.decode_reduced(data, current_settings().max_pixels, 900)
        release_database()  # no connection held while the engine works
        found = engine.faces_in_image(current_app, data)
    except faces.ImageError as exc:
        flash(f"Not searched: {faces.sentence(str(exc))}", "error")
        return _render(400)
    if not found:
        flash("Not searched: no face was found in the photo.", "error")
        return _render(400)
    token = _keep_pick(found, rgb, reduced)
    if len(found) > 1:
        return _render(pick=token, picture=_boxes_jpeg(rgb, reduced, found), face_count=len(found))
    return _run(found[0].encoding, _form_values(), "photo", pick=token, face=0)


@bp.post("/history/sightings/<int:sighting_id>/label")
@requires("correct")
def label(sighting_id):
    """“This is <person>” or “This is not <name>” on a sighting (history and search results).

    This is: the sighting is relabelled and its crop becomes a sample if it passes the checks.
    This is not: its face becomes a negative sample of that person and it becomes unknown.
    """
    row = db.session.get(Sighting, sighting_id)
    if row is None:
        abort(404, description="There is no such sighting (it may have been deleted).")
    require_camera(row.camera)
    back = safe_next(request.form.get("next")) or url_for(".index")
    not_id = request.form.get("not_user_id", type=int)
    user = db.session.get(User, not_id or request.form.get("user_id", type=int) or 0)
    if user is None:
        flash("Choose the person this is.", "error")
        return redirect(back, 303)
    if not_id:
        try:
            unknowns.not_this(row, user)
        except (unknowns.CannotCorrect, people.SampleRejected) as exc:
            db.session.rollback()
            flash(f"Not corrected: {exc}", "error")
            return redirect(back, 303)
        db.session.commit()
        place_now([row.id])
        flash(
            f"Noted: sighting {row.id} is not {user.name}. Faces like it will not be named "
            f"{user.name} again (see {user.name}'s page to undo).",
            "success",
        )
        return redirect(back, 303)
    added, refused = unknowns.label_as(row, user)
    db.session.commit()
    message = f"Sighting {row.id} is now {user.name}"
    flash(message + (" and its face was added as a sample." if added else "."), "success")
    if refused:
        flash("Not used as a sample: " + " ".join(refused), "warning")
    return redirect(back, 303)


@bp.get("/history/searches")
@requires("audit")
def audit():
    """The searches by face, now part of the audit trail: its page, showing them alone."""
    return redirect(url_for("admin.audit", action="sightings.searched"), 301)
