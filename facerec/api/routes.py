"""The stream, recognition and documentation endpoints of /api/v1."""

from flask import current_app, jsonify, render_template, request

from .. import camera, face_jobs, gallery
from . import bp, docs, openapi
from .inputs import image_field, parse_tolerance


@bp.get("/stream/status")
def stream_status():
    """The camera's state and the faces of the latest recognition result."""
    return jsonify(camera.service().status())


@bp.post("/stream/start")
def stream_start():
    """Start the camera (no-op when running)."""
    cam = camera.service()
    cam.start()
    return jsonify(cam.status())


@bp.post("/stream/stop")
def stream_stop():
    """Stop the camera and release the device."""
    cam = camera.service()
    cam.stop()
    return jsonify(cam.status())


@bp.post("/recognize")
def recognize():
    """Every face of the uploaded photo with the person it matches, if any."""
    data = image_field("image")
    tolerance = parse_tolerance(request.form.get("tolerance"))
    found = face_jobs.faces_in_image(current_app, data)  # in the pool's processes, off the GIL
    matcher = gallery.current()
    return jsonify(
        faces=[
            {"box": list(face.box), **matcher.match(face.encoding, tolerance).as_dict()}
            for face in found
        ]
    )


@bp.get("/openapi.json")
def openapi_document():
    """The OpenAPI 3 description of this API."""
    return jsonify(openapi.spec(current_app.config.get("MAX_CONTENT_LENGTH")))


@bp.get("/docs", endpoint="docs")
def docs_page():
    """The OpenAPI description rendered for people."""
    document = openapi.spec(current_app.config.get("MAX_CONTENT_LENGTH"))
    return render_template("api/docs.html", doc=docs.view(document))
