from flask import jsonify

from .. import camera
from . import bp


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
