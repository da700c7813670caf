"""Operations from outside: ``/metrics`` (Prometheus) and ``/healthz``."""

from flask import Blueprint

from .. import camera

bp = Blueprint("monitoring", __name__)


def cameras() -> list:
    """Every camera service. The one place to switch to ``camera.services()`` (several cameras)."""
    return [camera.service()]


def camera_name(service) -> str:
    return getattr(service, "name", None) or "main"


from . import routes  # noqa: E402,F401
from .metrics import init_app  # noqa: E402

__all__ = ["bp", "camera_name", "cameras", "init_app"]
