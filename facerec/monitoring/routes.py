from flask import Response, current_app, jsonify, request
from flask_login import current_user
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..auth.accounts import active_token, bearer_token
from ..extensions import login_manager
from . import bp
from .health import checks
from .metrics import registry


def _metrics_allowed() -> bool:
    if current_app.config.get("FACEREC_METRICS_PUBLIC") or current_user.is_authenticated:
        return True
    token = bearer_token(request)
    return token is not None and active_token(token) is not None


@bp.get("/metrics")
def metrics():
    """Prometheus metrics; an API token or a signed-in session unless made public."""
    if not _metrics_allowed():
        accept = request.accept_mimetypes
        if "text/html" in accept.values() and accept["text/html"] > accept["text/plain"]:
            return login_manager.unauthorized()  # a person opening it: the sign-in page
        return Response(
            "Authentication required: send 'Authorization: Bearer <API token>' "
            "(or set FACEREC_METRICS_PUBLIC=1).\n",
            status=401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="facerec"'},
        )
    response = Response(generate_latest(registry()), mimetype=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
def healthz():
    """Anonymous health: the database, the recognition worker, each camera; 503 if degraded."""
    result = checks()
    healthy = all(check["status"] == "ok" for check in _flatten(result))
    response = jsonify(status="ok" if healthy else "degraded", checks=result)
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response


def _flatten(result: dict):
    for value in result.values():
        if "status" in value:
            yield value
        else:
            yield from _flatten(value)
