"""The roles table, route by route: every page, action, stream and API operation, asked by
every role, a camera-limited viewer, a token of each scope and nobody, is allowed or refused
exactly as the table says. A route missing from the table fails the first test, which says
what to add.

The table is written out here on purpose (not read from the code): a view declaring the
wrong permission makes the requests below disagree with it.
"""

from __future__ import annotations

import pytest
from werkzeug.routing import IntegerConverter

from facerec.auth.accounts import create_token
from facerec.auth.roles import permission_of
from facerec.extensions import db
from facerec.models import Account

from .conftest import add_camera, create_account, login_client

pytestmark = pytest.mark.sqlite_only

PUBLIC, VIEWER, OPERATOR, ADMIN = "public", "viewer", "operator", "admin"
RANK = {PUBLIC: 0, VIEWER: 1, OPERATOR: 2, ADMIN: 3}
SCOPES = ("recognize", "stream", "read", "write", "admin")

# "METHOD rule": (the least role that may use it, the scope a token needs; None: no token).
ROLES_TABLE = {
    # Open to anyone.
    "GET /login": (PUBLIC, None),
    "POST /login": (PUBLIC, None),
    "GET /logout": (PUBLIC, None),
    "POST /logout": (PUBLIC, None),
    "GET /setup": (PUBLIC, None),
    "POST /setup": (PUBLIC, None),
    "GET /healthz": (PUBLIC, None),
    "GET /readyz": (PUBLIC, None),
    "GET /static/<path:filename>": (PUBLIC, None),
    # The API's description holds no data (FACEREC_OPENAPI_PUBLIC, on by default).
    "GET /api/v1/docs": (PUBLIC, None),
    "GET /api/v1/openapi.json": (PUBLIC, None),
    # Every account: the live pages, the streams, one's own password.
    "GET /": (VIEWER, "read"),
    "GET /cameras/<name>": (VIEWER, "read"),
    "GET /stream.mjpg": (VIEWER, "stream"),
    "GET /cameras/<name>/stream.mjpg": (VIEWER, "stream"),
    "GET /api/v1/stream/status": (VIEWER, "read"),
    "GET /api/v1/cameras": (VIEWER, "read"),
    "GET /api/v1/cameras/<name>/status": (VIEWER, "read"),
    "GET /account/password": (VIEWER, None),
    "POST /account/password": (VIEWER, None),
    # Operators: recognition, history, people, enrolment, unknown visitors, corrections.
    "POST /api/v1/recognize": (OPERATOR, "recognize"),
    "GET /history": (OPERATOR, "read"),
    "GET /history/rows": (OPERATOR, "read"),
    "GET /history.csv": (OPERATOR, "read"),
    "GET /api/v1/sightings": (OPERATOR, "read"),
    "GET /api/v1/sightings/<int:sighting_id>": (OPERATOR, "read"),
    "GET /api/v1/sightings/<int:sighting_id>/crop.jpg": (OPERATOR, "read"),
    "GET /admin/": (OPERATOR, "read"),
    "GET /admin/users": (OPERATOR, "read"),
    "GET /admin/users/<int:user_id>": (OPERATOR, "read"),
    "GET /admin/samples/<int:sample_id>/thumbnail.jpg": (OPERATOR, "read"),
    "GET /admin/negatives/<int:negative_id>/thumbnail.jpg": (OPERATOR, "read"),
    "GET /api/v1/users": (OPERATOR, "read"),
    "GET /api/v1/users/<int:user_id>": (OPERATOR, "read"),
    "POST /admin/users/<int:user_id>": (OPERATOR, "write"),
    "POST /admin/users/<int:user_id>/samples": (OPERATOR, "write"),
    "POST /admin/users/<int:user_id>/snapshot": (OPERATOR, "write"),
    "POST /admin/users/<int:user_id>/tolerance": (OPERATOR, "write"),
    "POST /admin/samples/<int:sample_id>/delete": (OPERATOR, "write"),
    "POST /api/v1/users": (OPERATOR, "write"),
    "POST /api/v1/users/with-photos": (OPERATOR, "write"),
    "PATCH /api/v1/users/<int:user_id>": (OPERATOR, "write"),
    "POST /api/v1/users/<int:user_id>/samples": (OPERATOR, "write"),
    "GET /enroll/": (OPERATOR, "write"),
    "POST /enroll/": (OPERATOR, "write"),
    "POST /enroll/camera/start": (OPERATOR, "write"),
    "POST /enroll/cancel": (OPERATOR, "write"),
    "GET /enroll/done/<int:user_id>": (OPERATOR, "write"),
    "GET /enroll/review": (OPERATOR, "write"),
    "POST /enroll/review": (OPERATOR, "write"),
    "GET /enroll/samples": (OPERATOR, "write"),
    "GET /enroll/samples/<int:sample_id>.jpg": (OPERATOR, "write"),
    "POST /enroll/samples/<int:sample_id>/remove": (OPERATOR, "write"),
    "POST /enroll/samples/auto": (OPERATOR, "write"),
    "POST /enroll/samples/snapshot": (OPERATOR, "write"),
    "POST /enroll/samples/upload": (OPERATOR, "write"),
    "GET /unknowns": (OPERATOR, "read"),
    "GET /unknowns/questions": (OPERATOR, "read"),
    "GET /api/v1/unknowns": (OPERATOR, "read"),
    "GET /api/v1/unknowns/questions": (OPERATOR, "read"),
    "POST /unknowns/<int:group_id>/enroll": (OPERATOR, "write"),
    "POST /unknowns/<int:group_id>/assign": (OPERATOR, "write"),
    "POST /unknowns/<int:group_id>/dismiss": (OPERATOR, "write"),
    "POST /api/v1/unknowns/<int:group_id>/enroll": (OPERATOR, "write"),
    "POST /api/v1/unknowns/<int:group_id>/assign": (OPERATOR, "write"),
    "DELETE /api/v1/unknowns/<int:group_id>": (OPERATOR, "write"),
    "POST /api/v1/unknowns/<int:group_id>/split": (OPERATOR, "write"),
    "POST /api/v1/unknowns/assign": (OPERATOR, "write"),
    "POST /api/v1/unknowns/dismiss": (OPERATOR, "write"),
    "POST /api/v1/unknowns/enroll": (OPERATOR, "write"),
    "POST /api/v1/unknowns/merge": (OPERATOR, "write"),
    "POST /unknowns/selected": (OPERATOR, "write"),
    "POST /history/sightings/<int:sighting_id>/label": (OPERATOR, "write"),
    "POST /api/v1/sightings/<int:sighting_id>/label": (OPERATOR, "write"),
    "POST /api/v1/users/<int:user_id>/negatives": (OPERATOR, "write"),
    "POST /admin/negatives/<int:negative_id>/delete": (OPERATOR, "write"),
    "GET /metrics": (OPERATOR, "read"),
    # Admins only: deleting people, search by face, cameras, webhooks, tokens, accounts, audit.
    "GET /admin/users/<int:user_id>/delete": (ADMIN, "admin"),
    "POST /admin/users/<int:user_id>/delete": (ADMIN, "admin"),
    "DELETE /api/v1/users/<int:user_id>": (ADMIN, "admin"),
    "POST /admin/users/<int:user_id>/export": (ADMIN, "admin"),
    "GET /api/v1/users/<int:user_id>/export.zip": (ADMIN, "admin"),
    "GET /history/search": (ADMIN, "admin"),
    "POST /history/search": (ADMIN, "admin"),
    "POST /api/v1/sightings/search": (ADMIN, "admin"),
    "POST /api/v1/sightings/<int:sighting_id>/similar": (ADMIN, "admin"),
    "GET /admin/cameras": (ADMIN, "admin"),
    "POST /admin/cameras": (ADMIN, "admin"),
    "GET /admin/cameras/<int:camera_id>": (ADMIN, "admin"),
    "POST /admin/cameras/<int:camera_id>": (ADMIN, "admin"),
    "POST /admin/cameras/<int:camera_id>/delete": (ADMIN, "admin"),
    "POST /admin/cameras/<int:camera_id>/test": (ADMIN, "admin"),
    "POST /admin/cameras/<int:camera_id>/toggle": (ADMIN, "admin"),
    "POST /api/v1/stream/start": (ADMIN, "admin"),
    "POST /api/v1/stream/stop": (ADMIN, "admin"),
    "POST /api/v1/cameras/<name>/start": (ADMIN, "admin"),
    "POST /api/v1/cameras/<name>/stop": (ADMIN, "admin"),
    "GET /admin/webhooks": (ADMIN, "admin"),
    "POST /admin/webhooks": (ADMIN, "admin"),
    "POST /admin/webhooks/<int:webhook_id>/delete": (ADMIN, "admin"),
    "POST /admin/webhooks/<int:webhook_id>/test": (ADMIN, "admin"),
    "POST /admin/webhooks/<int:webhook_id>/toggle": (ADMIN, "admin"),
    "GET /admin/notifications": (ADMIN, "admin"),
    "POST /admin/notifications": (ADMIN, "admin"),
    "POST /admin/notifications/<int:target_id>/delete": (ADMIN, "admin"),
    "POST /admin/notifications/<int:target_id>/test": (ADMIN, "admin"),
    "POST /admin/notifications/<int:target_id>/toggle": (ADMIN, "admin"),
    "GET /admin/tokens": (ADMIN, "admin"),
    "POST /admin/tokens": (ADMIN, "admin"),
    "POST /admin/tokens/<int:token_id>/revoke": (ADMIN, "admin"),
    "GET /admin/accounts": (ADMIN, "admin"),
    "POST /admin/accounts": (ADMIN, "admin"),
    "GET /admin/accounts/<int:account_id>": (ADMIN, "admin"),
    "POST /admin/accounts/<int:account_id>": (ADMIN, "admin"),
    "POST /admin/accounts/<int:account_id>/sign-out": (ADMIN, "admin"),
    "POST /admin/accounts/<int:account_id>/toggle": (ADMIN, "admin"),
    "GET /admin/audit": (ADMIN, "admin"),
    "GET /admin/health": (ADMIN, "admin"),
    "GET /admin/audit.csv": (ADMIN, "admin"),
    "GET /history/searches": (ADMIN, "admin"),
    "GET /api/v1/audit": (ADMIN, "admin"),
}

