"""The API contract: every route declared, the document valid and true to the server.

The last tests run schemathesis' own command line (every check, a fresh random seed each run,
printed so that a failure can be replayed with FACEREC_SCHEMATHESIS_SEED) against a live
server, once with a bearer token and once without credentials.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from flask import jsonify, request
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from facerec import camera
from facerec.api import contract
from facerec.extensions import db
from facerec.models import ApiToken, Sighting, UnknownGroup
from tests.conftest import CLIP, DATA, ROOT, enroll
from tests.test_sightings import add_sighting
from tests.test_unknowns import KIT, ROSE

API = "/api/v1"
TOKEN = "fr_schemathesis_" + "t" * 32
AUTH = {"Authorization": f"Bearer {TOKEN}"}
UNSAFE = {"post", "patch", "put", "delete"}
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
# A new seed each run (a fixed one proves one sample, not the contract); set
# FACEREC_SCHEMATHESIS_SEED to replay a failure.
SEED = int(os.environ.get("FACEREC_SCHEMATHESIS_SEED") or random.SystemRandom().randrange(2**31))
EXAMPLES = 30  # per operation and phase
UNAUTHENTICATED_EXAMPLES = 5


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
    assert contract.undeclared_routes(app) == []
    described = {(path, method.upper()) for path, method, _ in operations(document(client))}
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            served |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == described


def test_does_a_route_without_a_declaration_fail_the_check(app_factory):
    app = app_factory()
    app.add_url_rule(f"{API}/undeclared", "undeclared", lambda: jsonify(ok=True))
    assert contract.undeclared_routes(app) == [f"['GET'] {API}/undeclared"]


def test_does_every_operation_declare_the_statuses_it_can_answer_with(client):
    doc = document(client)
    assert {"bearerAuth": []} in doc["security"]
    for path, method, op in operations(doc):
        codes = set(op["responses"])
        assert any(code.startswith("2") for code in codes), (method, path)
        if op.get("security") == []:  # the description itself, open to anyone by default
            assert "401" not in codes and path.endswith(("/openapi.json", "/docs"))
        else:
            assert "401" in codes, (method, path)
            assert "WWW-Authenticate" in op["responses"]["401"]["headers"], (method, path)
        assert "503" in codes, (method, path)  # a busy database, at least
        if method in UNSAFE:  # a signed-in browser without its CSRF header gets 400
            assert "400" in codes, (method, path)
        if "requestBody" in op:
            assert {"413", "415", "422"} <= codes, (method, path)
        if "{" in path:
            assert "404" in codes, (method, path)
        for code in ("429", "503"):
            if code in codes:
                assert "Retry-After" in op["responses"][code]["headers"], (method, path)
        for code, response in op["responses"].items():
            if code >= "400":
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, code)


def test_does_every_request_body_have_one_media_type(client):
    # Two media types for one body confuse generators (openapi-python-client's client did
    # not import, and sent JSON as a form): each body has one.
    for path, method, op in operations(document(client)):
        if "requestBody" in op:
            assert len(op["requestBody"]["content"]) == 1, (method, path)


def test_is_every_integer_in_a_path_or_query_bounded(client):
    for path, method, op in operations(document(client)):
        for param in op.get("parameters", []):
            schema = param["schema"]
            if schema.get("type") == "integer":
                assert "minimum" in schema and "maximum" in schema, (method, path, param)
                assert schema["maximum"] <= 2**31 - 1, (method, path, param)


@pytest.mark.sqlite_only  # refused before any query
@pytest.mark.parametrize(
    "query",
    [
        "before_id=276205738470306337521664",
        "user_id=276205738470306337521664",
        "before_id=2147483648",
        "limit=99999999999999999999",
    ],
)
def test_is_an_integer_beyond_its_bound_refused_with_422(client, query):
    response = client.get(f"{API}/sightings?{query}")
    assert response.status_code == 422
    assert list(response.get_json()["fields"]) == [query.split("=")[0]]


@pytest.mark.sqlite_only  # refused before any query
def test_is_a_field_of_one_value_sent_twice_refused(client):
    # Which of the two was meant? (A generated client sends a one-item list so, too.)
    response = client.get(f"{API}/sightings?camera=door&camera=hall")
    assert response.status_code == 422
    assert response.get_json()["fields"] == {"camera": ["must be sent once."]}


def test_does_every_operation_on_one_thing_have_a_link_leading_to_it(client):
    # schemathesis' stateful phase (and clients) follow links from the lists and creates to
    # the operations on what they return; an operation no link leads to is only ever called
    # with made-up ids, which "repeatedly returned 404".
    doc = document(client)
    targets = {
        link["operationId"]
        for _path, _method, op in operations(doc)
        for response in op["responses"].values()
        for link in response.get("links", {}).values()
    }
    on_one = {op["operationId"] for path, _method, op in operations(doc) if "{" in path}
    assert on_one - targets == set()
    ids = {op["operationId"] for _path, _method, op in operations(doc)}
    assert targets <= ids


def test_is_a_binary_answer_declared_so_generators_get_bytes(client, app):
    from tests.test_sightings import add_sighting

    doc = document(client)
    crop = doc["paths"][f"{API}/sightings/{{sighting_id}}/crop.jpg"]["get"]["responses"]["200"]
    assert set(crop["content"]) == {"image/jpeg", "application/octet-stream"}
    sighting = add_sighting(app)
    url = f"{API}/sightings/{sighting}/crop.jpg"
    assert client.get(url).mimetype == "image/jpeg"
    bytes_please = client.get(url, headers={"Accept": "application/octet-stream"})
    assert bytes_please.mimetype == "application/octet-stream"
    assert bytes_please.data == client.get(url).data


def test_is_422_declared_only_where_a_field_can_break_a_rule(client):
    doc = document(client)
    for path, method, op in operations(doc):
        has_fields = "requestBody" in op or any(
            p["in"] == "query" for p in op.get("parameters", [])
        )
        assert ("422" in op["responses"]) == has_fields, (method, path)


def test_does_every_example_match_its_schema(client):
    doc = document(client)

    def check(instance, schema, where):
        errors = list(
            OAS30Validator({**schema, "components": doc["components"]}).iter_errors(instance)
        )
        assert errors == [], where

    for path, method, op in operations(doc):
        bodies = op.get("requestBody", {}).get("content", {}).get("application/json")
        if bodies:
            check(bodies["example"], bodies["schema"], (method, path, "request"))
        for code, response in op["responses"].items():
            body = response.get("content", {}).get("application/json")
            if body:
                check(body["example"], body["schema"], (method, path, code))


def test_does_the_document_state_the_configured_limits(app_factory):
    from tests.conftest import login_client

    app = app_factory(
        MAX_CONTENT_LENGTH=2 * 1024 * 1024, FACEREC_MAX_PIXELS=12_500_000, FACEREC_TOLERANCE=0.55
    )
    doc = document(login_client(app, app.test_client()))
    text = json.dumps(doc)
    assert "12,500,000 pixels" in text and "40,000,000" not in text
    assert (
        "the limit of 2 MB"
        in doc["paths"][f"{API}/recognize"]["post"]["responses"]["413"]["description"]
    )
    tolerance = doc["components"]["schemas"]["RecognizeForm"]["properties"]["tolerance"]
    assert tolerance["default"] == 0.55
    assert "${" not in text  # every placeholder was filled


def test_do_the_documented_patterns_refuse_exactly_what_the_people_rules_refuse(client):
    from facerec import people

    def accepts(rule, text) -> bool:
        try:
            rule(text)
        except people.PersonError:
            return False
        return True

    fields = document(client)["components"]["schemas"]["UserCreate"]["properties"]
    name_pattern, details_pattern = fields["name"]["pattern"], fields["details"]["pattern"]
    for code in [*range(0x20), *range(0x7F, 0xA0), 0x200B, 0x202E, 0xFEFF]:
        name, details = f"Ada{chr(code)}Lovelace", f"badge{chr(code)}12"
        schema_accepts = re.match(name_pattern, name) is not None
        assert schema_accepts == accepts(people.clean_name, name), hex(code)
        schema_accepts = re.match(details_pattern, details) is not None
        assert schema_accepts == accepts(people.clean_details, details), hex(code)
    assert re.match(name_pattern, " \t ") is None
    assert re.match(name_pattern, "Zoë d'Arc") is not None


def test_does_the_docs_page_show_each_operation_with_a_curl_line_and_an_answer(client):
    response = client.get(f"{API}/docs")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    doc = document(client)
    for path, _method, op in operations(doc):
        match = re.search(
            rf'<article class="card api-op" id="op-{op["operationId"]}">(.*?)</article>', page, re.S
        )
        assert match, op["operationId"]
        block = match.group(1)
        # The path as read (its <wbr> break hints let it wrap on a phone, unseen).
        assert f"<code>{path}</code>" in block.replace("<wbr>", "")
        assert "curl " in block and "Authorization: Bearer $TOKEN" in block
        assert "Answer:" in block
    # The person example: the JSON answer shows the fields of a person.
    assert "&#34;name&#34;: &#34;Ada Lovelace&#34;" in page or "&quot;name&quot;" in page
    for name in doc["components"]["schemas"]:
        assert f'id="schema-{name}"' in page
    assert "1e+06" not in page and "1,000,000" in page
    assert "40,000,000 pixels" in page
    # The CSP forbids inline scripts: any script must come from a file.
    assert re.findall(r"<script(?![^>]*\bsrc=)", page) == []
    assert 'href="/api/v1/docs"' in page


def test_does_a_405_name_the_allowed_methods(client):
    response = client.open(f"{API}/users", method="TRACE")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert "error" in response.get_json()


def test_does_a_401_name_the_bearer_scheme(anon_client):
    response = anon_client.get(f"{API}/users")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_does_a_503_say_when_to_retry(client, data_dir, monkeypatch):
    from facerec import engine

    def busy(*_args, **_kwargs):
        raise engine.EngineBusy(3)

    monkeypatch.setattr(engine, "faces_in_image", busy)
    photo = (data_dir / "known" / "obama.jpg").read_bytes()
    import io

    response = client.post(
        f"{API}/recognize",
        data={"image": (io.BytesIO(photo), "obama.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "3"  # the engine's own estimate


# ---- schemathesis -----------------------------------------------------------------------------


def uploads_a_file(doc: dict, op: dict) -> bool:
    for content in op.get("requestBody", {}).get("content", {}).values():
        schema = content["schema"]
        if "$ref" in schema:
            schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        for prop in schema.get("properties", {}).values():
            if prop.get("items", prop).get("format") == "binary":
                return True
    return False


def schemathesis_config(
    doc: dict,
    people: list[int],
    cameras: list[str],
    sightings=(),
    groups=(),
    deletable=(),
    group_draws: dict | None = None,
) -> str:
    """Ids of people and names of cameras that exist, drawn half of the time (else random
    ones mostly meet 404s). A person's id is given per operation: deleteUser draws only from
    its own people (``deletable``), so the others stay for the operations on a person (the
    examples phase reads only the dictionaries given for every operation, so none is given
    there for a person's id); deleting what a create made is reached by the links. Likewise
    ``group_draws`` gives an operation id its own unknown groups (assigning one uses it up for
    enrolling it).

    An upload's content is beyond any schema (it must decode, hold a face): there a
    schema-valid request may be refused with 400, which the positive-data check must allow.
    """
    lines = [
        "[parameters]",
        '"path.name" = { dictionary = "cameras", probability = 0.5 }',
        '"path.sighting_id" = { dictionary = "sightings", probability = 0.5 }',
        '"path.group_id" = { dictionary = "groups", probability = 0.5 }',
        "",
    ]
    for name, values in (
        ("groups", groups),
        ("people", people),
        ("cameras", cameras),
        ("sightings", sightings),
        ("deletable", deletable),
        *((f"groups_{op_id}", ids) for op_id, ids in (group_draws or {}).items()),
    ):
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(list(values))}", ""]
    for path, _method, op in operations(doc):
        block = []
        if uploads_a_file(doc, op):
            block.append(
                "checks.positive_data_acceptance.expected-statuses = "
                '["2xx", "400", "401", "403", "404", "409", "429"]'
            )
        if "{user_id}" in path:
            if op["operationId"] == "deleteUser":
                # Only these: a made-up small id would often be one of the people above.
                draw = '{ dictionary = "deletable", probability = 1.0 }'
            elif uploads_a_file(doc, op):
                # A photo operation: an unknown person's 404 would hide its logic.
                draw = '{ dictionary = "people", probability = 1.0 }'
            else:
                draw = '{ dictionary = "people", probability = 0.5 }'
            block += ["[operations.parameters]", f'"path.user_id" = {draw}']
        if op["operationId"] in (group_draws or {}):
            draw = f'{{ dictionary = "groups_{op["operationId"]}", probability = 1.0 }}'
            block += ["[operations.parameters]", f'"path.group_id" = {draw}']
        if block:
            lines += ["[[operations]]", f'include-operation-id = "{op["operationId"]}"', *block, ""]
    return "\n".join(lines)


def run_schemathesis(app, serve, tmp_path, headers: dict, examples: int = EXAMPLES) -> dict:
    """schemathesis run --checks all against a live server; the JSON report of the run."""
    server = serve(app)
    with app.test_request_context():
        doc = json.loads(app.test_client().get(f"{API}/openapi.json", headers=AUTH).data)
    config = tmp_path / "schemathesis.toml"
    with app.app_context():
        cameras = [spec.name for spec in camera.registry().specs()]
    assert cameras  # the test clip
    config.write_text(
        schemathesis_config(
            doc,
            app.config["TEST_PEOPLE"],
            cameras,
            app.config.get("TEST_SIGHTINGS", []),
            app.config.get("TEST_GROUPS", []),
            app.config.get("TEST_DELETABLE", []),
            {
                "assignUnknown": app.config.get("TEST_GROUPS_TO_ASSIGN", []),
                "enrollUnknown": app.config.get("TEST_GROUPS_TO_ENROLL", []),
            },
        )
    )
    # Read from a file: without credentials the server would refuse to hand it out.
    schema = tmp_path / "openapi.json"
    schema.write_text(json.dumps(doc))
    app.config["TEST_ANSWERS"].clear()  # count schemathesis' requests only
    report = tmp_path / "report.json"
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(config),
        "--no-color",
        "run",
        str(schema),
        "--url",
        server.url,
        "--checks",
        "all",
        "--seed",
        str(SEED),
        "--max-examples",
        str(examples),
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        "--request-timeout",
        "60",
        # The shared 2-core machine is slow at times; the suite checks answers, not speed.
        "--max-response-time",
        "60",
    ]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    print(f"schemathesis seed {SEED} (replay: FACEREC_SCHEMATHESIS_SEED={SEED})")
    # Real photos in some uploads (tests/schemathesis_hooks.py), so the photo operations'
    # logic past the face check is reached too.
    photos = [DATA / "known" / "obama.jpg", DATA / "known" / "biden.jpg", KIT[0], ROSE[0]]
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks",
        "FACEREC_SCHEMATHESIS_PHOTOS": os.pathsep.join(map(str, photos)),
    }
    result = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=900, check=False, env=env
    )
    replay = f"\nReplay with FACEREC_SCHEMATHESIS_SEED={SEED}.\n"
    # The failures first (each cut short: an upload's curl line alone can be huge).
    failures = result.stdout.partition("= FAILURES =")[2].partition("= WARNINGS =")[0]
    failures = "\n".join(line[:400] for line in failures.splitlines())
    assert result.returncode == 0, replay + failures[:20000] + result.stdout[-6000:] + replay
    # Links and the dictionaries reach every operation's logic: none is left at 404s, but for
    # the people the run itself deleted (links from a person's answer lead to deleteUser too).
    for operation in left_at_404(result.stdout):
        total, lost = app.config["TEST_404S"].get(operation, (0, 0))
        assert lost * 2 < total, f"{operation}: {lost} of {total} answers 404\n" + replay
    return json.loads(report.read_text())


@pytest.fixture
def live_app(app_factory):
    """An app as `make run` serves it (CSRF on), its camera the test clip, a token, two people."""
    # The rate limits out of the way: a run sends hundreds of photos with one token, and every
    # operation must get to do its job (test_ratelimits.py tests the limits).
    unlimited = {
        f"FACEREC_RATE_LIMIT_{name}": "100000 per minute"
        for name in ("RECOGNIZE", "SEARCH", "UPLOADS", "SIGN_IN")
    }
    app = app_factory(FACEREC_CAMERA=str(CLIP), WTF_CSRF_ENABLED=True, **unlimited)
    with app.app_context():
        db.session.add(
            ApiToken(name="schemathesis", token_hash=ApiToken.hash(TOKEN), prefix=TOKEN[:8])
        )
        db.session.commit()
    # Those deleteUser may delete come first: the boundary values schemathesis tries for an id
    # (1, 2, ...) are theirs, not the people the other operations need.
    app.config["TEST_DELETABLE"] = [enroll(app, f"Passer-by {n}") for n in range(3)]
    app.config["TEST_PEOPLE"] = [enroll(app, name) for name in ("Ada Lovelace", "Grace Hopper")]
    # Unknown faces: deleting a person (which the run does) would take their sightings along.
    app.config["TEST_SIGHTINGS"] = [add_sighting(app) for _ in range(2)]
    # A third person (the examples' user_id 3) and unknown visitors with real faces.
    app.config["TEST_PEOPLE"].append(enroll(app, "Kit"))
    from .test_unknowns import add_sighting as add_face

    faces = [add_face(app, photo, minutes=i) for i, photo in enumerate(KIT + ROSE)]
    with app.app_context():
        from facerec.unknowns import placer

        placer(app).sweep()
    # Groups 3 to 10 (each a face of its own person where it matters): the examples of the
    # operations on several groups (dismiss 3, assign 4, enrol 5; merge takes 1 and 2), of
    # enrolling one (6) and of splitting one (8, its sighting 14); the examples on one group
    # take 7. Assigning draws from 3, 4 and 7, enrolling from 1, 2, 6, 9 and 10: enrolling a
    # face someone was given an assigned copy of meets the look-alike question instead.
    known, stranger = DATA / "known", DATA / "people-test" / "obama_and_biden.jpg"
    for minutes, photos in enumerate(
        [
            [(known / "biden.jpg", 0)],
            [(known / "obama.jpg", 0)],
            [(known / "alex-lacamoire.png", 0)],
            [(known / "lin-manuel-miranda.png", 0)],
            [(stranger, 2)],
            [(KIT[0], 0), (KIT[1], 0)],
            [(KIT[1], 0)],
            [(ROSE[0], 0)],
        ]
    ):
        ids = [add_face(app, photo, minutes=100 + minutes, index=i) for photo, i in photos]
        faces += ids
        with app.app_context():
            group = UnknownGroup()
            db.session.add(group)
            db.session.flush()
            for sighting_id in ids:
                db.session.get(Sighting, sighting_id).group_id = group.id
            db.session.commit()
    with app.app_context():
        rows = db.session.scalars(db.select(Sighting).order_by(Sighting.id)).all()
        app.config["TEST_GROUPS"] = sorted({row.group_id for row in rows if row.group_id})
        assert app.config["TEST_GROUPS"] == list(range(1, 11))
        assert db.session.get(Sighting, 14).group_id == 8
    app.config["TEST_GROUPS_TO_ASSIGN"] = [3, 4, 7]
    app.config["TEST_GROUPS_TO_ENROLL"] = [1, 2, 6, 9, 10]
    app.config["TEST_SIGHTINGS"] += faces
    answers = app.config["TEST_ANSWERS"] = Counter()
    deleted: set[int] = set()
    app.config["TEST_404S"] = {}  # "METHOD /path/{param}" -> (answers, 404s but for the deleted)

    @app.after_request
    def record(response):
        if request.url_rule is not None:
            rule, status = request.url_rule.rule, response.status_code
            answers[(request.method.lower(), rule, status)] += 1
            user_id = (request.view_args or {}).get("user_id")
            if (
                request.method == "DELETE"
                and rule.endswith("/users/<int:user_id>")
                and status == 204
            ):
                deleted.add(user_id)
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)  # as the document writes it
            operation = f"{request.method} {path}"
            total, lost = app.config["TEST_404S"].get(operation, (0, 0))
            lost += status == 404 and user_id not in deleted
            app.config["TEST_404S"][operation] = (total + 1, lost)
        return response

    return app


def left_at_404(report: str) -> list[str]:
    """The operations schemathesis' report says "repeatedly returned 404" ("POST /path/{id}")."""
    lines = report.partition("repeatedly returned 404")[2].splitlines()[1:]
    listed = []
    for line in lines:
        if line.strip().startswith("- "):
            listed.append(line.strip()[2:])
        elif line.strip() or listed:  # the list ends at the first other line after it
            break
    return listed


def answered(app, status_class: int) -> set[tuple[str, str]]:
    """(method, route) of every operation that answered with a status of ``status_class``xx."""
    return {
        (method, rule)
        for (method, rule, status) in app.config["TEST_ANSWERS"]
        if status // 100 == status_class
    } & declared(app)


def declared(app) -> set[tuple[str, str]]:
    return {(method, rule.rule) for rule, method, _op in contract.declared(app)}


@pytest.mark.sqlite_only  # the contract does not change with the database; it is a long run
@pytest.mark.timeout(900)
def test_does_schemathesis_find_nothing_with_a_token(live_app, serve, tmp_path):
    report = run_schemathesis(live_app, serve, tmp_path, AUTH)
    assert report["operations"]["tested"] == len(declared(live_app))
    assert report["test_cases"]["generated"] > 20 * len(declared(live_app))
    # Every operation, stream start and stop included, did its job at least once. Adding a
    # sample or a negative needs a photo with a face, which no generator makes: an operation
    # taking a photo must at least have reached the face engine, which refused it (400).
    # tests/test_api.py and tests/test_negatives.py send real faces.
    photos = {(m, r) for (m, r, status) in live_app.config["TEST_ANSWERS"] if status == 400}
    photos &= {(m, rule.rule) for rule, m, op in contract.declared(live_app) if op.checks_content}
    assert answered(live_app, 2) | photos == declared(live_app)


@pytest.mark.sqlite_only
@pytest.mark.timeout(900)
def test_does_schemathesis_find_nothing_without_credentials(live_app, serve, tmp_path):
    # Fewer examples: without credentials every operation is refused before its body is
    # read, so more bodies of the same operation ask the same question (it took 3 minutes).
    report = run_schemathesis(live_app, serve, tmp_path, {}, examples=UNAUTHENTICATED_EXAMPLES)
    assert report["operations"]["tested"] == len(declared(live_app))
    # Without credentials nothing gets through but the API's description (open by default):
    # every other operation answered 401, none 2xx.
    public = {(m, r) for (m, r) in declared(live_app) if r.endswith(("/openapi.json", "/docs"))}
    assert len(public) == 2
    assert answered(live_app, 2) == public
    unauthorized = {(m, r) for (m, r, status) in live_app.config["TEST_ANSWERS"] if status == 401}
    assert unauthorized & declared(live_app) == declared(live_app) - public
