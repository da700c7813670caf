import math

from flask import current_app, jsonify, render_template, request

from .. import camera, engine, gallery
from . import bp, docs, openapi
from .errors import ApiError


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


def image_field(name: str = "image") -> bytes:
    """The bytes of the uploaded file in multipart field ``name`` (400 when missing)."""
    upload = request.files.get(name)
    if upload is None:
        raise ApiError(400, f"Send the photo as a file in the multipart field “{name}”.")
    return upload.read()


def parse_tolerance(raw: str | None) -> float:
    if raw is None or raw.strip() == "":
        return float(current_app.config["FACEREC_TOLERANCE"])
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise ApiError(422, "The tolerance must be a number from 0 to 1.")
    return value


@bp.post("/recognize")
def recognize():
    """Every face of the uploaded photo with the person it matches, if any."""
    data = image_field("image")
    tolerance = parse_tolerance(request.form.get("tolerance"))
    found = engine.faces_in_image(current_app, data)  # in the engine's processes, off the GIL
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


from . import users  # noqa: E402,F401  (the people endpoints)
