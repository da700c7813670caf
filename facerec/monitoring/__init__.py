"""Operations from outside: ``/metrics`` (Prometheus), ``/livez``, ``/readyz`` (``/healthz``)."""

from flask import Blueprint

from .. import camera

bp = Blueprint("monitoring", __name__)


def cameras() -> list:
    """Every enabled camera's service; without any, the one saying none is configured."""
    return camera.services() or [camera.service()]


def camera_name(service) -> str:
    return service.camera or "main"


def init_app(app):
    """The app's metrics registry, and /livez answered in front of the app (see liveness)."""
    from . import metrics
    from .liveness import Liveness

    app.wsgi_app = Liveness(app.wsgi_app)
    return metrics.init_app(app)


from . import routes  # noqa: E402,F401

__all__ = ["bp", "camera_name", "cameras", "init_app"]
