from flask import Response, json, request
from flask_login import current_user
from prometheus_client.exposition import choose_encoder

from ..auth.accounts import active_token, bearer_token
from ..auth.roles import public, requires
from ..config import current_settings
from ..extensions import login_manager
from . import bp
from .health import FAIL, MEDIA_TYPE, readiness
from .metrics import registry


def _metrics_allowed() -> bool:
    if current_settings().metrics_public or current_user.is_authenticated:
        return True
    token = bearer_token(request)
    return token is not None and active_token(token) is not None


@bp.get("/metrics")
@requires("metrics", tokens=True)
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
    # The client library picks the format the scraper asks for (OpenMetrics or the text
    # format) and says which in one Content-Type. Passed as content_type, not mimetype:
    # Flask appends "; charset=utf-8" to a text/* mimetype, and this one already has it
    # (a second charset made Prometheus reject the header).
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    response = Response(encode(registry()), content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("Accept")
    return response


@bp.get("/readyz")
def readyz():
    """Anonymous readiness (health+json): database, recognition, cameras, sinks; 503 on fail."""
    result = readiness()
    response = Response(
        json.dumps(result),
        status=503 if result["status"] == FAIL else 200,
        content_type=MEDIA_TYPE,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
@public
def healthz():
    """The same as /readyz (kept for probes and tools that call it)."""
    return readyz()
