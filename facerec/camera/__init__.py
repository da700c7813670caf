"""Frame sources and the camera service thread. ``camera.service()`` is the app's instance."""

import atexit

from flask import current_app

from ..recognizer import WorkerSettings
from .service import CameraService
from .sources import SourceError, describe, open_source

__all__ = ["CameraService", "SourceError", "describe", "init_app", "open_source", "service"]


def init_app(app):
    """Create the app's camera service (nothing is opened until it is started)."""
    cfg = app.config
    settings = WorkerSettings(
        database_uri=cfg["SQLALCHEMY_DATABASE_URI"],
        tolerance=float(cfg["FACEREC_TOLERANCE"]),
        detect_width=int(cfg["FACEREC_DETECT_WIDTH"]),
        upsample=int(cfg["FACEREC_DETECT_UPSAMPLE"]),
    )
    camera = CameraService(
        str(cfg["FACEREC_CAMERA"]),
        settings,
        delay=int(cfg["FACEREC_STREAM_DELAY"]),
        jpeg_quality=int(cfg["FACEREC_JPEG_QUALITY"]),
        idle_timeout=float(cfg["FACEREC_IDLE_TIMEOUT"]),
        autostart=bool(cfg["FACEREC_AUTOSTART"]),
    )
    app.extensions["camera"] = camera
    atexit.register(camera.close)
    return camera


def service() -> CameraService:
    return current_app.extensions["camera"]