# Pages outside /api/ that take a token (the API takes them everywhere).
TOKEN_PAGES = {"GET /stream.mjpg", "GET /cameras/<name>/stream.mjpg", "GET /metrics"}
# What the first camera shows: a viewer limited to another camera may not use them.
FIRST_CAMERA = {
    "GET /stream.mjpg",
    "GET /api/v1/stream/status",
    "POST /api/v1/stream/start",
    "POST /api/v1/stream/stop",
}
LIMITED_TO = "door"  # the limited viewer's camera; "lab" is the first camera
MISSING_ID = 987654  # no row has it: a request that passes the check gets a harmless 404


def app_routes(app) -> dict[str, object]:
    """{"METHOD rule": rule} for every route of the app."""
    found = {}
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found[f"{method} {rule.rule}"] = rule
    return found


def takes_tokens(key: str) -> bool:
    return key.split(" ", 1)[1].startswith("/api/") or key in TOKEN_PAGES


def test_is_every_route_in_the_roles_table(app):
    routes = app_routes(app)
    missing = sorted(set(routes) - set(ROLES_TABLE))
    lines = []
    for key in missing:
        rule = routes[key]
        view = app.view_functions[rule.endpoint]
        declared = permission_of(view)
        lines.append(
            f'    "{key}": ({(declared.role or PUBLIC).upper()}, {declared.scope!r}),'
            f"  # {rule.endpoint}: @requires({getattr(view, 'permission', None)!r})"
        )
    assert not missing, (
        f"{len(missing)} route(s) are not in the roles table. Add each to ROLES_TABLE in "
        "tests/test_roles_table.py, as (the least role that may use it, the token scope it "
        'needs), and guard its view with @requires("<permission>") or @public from '
        "facerec.auth.roles (the permissions and their roles are PERMISSIONS there; a view "
        "without one is open to admins only). Stream pages that take tokens also go in "
        "TOKEN_PAGES. What the views declare now:\n" + "\n".join(lines)
    )
    gone = sorted(set(ROLES_TABLE) - set(routes))
    assert not gone, f"Remove from ROLES_TABLE (tests/test_roles_table.py), no such route: {gone}"


