"""The cameras: list them, one camera's status, start and stop."""

import marshmallow as ma

from .. import audit, camera
from ..auth.roles import can_see_camera, requires
from ..camera.service import CameraStatus
from ..camera.store import NAME_RE
from ..extensions import db
from ..models import CAMERA_NAME_MAX
from ..stream.routes import camera_or_404
from . import bp
from .contract import operation, operations_on
from .schemas import CAMERA_STATES, CameraState, StreamStatus, camera_source, camera_state

# The operations on the camera the path names: the view gets its CameraService.
on_camera = operations_on(
    "name",
    camera_or_404,
    tag="Cameras",
    description=(
        "The camera's name (GET /api/v1/cameras lists them).",
        {"maxLength": CAMERA_NAME_MAX, "pattern": f"^{NAME_RE.pattern}$", "example": "front-door"},
    ),
    not_found=("No enabled camera has this name.", "There is no camera named “front-door”."),
)
STATE = ("The camera's state.", StreamStatus)
STATUS = ("The camera's state after the call.", StreamStatus)
RETRIED = "A camera that cannot be opened is retried; see `state` and `error`."


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
                "Every camera the caller may see, the first (default) one first: the one "
                "/stream.mjpg and /api/v1/stream/* show."
            )
        },
    )


def summary(spec, service) -> dict:
    """One camera in the list (a disabled camera has no service)."""
    if service is None:
        status = CameraStatus.off(spec.name, camera.describe(spec.source), "disabled")
        return {"name": spec.name, "enabled": False, **status}
    return {"name": spec.name, "enabled": True, **service.status()}


@bp.get("/cameras")
@requires("live")
@operation(
    "listCameras",
    tag="Cameras",
    summary="Every camera and its state",
    responses={200: ("The cameras.", CameraList)},
    links={200: [(on_camera, "$response.body#/cameras/0/name")]},
)
def cameras():
    """Every camera, the first (default) one first, with its state."""
    registry = camera.registry()
    specs = [spec for spec in registry.specs() if can_see_camera(spec.name)]
    return {"cameras": [summary(spec, registry.get(spec.name)) for spec in specs]}


def set_running(service, running: bool):
    """Start the camera (no change when running) or stop it; answer with its state after.

    A change is on record (committed before it is made: one the audit cannot hold is not made).
    """
    if bool(service.status().get("running")) != running:
        action = "camera.started" if running else "camera.stopped"
        audit.record(action, object_type="camera", object_name=service.camera)
        db.session.commit()
    if running:
        service.start()
    else:
        service.stop()
    return service.status()


@bp.get("/cameras/<name>/status")
@requires("live")
@on_camera("cameraStatus", summary="One camera's state and who is in view", responses={200: STATE})
def camera_status(service):
    """One camera's state and who is in view."""
    return service.status()


@bp.post("/cameras/<name>/start")
@requires("cameras")
@on_camera(
    "cameraStart",
    summary="Start one camera (no change when running)",
    description=RETRIED,
    responses={200: STATUS},
)
def camera_start(service):
    """Start one camera (no change when running)."""
    return set_running(service, True)


@bp.post("/cameras/<name>/stop")
@requires("cameras")
@on_camera("cameraStop", summary="Stop one camera and release its device", responses={200: STATUS})
def camera_stop(service):
    """Stop one camera and release its device."""
    return set_running(service, False)
