"""The cameras: list them, one camera's status, start and stop."""

from flask import jsonify

from .. import camera
from ..stream.routes import camera_or_404
from . import bp


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
def cameras():
    """Every camera, the first (default) one first, with its state."""
    registry = camera.registry()
    return jsonify(cameras=[summary(spec, registry.get(spec.name)) for spec in registry.specs()])


@bp.get("/cameras/<name>/status")
def camera_status(name):
    """One camera's state and who is in view."""
    return jsonify(camera_or_404(name).status())


@bp.post("/cameras/<name>/start")
def camera_start(name):
    """Start one camera (no change when running)."""
    service = camera_or_404(name)
    service.start()
    return jsonify(service.status())


@bp.post("/cameras/<name>/stop")
def camera_stop(name):
    """Stop one camera and release its device."""
    service = camera_or_404(name)
    service.stop()
    return jsonify(service.status())