# ---- asking every route as everyone ---------------------------------------------------------


def url_for_rule(rule, camera: str) -> str:
    values = {}
    for name in rule.arguments:
        if name == "filename":
            values[name] = "css/app.css"
        elif isinstance(rule._converters[name], IntegerConverter):
            values[name] = MISSING_ID
        else:
            values[name] = camera
    return rule.build(values, append_unknown=False)[1]


def refused(response) -> bool:
    """403, 401, or a browser sent to the sign-in page."""
    if response.status_code in (401, 403):
        return True
    return response.status_code in (301, 302, 303) and "/login" in response.location


@pytest.fixture
def world(app_factory):
    """Two cameras ("lab" first), accounts of every role, tokens of every scope."""
    app = app_factory()
    # A webcam number no machine here has: opening it fails fast, so nothing heavy runs.
    add_camera(app, "lab", "7")
    add_camera(app, "door", "8")
    for username, role, cameras in (
        ("ada", ADMIN, ""),
        ("otto", OPERATOR, ""),
        ("vera", VIEWER, ""),
        ("lim", VIEWER, LIMITED_TO),
    ):
        create_account(app, username, role=role, cameras=cameras)
    tokens = {}
    with app.app_context():
        ada = db.session.execute(db.select(Account).filter_by(username="ada")).scalar_one()
        for scope in SCOPES:
            _row, tokens[scope] = create_token(f"only {scope}", ada, scopes=[scope])
        db.session.commit()
    return app, tokens


