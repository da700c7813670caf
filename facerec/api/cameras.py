"""The cameras: list them, one camera's status, start and stop."""

import marshmallow as ma
from flask import jsonify
from marshmallow import validate

from .. import camera
from ..camera.store import NAME_RE
from ..models import CAMERA_NAME_MAX
from ..stream.routes import camera_or_404
from . import bp
from .contract import operation
from .schemas import StreamStatus

CAMERA = {
    "name": (
        "The camera's name (GET /api/v1/cameras lists them).",
        {"maxLength": CAMERA_NAME_MAX, "pattern": f"^{NAME_RE.pattern}$", "example": "front-door"},
    )
}
NO_CAMERA = ("No enabled camera has this name.", "There is no camera named “front-door”.")
STATUS = ("The camera's state after the call.", StreamStatus)


class CameraSummary(ma.Schema):
    name = ma.fields.String(required=True, metadata={"example": "front-door"})
    enabled = ma.fields.Boolean(
        required=True,
        metadata={"description": "A disabled camera is never opened.", "example": True},
    )
    state = ma.fields.String(
        required=True,
        validate=validate.OneOf(["stopped", "starting", "running", "unavailable", "disabled"]),
        metadata={"example": "running"},
    )
    running = ma.fields.Boolean(required=True, metadata={"example": True})
    source = ma.fields.String(
        required=True,
        metadata={
            "description": "The source with any credentials in it hidden.",
            "example": "rtsp://***@192.0.2.10/stream1",
        },
    )
    fps = ma.fields.Float(
        required=True, metadata={"description": "Frames published per second.", "example": 15.0}
    )
    recognition_hz = ma.fields.Float(
        required=True,
        metadata={"description": "Recognition results per second.", "example": 4.0},
    )
    viewers = ma.fields.Integer(
        required=True, validate=validate.Range(min=0), metadata={"example": 1}
    )
    error = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "Why the camera is unavailable (it is retried meanwhile).",
            "example": None,
        },
    )


class CameraList(ma.Schema):
    cameras = ma.fields.List(
        ma.fields.Nested(CameraSummary),
        required=True,
        metadata={
            "description": (
                "Every camera, the first (default) one first: the one /stream.mjpg and "
                "/api/v1/stream/* show."
            )
        },
    )


def summary(spec, service) -> dict:
    """One camera in the list (a disabled camera has no service)."""
    if service is None:
        return {
            "name": spec.name,
            "enabled": False,
            "state": "disabled",
            "running": False,
            "source": camera.describe(spec.source),
            "fps": 0.0,
            "recognition_hz": 0.0,
            "viewers": 0,
            "error": None,
        }
    status = service.status()
    return {
        "name": spec.name,
        "enabled": True,
        **{
            key: status[key]
            for key in ("state", "running", "source", "fps", "recognition_hz", "viewers", "error")
        },
    }


@bp.get("/cameras")
@operation(
    "listCameras",
    tag="Cameras",
    summary="Every camera and its state",
    responses={200: ("The cameras.", CameraList)},
)
def cameras():
    """Every camera, the first (default) one first, with its state."""
    registry = camera.registry()
    return jsonify(cameras=[summary(spec, registry.get(spec.name)) for spec in registry.specs()])


@bp.get("/cameras/<name>/status")
@operation(
    "cameraStatus",
    tag="Cameras",
    summary="One camera's state and who is in view",
    path=CAMERA,
    responses={200: ("The camera's state.", StreamStatus)},
    errors={404: NO_CAMERA},
)
def camera_status(name):
    """One camera's state and who is in view."""
    return jsonify(camera_or_404(name).status())


@bp.post("/cameras/<name>/start")
@operation(
    "cameraStart",
    tag="Cameras",
    summary="Start one camera (no change when running)",
    description="A camera that cannot be opened is retried; see `state` and `error`.",
    path=CAMERA,
    responses={200: STATUS},
    errors={404: NO_CAMERA},
)
def camera_start(name):
    """Start one camera (no change when running)."""
    service = camera_or_404(name)
    service.start()
    return jsonify(service.status())


@bp.post("/cameras/<name>/stop")
@operation(
    "cameraStop",
    tag="Cameras",
    summary="Stop one camera and release its device",
    path=CAMERA,
    responses={200: STATUS},
    errors={404: NO_CAMERA},
)
def camera_stop(name):
    """Stop one camera and release its device."""
    service = camera_or_404(name)
    service.stop()
    return jsonify(service.status())
