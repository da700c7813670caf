"""Operations from outside: ``/metrics`` (Prometheus) and ``/healthz``."""

from flask import Blueprint

from .. import camera

bp = Blueprint("monitoring", __name__)


def cameras() -> list:
    """Every enabled camera's service; without any, the one saying none is configured."""
    return camera.services() or [camera.service()]


def camera_name(service) -> str:
    return service.camera or "main"


from . import routes  # noqa: E402,F401
from .metrics import init_app  # noqa: E402

__all__ = ["bp", "camera_name", "cameras", "init_app"]
