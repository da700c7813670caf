"""The OpenAPI 3 document of /api/v1, generated from the declarations (``contract.operation``).

Served at /api/v1/openapi.json and rendered at /api/v1/docs. apispec turns the marshmallow
schemas into JSON schemas; this module adds what every operation shares (the statuses and the
headers of its errors, path parameters, examples) and fills in the configured limits.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import string

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from ..auth.roles import Permission, permission_of
from ..config import current_settings
from ..models import NAME_MAX
from ..people import DETAILS_MAX, PersonFields
from ..web import DATABASE_ID_MAX, size_in_words
from . import schemas
from .contract import BAD_JSON, File, Operation, declared, openapi_path

TITLE = "facerec API"
VERSION = "1.0.0"
METHODS = ("get", "put", "post", "patch", "delete")
UNSAFE = {"post", "put", "patch", "delete"}
ERROR_SCHEMA = "Error"

# What every operation may fail with, besides its own errors: (description, example).
UNAUTHORIZED = (
    "No credentials, or a bad or revoked token. `WWW-Authenticate` names the Bearer scheme.",
    "Authentication required: sign in or send 'Authorization: Bearer <token>'.",
)
CSRF = (
    "A signed-in browser session sent no valid `X-CSRFToken` header (bearer tokens need none).",
    "The CSRF token is missing.",
)
TOO_LARGE = (
    "The request body is over the limit of ${max_body} (MAX_CONTENT_LENGTH).",
    "The request is too large: the limit is ${max_body}.",
)
INVALID = (
    "A field breaks the rule given for it above (type, length, range, characters, an unknown "
    "field); `fields` names each one.",
    "“name” must be at most 100 characters.",
)
DATABASE_BUSY = (
    "The database is busy (another connection holds a lock longer than "
    "FACEREC_DB_BUSY_TIMEOUT) or unreachable: nothing was saved; retry after `Retry-After` "
    "seconds.",
    "The database is busy; nothing was saved. Try again in a few seconds.",
)
NOT_FOUND = ("Nothing has this id.", "Nothing has this id.")

ERROR_HEADERS = {
    401: {
        "WWW-Authenticate": {
            "description": 'The scheme to authenticate with: `Bearer realm="facerec"`.',
            "required": True,
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {
            "description": "Seconds to wait before trying again.",
            "required": True,
            "schema": {"type": "integer", "minimum": 0},
        }
    },
    503: {
        "Retry-After": {
            "description": "Seconds to wait before trying again.",
            "required": True,
            "schema": {"type": "integer", "minimum": 0},
        }
    },
}

DESCRIPTION = f"""\
Recognise faces in photos, manage the enrolled people and control the camera of a facerec server.

**Authentication.** Send `Authorization: Bearer <token>` with a token made by
`.venv/bin/facerec tokens create NAME` in the facerec folder (or on the API tokens page). A
signed-in browser session works too; its POST, PATCH and DELETE requests must carry the
page's CSRF token in `X-CSRFToken`.

**Roles and scopes.** Each operation says the role it needs (viewer, operator or admin: the
`x-required-role` field) and the token scope (`recognize`, `stream`, `read`, `write` or
`admin`: the `x-required-scope` field). A token has the scopes it was made with, never more
than its account's role allows, and may be limited to some cameras or expire. Without them:
403, with a message naming the missing role or scope; an expired or revoked token: 401.

**Errors** are JSON `{{"error": "..."}}` (a 422 adds `fields`, what is wrong with each field).
Each operation lists every status it can answer with. 401 comes with `WWW-Authenticate`, 405
with `Allow`, 429 and 503 with `Retry-After`. Every operation may answer 503 when the database
is busy (a lock held longer than FACEREC_DB_BUSY_TIMEOUT): nothing was written, try again after
`Retry-After` seconds.

