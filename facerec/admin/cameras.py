"""The cameras page: add, edit, enable or disable, test and delete cameras."""

from __future__ import annotations

import base64

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy.exc import IntegrityError

from .. import camera
from ..auth.roles import requires
from ..camera import store
from ..camera.probe import Probe, probe
from ..extensions import db
from ..models import Camera
from . import bp, delete_row, toggle_enabled
from .forms import CameraForm


def _camera_or_404(camera_id: int) -> Camera:
    row = store.get(camera_id)  # another server's camera is not this server's to change
    if row is None:
        abort(404, description="There is no such camera (it may have been deleted).")
    return row


def _back(message: str, default_before: str | None = None):
    """Say what changed, and what the default stream shows when the change moved it, on the
    list of cameras (303: the list is fetched again with GET)."""
    default_now = store.default_camera()
    if default_now != default_before:
        if default_now is None:
            message += " No camera is enabled now, so there is no default stream."
        else:
            message += f" The default stream (/stream.mjpg) now shows “{default_now}”."
    elif default_now is not None:
        message += f" The default stream (/stream.mjpg) still shows “{default_now}”."
    flash(message, "success")
    return redirect(url_for("admin.cameras"), 303)


def _applied(message: str, default_before: str | None):
    """A change to the cameras table takes effect at once (cameras start or stop), then _back."""
    camera.registry().refresh(force=True)
    return _back(message, default_before)


def _probe_view(name: str, *results: tuple[str, str, Probe]) -> dict:
    """The Test button's report: per URL tested (its role, e.g. "main stream", and the source
    with credentials hidden) a snapshot and what was found, or the reason it failed."""
    views = []
    for role, source, result in results:
        view = {
            "role": role,
            "source": camera.describe(source),
            "error": result.error,
            "status": result.status,
        }
        if result.jpeg:
            info = result.info
            view["image"] = "data:image/jpeg;base64," + base64.b64encode(result.jpeg).decode()
            view["size"] = f"{result.width} x {result.height}"
            view["codec"] = info.codec or "not reported"
            view["declared_fps"] = f"{info.fps:.2f}".rstrip("0").rstrip(".") if info.fps else ""
            view["measured_fps"] = (
                f"{result.measured_fps:.1f}" if result.measured_fps is not None else ""
            )
            view["first_frame_ms"] = info.first_frame_ms
            view["kind"] = info.kind
        views.append(view)
    return {"name": name, "results": views}


def _without_credentials(form: CameraForm | None):
    """A form sent back never repeats a source holding credentials (it is typed again)."""
    if form is None:
        return form
    for field in (form.source, form.detect_source):
        typed = field.data
        if typed and camera.describe(typed) != typed.strip():
            field.data = ""
            field.errors = [
                *field.errors,
                "Not shown again because it holds credentials: type it again.",
            ]
    return form


def _detect_source(form: CameraForm, row: Camera | None) -> str | None:
    """The sub-stream the form asks for: typed, else the stored one, unless it is removed."""
    if form.no_detect_source.data:
        return None
    return (form.detect_source.data or "").strip() or (row.detect_source if row else None)


def _render_list(form=None, tested=None, status=200):
    _without_credentials(form)
    registry = camera.registry()
    registry.refresh(force=True)
    rows = []
    for row in store.all_cameras():
        service = registry.get(row.name)
        rows.append(
            {
                "row": row,
                "source": camera.describe(row.source),
                "status": service.status() if service is not None else None,
            }
        )
    env = store.env_camera()
    return render_template(
        "admin/cameras.html",
        rows=rows,
        form=form or CameraForm(formdata=None),
        tested=tested,
        env_camera=(env[0], camera.describe(env[1])) if env else None,
        default_camera=store.default_camera(),
    ), status


def _save(form: CameraForm, row: Camera | None) -> tuple[Camera | None, str | None]:
    """Store the form's camera; an empty source on an edit keeps the stored one."""
    source = form.source.data
    if row is not None and not (source or "").strip():
        source = row.source
    try:
        saved = store.save(
            row,
            name=form.name.data,
            source=source,
            enabled=form.enabled.data,
            detect_width=form.detect_width.data,
            tolerance=form.tolerance.data,
            entered=True,
            transport=form.transport.data,
            snapshot_rate=form.snapshot_rate.data,
            motion_gate=form.motion_gate.data,
            motion_area=form.motion_area.data,
            recheck_interval=form.recheck_interval.data,
            keep_main=not form.replace_main.data,
            detect_source=_detect_source(form, row),
        )
        db.session.commit()
    except store.CameraError as exc:
        db.session.rollback()
        return None, str(exc)
    except IntegrityError:  # another request took the name between the check and the save
        db.session.rollback()
        return None, f"A camera named “{store.clean_name(form.name.data)}” already exists."
    camera.registry().refresh(force=True)
    return saved, None


