"""The OpenAPI document: valid, complete, true to the API (schemathesis), and readable as a page."""

from __future__ import annotations

import contextlib
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from facerec.api import openapi
from facerec.extensions import db
from facerec.models import ApiToken
from tests.conftest import enroll

API = "/api/v1"
TOKEN = "fr_schemathesis_" + "t" * 32
AUTH = {"Authorization": f"Bearer {TOKEN}"}
UNSAFE = {"post", "patch", "put", "delete"}


def document(client) -> dict:
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def operations(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield path, method, op


def test_does_the_openapi_document_validate(client):
    validate(document(client))


def test_does_the_document_describe_every_api_route_and_method(app, client):
    doc = document(client)
    described = {(path, method.upper()) for path, method, _ in operations(doc)}
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            served |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == described


def test_does_every_operation_document_the_bearer_scheme_and_its_errors(client):
    doc = document(client)
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    assert {"bearerAuth": []} in doc["security"]
    for path, method, op in operations(doc):
        codes = set(op["responses"])
        assert "401" in codes, (method, path)
        assert any(code.startswith("2") for code in codes), (method, path)
        if "requestBody" in op:
            assert {"400", "413"} <= codes, (method, path)
        if method in UNSAFE:  # a signed-in browser without its CSRF header gets 400
            assert "400" in codes, (method, path)
    errors = doc["components"]["responses"]
    for name in ("BadRequest", "Unauthorized", "NotFound", "Conflict", "PayloadTooLarge"):
        schema = errors[name]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}


def test_does_the_document_name_the_body_limit_the_server_enforces(app_factory):
    app = app_factory(MAX_CONTENT_LENGTH=2 * 1024 * 1024)
    from tests.conftest import login_client

    doc = document(login_client(app, app.test_client()))
    assert "2 MB" in doc["components"]["responses"]["PayloadTooLarge"]["description"]


def test_does_the_docs_page_show_every_operation_without_inline_script(client):
    response = client.get(f"{API}/docs")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    doc = document(client)
    for path, _method, op in operations(doc):
        assert f'id="op-{op["operationId"]}"' in page
        assert f"<code>{path}</code>" in page
    for name in doc["components"]["schemas"]:
        assert f'id="schema-{name}"' in page
    assert 'href="/api/v1/openapi.json"' in page
    assert "Authorization: Bearer" in page
    # The CSP forbids inline scripts: any script must come from a file.
    assert re.findall(r"<script(?![^>]*\bsrc=)", page) == []
    # The nav links to the page (endpoint api.docs).
    assert 'href="/api/v1/docs"' in page


# ---- schemathesis -----------------------------------------------------------------------------
# One test per operation. Hypothesis draws bounded positive cases (valid per the document) and
# negative ones (invalid on purpose); every answer must be documented, match its schema, never 5xx.
# (schemathesis.pytest.from_fixture does not run under pytest 9, so the strategies are used
# directly.)

OPERATIONS = [(path, method.upper()) for path, method, _ in operations(openapi.SPEC)]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def api_schema(app):
    """The document as the API serves it, called through WSGI with a bearer token."""
    with app.app_context():
        db.session.add(
            ApiToken(name="schemathesis", token_hash=ApiToken.hash(TOKEN), prefix=TOKEN[:8])
        )
        db.session.commit()
    # A few people, so that some generated ids exist.
    for name in ("Ada Lovelace", "Grace Hopper"):
        enroll(app, name)
    return schemathesis.openapi.from_wsgi(f"{API}/openapi.json", app, headers=AUTH)


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m} {p}" for p, m in OPERATIONS])
def test_does_the_operation_answer_as_documented_without_server_errors(api_schema, path, method):
    operation = api_schema[path][method]
    strategy = operation.as_strategy(GenerationMode.POSITIVE)
    with contextlib.suppress(Exception):  # operations without inputs have no negative cases
        strategy = strategy | operation.as_strategy(GenerationMode.NEGATIVE)
    calls = []

    @given(case=strategy)
    @settings(
        max_examples=12,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def call(case):
        response = case.call_and_validate(headers=AUTH, checks=CHECKS)
        calls.append(response.status_code)

    call()
    assert calls  # the operation was really exercised