**Limits on this server.** Request bodies: at most ${{max_body}}. Photos: at most
${{max_pixels}}. Names: 1 to {NAME_MAX} characters, unique without regard to case. Details:
at most {DETAILS_MAX} characters. Pages: at most {schemas.PER_PAGE_MAX} people. A face is
someone's when its distance is below the tolerance, ${{tolerance}} here: pages write a distance
as "0.41 (match below 0.60)" or "0.73 (no match: above 0.60)".
"""

TAGS = [
    {"name": "Recognition", "description": "Who is in a photo."},
    {"name": "People", "description": "The enrolled people and their face samples."},
    {"name": "Stream", "description": "The first camera and its live recognition."},
    {"name": "Cameras", "description": "Every camera, one at a time by name."},
    {"name": "Sightings", "description": "The history: who was seen, where and when."},
    {
        "name": "Corrections",
        "description": (
            "Unknown visitors grouped by face, enrolling or assigning them, and teaching "
            "“this is not X” (negative samples)."
        ),
    },
    {"name": "Search", "description": "Search the history by face (every search is logged)."},
    {"name": "Audit", "description": "Who changed what and when (administrators)."},
    {"name": "Documentation", "description": "This description of the API."},
]


def spec(app) -> dict:
    """The document for ``app`` (its routes, its configured limits); built once per app."""
    cached = app.extensions.get("openapi")
    if cached is None:
        cached = build(app, description=DESCRIPTION, tags=TAGS, schemas=schemas.SCHEMAS)
        app.extensions["openapi"] = cached
    return copy.deepcopy(cached)


def limits(app) -> dict[str, str]:
    """Configured limits, as ``${name}`` in any description shows them."""
    settings = current_settings(app)
    body = settings.max_content_length
    pixels = settings.max_pixels
    patterns = {
        f"{field.name}_pattern": field.metadata["pattern"]()
        for field in dataclasses.fields(PersonFields)
    }
    return {
        **patterns,
        "max_body": size_in_words(body) if body else "no limit",
        "max_pixels": f"{pixels:,} pixels ({pixels / 1e6:g} megapixels)",
        "tolerance": f"{settings.tolerance:g}",
    }


def _error_response(description: str, example: str, status: int) -> dict:
    response = {
        "description": description,
        "content": {
            "application/json": {
                "schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"},
                "example": {"error": example},
            }
        },
    }
    if status in ERROR_HEADERS:
        response["headers"] = ERROR_HEADERS[status]
    return response


def _forbidden(permission: Permission) -> tuple[str, str]:
    return (
        f"The account's role is below {permission.role}, or the token lacks the "
        f"`{permission.scope}` scope, or the object is on a camera the account or token may "
        "not see; the message names what is missing.",
        f"This API token lacks the “{permission.scope}” scope ({permission.covers}); "
        "its scopes: recognize.",
    )


def _causes(
    op: Operation, method: str, has_path_ids: bool, permission: Permission, public: bool = False
) -> dict[int, list[tuple[str, str]]]:
    """Every status the operation can fail with: its own and the ones every operation shares."""
    causes: dict[int, list[tuple[str, str]]] = {} if public else {401: [UNAUTHORIZED]}
    if permission.role is not None and not public:
        causes[403] = [_forbidden(permission)]
    if method in UNSAFE:
        causes.setdefault(400, []).append(CSRF)
    if op.body:
        causes.setdefault(413, []).append(TOO_LARGE)
        media = " or ".join(f"`{m}`" for m in op.body)
        causes.setdefault(415, []).append(
            (f"The body is not {media}.", f"Send the body as {' or '.join(op.body)}.")
        )
        causes.setdefault(422, []).append(INVALID)
        if "application/json" in op.body or "application/json" in op.compatible:
            causes.setdefault(400, []).append(BAD_JSON)
    if op.query is not None:
        causes.setdefault(422, []).append(INVALID)
    for status, cause in op.errors.items():
        if isinstance(cause, str):
            cause = (cause, cause)
        causes.setdefault(int(status), []).insert(0, cause)
    if has_path_ids and 404 not in causes:
        causes[404] = [NOT_FOUND]
    # Every request reads the database (the signed-in account or token at least).
    causes.setdefault(503, []).append(DATABASE_BUSY)
    return causes


def _path_parameters(rule, op: Operation) -> list[dict]:
    params = []
    for converter, _args, name in _rule_variables(rule.rule):
        if converter == "int":
            schema = {
                "type": "integer",
                "format": "int32",
                "minimum": 1,
                "maximum": DATABASE_ID_MAX,  # larger ids cannot exist (a 404)
            }
            example = 7
        else:
            schema = {"type": "string", "minLength": 1}
            example = "front-door"
        description = op.path.get(name, "")
        if isinstance(description, tuple):  # (description, more of the schema)
            description, extra = description
            schema = {**schema, **{k: v for k, v in extra.items() if k != "example"}}
            example = extra.get("example", example)
        params.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": description,
                "schema": schema,
                "example": example,
            }
        )
    return params


def _rule_variables(rule: str):
    for match in re.finditer(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>", rule):
        yield match.group(1) or "default", match.group(2), match.group(3)


def _operation_dict(op: Operation, method: str, rule, app) -> dict:
    params = _path_parameters(rule, op)
    # Open to anyone while its permission's setting is on (GET only): no credentials, no 401.
    permission = permission_of(app.view_functions[rule.endpoint])
    setting = permission.public_setting
    public = method == "get" and bool(setting and app.config.get(setting))
    result = {
        "operationId": op.operation_id,
        "tags": [op.tag],
        "summary": op.summary,
        "responses": {},
    }
    description = op.description
    if op.compatible:
        # Not in requestBody (one media type per body, for generated clients): said in words.
        also = " ".join(
            f"`{media}`: {sentence}" for media, (_schema, sentence) in op.compatible.items()
        )
        also = f"**Also accepted**, for clients written before this operation was split: {also}"
        description = f"{description}\n\n{also}" if description else also
    if permission.role is not None and not public:
        # OpenAPI 3.0 has no scopes for bearer tokens: the extension fields say it for tools,
        # the sentence for people.
        result["x-required-role"] = permission.role
        result["x-required-scope"] = permission.scope
        needs = (
            f"**Needs** the {permission.role} role (or above); a token needs the "
            f"`{permission.scope}` scope."
        )
        description = f"{description}\n\n{needs}" if description else needs
    if description:
        result["description"] = description
    if public:
        result["security"] = []  # no credentials needed
    if params or op.query is not None:
        result["parameters"] = [
            *params,
            *([{"in": "query", "schema": op.query}] if op.query else []),
        ]
    if op.body:
        result["requestBody"] = {
            "required": True,
            "content": {media: {"schema": schema} for media, schema in op.body.items()},
        }
    for status, answer in sorted(op.responses.items()):
        description, schema, *media = answer
        response = {"description": description}
        if schema is not None:
            # A binary answer names its own type and application/octet-stream, which every
            # client generator knows how to hand over as bytes (the server follows Accept).
            kinds = media[0] if media else "application/json"
            kinds = (kinds,) if isinstance(kinds, str) else kinds
            response["content"] = {kind: {"schema": schema} for kind in kinds}
        if status in op.headers:
            response["headers"] = {
                name: {"description": text, "required": required, "schema": {"type": "string"}}
                for name, (text, required) in op.headers[status].items()
            }
        if status in op.links:
            response["links"] = {
                target[0].upper() + target[1:]: {
                    "operationId": target,
                    "parameters": {declarer.param: pointer},
                }
                for declarer, pointer in op.links[status]
                for target in declarer.operation_ids
            }
        result["responses"][str(status)] = response
    for status, causes in sorted(_causes(op, method, bool(params), permission, public).items()):
        description = " ".join(dict.fromkeys(text for text, _ in causes))
        result["responses"][str(status)] = _error_response(description, causes[0][1], status)
    return result


def build(app, *, description: str, tags: list[dict], schemas: dict) -> dict:
    """The OpenAPI 3 document of every declared operation, limits filled in from ``app``."""
    # A tag an operation uses but TAGS does not describe is listed after the described ones.
    used = {op.tag for _rule, _method, op in declared(app)}
    tags = [tag for tag in tags if tag["name"] in used] + [
        {"name": name} for name in sorted(used - {tag["name"] for tag in tags})
    ]
    spec = APISpec(
        title=TITLE,
        version=VERSION,
        openapi_version="3.0.3",
        plugins=[plugin := MarshmallowPlugin(schema_name_resolver=_schema_name)],
        info={"description": description},
        tags=tags,
        security=[{"bearerAuth": []}, {"session": []}],
    )
    plugin.map_to_openapi_type(File, "string", "binary")
    spec.components.security_scheme(
        "bearerAuth",
        {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "An API token (`.venv/bin/facerec tokens create NAME`, or the Tokens page)."
            ),
        },
    )
    spec.components.security_scheme(
        "session",
        {
            "type": "apiKey",
            "in": "cookie",
            "name": "session",
            "description": "A signed-in browser session (unsafe methods need X-CSRFToken).",
        },
    )
    for name, schema in schemas.items():
        if name not in spec.components.schemas:  # nested ones register themselves
            spec.components.schema(name, schema=schema)
    paths: dict[str, dict] = {}
    for rule, method, op in declared(app):
        paths.setdefault(openapi_path(rule.rule), {})[method] = _operation_dict(
            op, method, rule, app
        )
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    document = _fill(spec.to_dict(), limits(app))
    _config_defaults(document, app.config)
    _only_null(document)
    _add_examples(document)
    return document


NULL_BRANCH = {"nullable": True, "type": "object"}


def _only_null(node):
    """apispec writes a nullable nested object as ``anyOf: [$ref, {type: object, nullable}]``,
    whose second branch is any object at all (a consent object without its basis passes it):
    that branch is made to mean null only."""
    if isinstance(node, dict):
        branches = node.get("anyOf")
        if isinstance(branches, list) and NULL_BRANCH in branches:
            branches[branches.index(NULL_BRANCH)] = {**NULL_BRANCH, "enum": [None]}
        for value in node.values():
            _only_null(value)
    elif isinstance(node, list):
        for value in node:
            _only_null(value)


def _schema_name(schema) -> str:
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__
    return name[: -len("Schema")] if name.endswith("Schema") and name != "Schema" else name


def _fill(node, values: dict):
    if isinstance(node, str):
        return string.Template(node).safe_substitute(values)
    if isinstance(node, dict):
        return {key: _fill(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill(value, values) for value in node]
    return node


def _config_defaults(node, config):
    """A field marked ``x-config: NAME`` defaults to that setting's value on this server."""
    if isinstance(node, dict):
        if node.get("x-config") in config:
            node["default"] = config[node["x-config"]]
        for value in node.values():
            _config_defaults(value, config)
    elif isinstance(node, list):
        for value in node:
            _config_defaults(value, config)


# ---- examples ---------------------------------------------------------------------------------


def example_of(schema: dict, document: dict, depth: int = 0):
    """An example value for a JSON schema, from the ``example`` its fields carry."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    if "example" in schema:
        return schema["example"]
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if depth > 4:
            return {}
        return {
            key: example_of(prop, document, depth + 1)
            for key, prop in schema.get("properties", {}).items()
            if not prop.get("writeOnly")
        }
    if kind == "array":
        return [example_of(schema.get("items", {}), document, depth + 1)]
    if "enum" in schema:
        return schema["enum"][0]
    if schema.get("nullable"):
        return None
    return {"integer": 1, "number": 0.5, "boolean": True, "string": "text"}.get(kind)


def _add_examples(document: dict):
    """Each JSON response and request body gets an example built from its schema."""
    for item in document["paths"].values():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            bodies = [op.get("requestBody", {}).get("content", {}).get("application/json")]
            bodies += [
                response.get("content", {}).get("application/json")
                for response in op["responses"].values()
            ]
            for body in bodies:
                if body is not None and "example" not in body and "schema" in body:
                    body["example"] = example_of(body["schema"], document)