def ask(app, key: str, rule, *, who=None, token=None, query_token=False, camera="door"):
    client = app.test_client()
    if who is not None:
        login_client(app, client, who)
    method, _ = key.split(" ", 1)
    url = url_for_rule(rule, camera)
    headers = {"Accept": "application/json"} if "/api/" in url else {}
    if token is not None and not query_token:
        headers["Authorization"] = f"Bearer {token}"
    elif token is not None:
        url += ("&" if "?" in url else "?") + f"token={token}"
    response = client.open(url, method=method, headers=headers)
    response.close()
    return response


def disagreements(app, routes, principal: str, expect, **how) -> list[str]:
    wrong = []
    for key, rule in sorted(routes.items()):
        if key not in ROLES_TABLE:
            continue  # the first test names it
        allowed = expect(key)
        response = ask(app, key, rule, **how)
        if ROLES_TABLE[key][0] == PUBLIC:
            # Its own answer may send a browser to the sign-in page (/logout signed out).
            no = response.status_code in (401, 403)
        else:
            no = refused(response)
        if no == allowed:
            wrong.append(
                f"{principal} {key}: {response.status_code} "
                f"({'refused' if allowed else 'allowed'}; the table says "
                f"{'allowed' if allowed else 'refused'})"
            )
    return wrong


@pytest.mark.parametrize("role", [VIEWER, OPERATOR, ADMIN])
def test_does_each_role_get_exactly_what_the_table_gives_it(world, role):
    app, _tokens = world
    who = {VIEWER: "vera", OPERATOR: "otto", ADMIN: "ada"}[role]
    wrong = disagreements(
        app, app_routes(app), role, lambda key: RANK[ROLES_TABLE[key][0]] <= RANK[role], who=who
    )
    assert not wrong, "\n".join(wrong)


def test_does_nobody_signed_in_get_only_the_public_routes(world):
    app, _tokens = world
    wrong = disagreements(
        app, app_routes(app), "anonymous", lambda key: ROLES_TABLE[key][0] == PUBLIC
    )
    assert not wrong, "\n".join(wrong)


def test_does_a_viewer_limited_to_one_camera_get_nothing_of_another(world):
    """Asked about "lab" (the first camera), a viewer limited to "door" is refused."""
    app, _tokens = world

    def expect(key):
        role, _scope = ROLES_TABLE[key]
        if RANK[role] > RANK[VIEWER]:
            return False
        return role == PUBLIC or not ("<name>" in key or key in FIRST_CAMERA)

    wrong = disagreements(app, app_routes(app), "viewer of door", expect, who="lim", camera="lab")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("scope", SCOPES)
def test_does_a_token_of_each_scope_get_exactly_its_operations(world, scope):
    """An admin's token limited to one scope: that scope's operations, nothing else."""
    app, tokens = world

    def expect(key):
        role, needed = ROLES_TABLE[key]
        return role == PUBLIC or (takes_tokens(key) and needed == scope)

    wrong = disagreements(app, app_routes(app), f"{scope} token", expect, token=tokens[scope])
    assert not wrong, "\n".join(wrong)


def test_does_a_stream_token_in_the_address_open_the_streams_and_nothing_else(world):
    app, tokens = world

    def expect(key):
        role, needed = ROLES_TABLE[key]
        return role == PUBLIC or (needed == "stream" and key in TOKEN_PAGES)

    wrong = disagreements(
        app, app_routes(app), "?token=", expect, token=tokens["stream"], query_token=True
    )
    assert not wrong, "\n".join(wrong)


def test_does_a_refusal_name_what_is_missing(world):
    app, tokens = world
    client = app.test_client()
    viewer = login_client(app, app.test_client(), "vera")
    by_role = viewer.get("/api/v1/users").get_json()["error"]
    assert "needs the operator role" in by_role and "vera is a viewer" in by_role
    by_scope = client.get(
        "/api/v1/users", headers={"Authorization": f"Bearer {tokens['recognize']}"}
    ).get_json()["error"]
    assert "lacks the “read” scope" in by_scope


def test_does_the_api_document_declare_each_operations_role_and_scope(app):
    """What the OpenAPI document tells clients is what the table (and so the server) does."""
    from facerec.api import openapi
    from facerec.api.contract import openapi_path

    document = openapi.spec(app)
    checked = 0
    for key, (role, scope) in ROLES_TABLE.items():
        method, rule = key.split(" ", 1)
        operation = document["paths"].get(openapi_path(rule), {}).get(method.lower())
        if operation is None:
            continue  # not part of the API
        checked += 1
        if role == PUBLIC:
            assert "x-required-scope" not in operation, key
            continue
        assert (operation["x-required-role"], operation["x-required-scope"]) == (role, scope), key
        assert f"`{scope}` scope" in operation["description"], key
        assert "403" in operation["responses"], key
    assert checked >= 25  # the API operations of the table
