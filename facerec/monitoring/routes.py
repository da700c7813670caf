from flask import Response, json, request
from prometheus_client.exposition import choose_encoder

from ..auth.roles import public, requires
from . import bp
from .health import FAIL, MEDIA_TYPE, readiness
from .metrics import registry


@bp.get("/metrics")
@requires("metrics", tokens=True)
def metrics():
    """Prometheus metrics; a token with ``read``, an operator's session, or anyone when
    FACEREC_METRICS_PUBLIC is on (roles.enforce answers the others: 401, or the sign-in page
    for a browser)."""
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
@public
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