def _test_form(form: CameraForm, row: Camera | None):
    """The Test button of a form: open the typed sources (or the stored ones) once each."""
    typed = (form.source.data or "").strip()
    source = typed or (row.source if row else "")
    detect = _detect_source(form, row)
    label = form.name.data or (row.name if row else "new camera")
    try:
        source = store.clean_entered_source(source) if typed else store.clean_source(source)
        stored = row.detect_source if row else None
        detect = store.clean_detect_source(detect, source, entered=True, stored=stored)
        options = camera.registry().source_options(
            transport=store.clean_transport(form.transport.data),
            snapshot_rate=store.clean_snapshot_rate(form.snapshot_rate.data),
        )
    except store.CameraError as exc:
        return _probe_view(label, (MAIN, source, Probe(error=str(exc))))
    return _probe_view(
        label, *_tested(camera.get(row.name) if row else None, source, detect, options)
    )


# The Test button's words for the two streams of a camera.
MAIN, DETECT = "main stream", "detection sub-stream"


def _tested(running, source: str, detect: str | None, options) -> list[tuple[str, str, Probe]]:
    """Each stream of a camera tested: the main one, and the sub-stream when there is one
    (streams the running camera has open are described from it, not opened twice)."""
    app = current_app._get_current_object()
    results = [(MAIN, source, probe(source, running, options, app=app))]
    if detect:
        substream = running.substream if running is not None else None
        results.append((DETECT, detect, probe(detect, substream, options, app=app)))
    return results


@bp.get("/cameras")
@requires("cameras")
def cameras():
    """Every camera with its state; a form to add one."""
    return _render_list()


@bp.post("/cameras")
@requires("cameras")
def add_camera():
    """Add a camera (or, with the Test button, try its source without saving)."""
    form = CameraForm()
    if not form.validate_on_submit():
        return _render_list(form, status=400)
    if request.form.get("action") == "test":
        return _render_list(form, tested=_test_form(form, None))
    before = store.default_camera()
    saved, error = _save(form, None)
    if error:
        form.name.errors = [*form.name.errors, error]
        return _render_list(form, status=400)
    return _back(f"Added the camera “{saved.name}”.", before)


def _render_edit(row: Camera, form: CameraForm, tested=None, status=200):
    _without_credentials(form)
    return render_template(
        "admin/camera.html",
        row=row,
        form=form,
        source=camera.describe(row.source),
        detect_source=camera.describe(row.detect_source) if row.detect_source else None,
        tested=tested,
    ), status


@bp.get("/cameras/<int:camera_id>")
@requires("cameras")
def edit_camera(camera_id):
    """A camera's settings (the stored source is never sent back: it may hold a password)."""
    row = _camera_or_404(camera_id)
    form = CameraForm(formdata=None, obj=row)
    form.source.data = form.detect_source.data = ""
    form.detect_width.data = row.detect_width or ""
    form.tolerance.data = "" if row.tolerance is None else f"{row.tolerance:g}"
    form.snapshot_rate.data = "" if row.snapshot_rate is None else f"{row.snapshot_rate:g}"
    form.motion_gate.data = {None: "", True: "on", False: "off"}[row.motion_gate]
    form.motion_area.data = "" if row.motion_area is None else f"{row.motion_area:g}"
    form.recheck_interval.data = "" if row.recheck_interval is None else f"{row.recheck_interval:g}"
    return _render_edit(row, form)


@bp.post("/cameras/<int:camera_id>")
@requires("cameras")
def update_camera(camera_id):
    """Save a camera's settings; it restarts with them without a server restart."""
    row = _camera_or_404(camera_id)
    form = CameraForm()
    if not form.validate_on_submit():
        return _render_edit(row, form, status=400)
    if request.form.get("action") == "test":
        return _render_edit(row, form, tested=_test_form(form, row))
    before = store.default_camera()
    saved, error = _save(form, row)
    if error:
        form.name.errors = [*form.name.errors, error]
        return _render_edit(row, form, status=400)
    return _back(f"Saved the camera “{saved.name}”.", before)


@bp.post("/cameras/<int:camera_id>/toggle")
@requires("cameras")
def toggle_camera(camera_id):
    """Enable a disabled camera, or disable (stop and release) an enabled one."""
    row = _camera_or_404(camera_id)
    before = store.default_camera()
    return _applied(toggle_enabled(row, f"the camera “{row.name}”"), before)


@bp.post("/cameras/<int:camera_id>/test")
@requires("cameras")
def test_camera(camera_id):
    """Open the camera's source once and show a snapshot, or the reason it failed."""
    row = _camera_or_404(camera_id)
    options = camera.registry().source_options(row.transport, row.snapshot_rate)
    tested = _tested(camera.get(row.name), row.source, row.detect_source, options)
    return _render_list(tested=_probe_view(row.name, *tested))


@bp.post("/cameras/<int:camera_id>/delete")
@requires("cameras")
def delete_camera(camera_id):
    """Delete a camera: it stops at once (its sightings stay in the history)."""
    row = _camera_or_404(camera_id)
    before = store.default_camera()
    return _applied(delete_row(row, f"Deleted the camera “{row.name}”."), before)
