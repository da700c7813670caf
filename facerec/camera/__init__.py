"""Frame sources, the camera services and the registry of every camera.

``camera.services()`` is every enabled camera, ``camera.get(name)`` one of them, and
``camera.service()`` the first (what ``/stream.mjpg`` and ``/api/v1/stream/*`` show).
"""

import atexit

from flask import current_app

from .. import engine
from .registry import CameraRegistry, CameraSpec
from .service import CameraService
from .sources import SourceError, describe, open_source
from .tuning import Tuning

__all__ = [
    "CameraRegistry",
    "CameraService",
    "CameraSpec",
    "SourceError",
    "Tuning",
    "describe",
    "get",
    "init_app",
    "open_source",
    "registry",
    "service",
    "services",
    "tuning",
]


def init_app(app):
    """Create the app's camera registry (nothing is opened until a camera is started)."""
    cameras = CameraRegistry(app, engine.of(app))
    app.extensions["cameras"] = cameras
    atexit.register(cameras.close)
    return cameras


def registry(app=None) -> CameraRegistry:
    app = app or current_app._get_current_object()
    if "cameras" not in app.extensions:
        # The command line's offline app (create_app(serving=False)) makes it when a command
        # asks, such as `accounts create --cameras door` checking the names.
        if "engine" not in app.extensions:
            engine.init_app(app)
        init_app(app)
    return app.extensions["cameras"]


def services(app=None) -> list[CameraService]:
    """Every enabled camera's service, the first camera first.

    Cameras come and go with the table: to hang something off every camera, use
    ``registry(app).on_service(callback)``.
    """
    return registry(app).services()


def get(name: str, app=None) -> CameraService | None:
    """The service of the enabled camera ``name``, or None."""
    return registry(app).get(name)


def tuning(name: str, app=None) -> Tuning:
    """How camera ``name`` recognises faces: its frozen tuning (the settings' for a camera
    unknown here). Code that judges what a camera saw (grouping its unknown faces) uses it."""
    return registry(app).tuning(name)


def service(app=None) -> CameraService:
    """The first camera (a service saying "no camera is configured" when there is none)."""
    return registry(app).first()
