"""The stream, recognition and documentation endpoints of /api/v1."""

from flask import current_app, render_template, request

from .. import engine, gallery
from ..auth.roles import requires
from ..config import current_settings
from ..ratelimits import recognize_limit
from ..stream.routes import first_camera
from ..web import release_database
from . import bp, docs, openapi
from .cameras import RETRIED, STATE, STATUS, set_running
from .contract import ENGINE_BUSY, RATE_LIMITED, operation
from .schemas import Recognition, RecognizeForm


@bp.get("/stream/status")
@requires("live")
@operation(
    "streamStatus",
    tag="Stream",
    summary="The camera's state and who is in view",
    description="Open to anyone when FACEREC_PUBLIC_STREAM is on (the live page polls it).",
    responses={200: STATE},
)
def stream_status():
    """The camera's state and the faces of the latest recognition result."""
    return first_camera().status()


@bp.post("/stream/start")
@requires("cameras")
@operation(
    "streamStart",
    tag="Stream",
    summary="Start the camera (no change when running)",
    description=RETRIED,
    responses={200: STATUS},
)
def stream_start():
    """Start the camera (no-op when running)."""
    return set_running(first_camera(), True)


@bp.post("/stream/stop")
@requires("cameras")
@operation(
    "streamStop",
    tag="Stream",
    summary="Stop the camera and release the device",
    responses={200: STATUS},
)
def stream_stop():
    """Stop the camera and release the device."""
    return set_running(first_camera(), False)


@bp.post("/recognize")
@recognize_limit
@requires("recognize")
@operation(
    "recognize",
    tag="Recognition",
    summary="Who is in this photo?",
    description=(
        "Finds every face of the photo and matches each against the enrolled people. The photo "
        "is encoded in the face engine's worker processes, never in the web process, so API "
        "load does not slow the live stream down. A photo with no face gives an empty list."
    ),
    body={"multipart/form-data": RecognizeForm},
    responses={200: ("The faces found.", Recognition)},
    errors={
        400: (
            "The file is not an image facerec reads, or is larger than ${max_pixels}.",
            "The file is not an image in a format facerec reads.",
        ),
        429: RATE_LIMITED,
        503: ENGINE_BUSY,
    },
)
def recognize(body):
    """Every face of the uploaded photo with the person it matches, if any."""
    tolerance = body.get("tolerance")
    if tolerance is None:
        tolerance = current_settings().tolerance
    image = body["image"].read()
    release_database()  # no connection held while the engine works
    found = engine.faces_in_image(current_app, image)  # off the GIL
    matcher = gallery.current()
    return {"faces": [matcher.recognise(face, tolerance) for face in found]}


@bp.get("/openapi.json")
@requires("api_docs")
@operation(
    "openapi",
    tag="Documentation",
    summary="This document",
    description="Open to anyone unless FACEREC_OPENAPI_PUBLIC is 0: it holds no data.",
    responses={200: ("The OpenAPI 3 document.", {"type": "object"})},
)
def openapi_document():
    """The OpenAPI 3 description of this API."""
    return openapi.spec(current_app)


@bp.get("/docs", endpoint="docs")
@requires("api_docs")
@operation(
    "docs",
    tag="Documentation",
    summary="This document as a web page",
    description="Open to anyone unless FACEREC_OPENAPI_PUBLIC is 0.",
    responses={200: ("An HTML page.", {"type": "string"}, "text/html")},
)
def docs_page():
    """The OpenAPI description rendered for people."""
    base = request.url_root.rstrip("/")
    return render_template("api/docs.html", doc=docs.view(openapi.spec(current_app), base))
