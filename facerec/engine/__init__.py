"""The face engine: worker processes that detect, encode and match faces off the web process.

dlib's encoder holds the GIL for its whole run (measured: a Python thread gets ~8% of its
normal speed while another thread encodes), so all face work runs in worker processes of one
supervised pool (``pool.Engine``): the cameras' frames (``Engine.feed``: the newest frame per
camera, never a queue) and one-off jobs (``Engine.run``: uploads, snapshots, API requests,
the importer's files). A web process has one engine, shared by every app it holds; the
importer makes its own for the length of an import.
"""

from __future__ import annotations

import atexit
import threading

from flask import current_app

from .. import faces
from ..config import current_settings
from .feed import CameraFeed
from .pool import Engine, EngineBusy, EngineSettings, EngineUnavailable, default_workers
from .stats import LatencyStats
from .worker import FrameRequest, FrameResult

__all__ = [
    "CameraFeed",
    "Engine",
    "EngineBusy",
    "EngineSettings",
    "EngineUnavailable",
    "FrameRequest",
    "FrameResult",
    "LatencyStats",
    "default_workers",
    "faces_in_image",
    "init_app",
    "of",
    "sample_from_frame",
    "sample_from_image",
    "shared",
]

_lock = threading.Lock()
_engines: dict[EngineSettings, Engine] = {}


def shared(settings: EngineSettings) -> Engine:
    """This process's engine for ``settings``, started on first use and kept until exit.

    Shared by every app of the process (a server has one; the test suite makes hundreds),
    so dlib's models are loaded once per worker, not once per app.
    """
    with _lock:
        engine = _engines.get(settings)
        if engine is None:
            engine = _engines[settings] = Engine(settings)
        return engine


@atexit.register
def _close_all():
    with _lock:
        engines = list(_engines.values())
        _engines.clear()
    for engine in engines:
        engine.close()


def init_app(app):
    app.extensions["engine"] = shared(EngineSettings.of(current_settings(app)))


def of(app=None) -> Engine:
    """The engine of ``app`` (the current app by default)."""
    return (app or current_app).extensions["engine"]


def sample_from_image(app, data, **checks) -> faces.Sample:
    """An uploaded photo checked for exactly one usable face, computed off the web process."""
    return of(app).run(
        faces.sample_from_image,
        data,
        max_pixels=current_settings(app).max_pixels,
        pixel_budget=current_settings(app).pixel_budget,
        **checks,
    )


def sample_from_frame(app, rgb, **checks) -> faces.Sample:
    """A camera frame checked for exactly one usable face, computed off the web process."""
    return of(app).run(faces.single_face_sample, rgb, **checks)


def faces_in_image(app, data) -> list[faces.Face]:
    """Every face of a photo with its encoding, computed off the web process."""
    settings = current_settings(app)
    return of(app).run(
        faces.faces_in_image,
        data,
        max_pixels=settings.max_pixels,
        pixel_budget=settings.pixel_budget,
    )
