"""The cameras: list them, one camera's status, start and stop."""

import marshmallow as ma
from flask import jsonify

from .. import camera
from ..camera.store import NAME_RE
from ..models import CAMERA_NAME_MAX
from ..stream.routes import camera_or_404
from . import bp
from .contract import operation
from .schemas import CAMERA_STATES, CameraState, StreamStatus, camera_source, camera_state

CAMERA = {
    "name": (
        "The camera's name (GET /api/v1/cameras lists them).",
        {"maxLength": CAMERA_NAME_MAX, "pattern": f"^{NAME_RE.pattern}$", "example": "front-door"},
    )
}
NO_CAMERA = ("No enabled camera has this name.", "There is no camera named “front-door”.")
STATUS = ("The camera's state after the call.", StreamStatus)
# What a running camera's line in the list takes from its status.
SHARED_KEYS = tuple(CameraState().fields)


class CameraSummary(CameraState):
    name = ma.fields.String(required=True, metadata={"example": "front-door"})
    enabled = ma.fields.Boolean(
        required=True,
        metadata={"description": "A disabled camera is never opened.", "example": True},
    )
    state = camera_state(*CAMERA_STATES, "disabled")
    source = camera_source(
        "The source with any credentials in it hidden.", "rtsp://***@192.0.2.10/stream1"
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
        **{key: status[key] for key in SHARED_KEYS},
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
