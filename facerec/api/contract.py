"""The API contract, declared once: ``@operation`` validates requests and generates OpenAPI.

Each view under /api/ carries one declaration::

    @bp.post("/recognize")
    @operation(
        "recognize",
        tag="Recognition",
        summary="Who is in this photo?",
        body={"multipart/form-data": RecognizeForm},
        responses={200: ("The faces found.", Recognition)},
        errors={400: "The file is not an image.", 503: ENGINE_BUSY},
    )
    def recognize(body): ...

An operation on one thing the path names (a person, a sighting, a camera) is declared through
that kind's ``operations_on``, which adds the path parameter, its 404 and the tag, and gives
the view the thing itself::

    @bp.post("/users/<int:user_id>/samples")
    @on_person("addSample", summary="Add a face sample", body=..., responses=...)
    def add_sample(user, body): ...

The marshmallow schemas named there are the only description of the inputs and outputs:
requests are loaded through them (the view gets ``query=`` and ``body=`` as validated dicts;
a rule broken is a 422 naming the field), and apispec turns the same schemas into the OpenAPI
document served at /api/v1/openapi.json and rendered at /api/v1/docs. The statuses every
operation can answer with but does not name (401 without credentials, 400 for a browser
session without its CSRF header, 413/415/422 for a body) are added by ``openapi.py``, which
builds the document, so no operation can forget them. Descriptions may name configured limits
as ``${max_pixels}`` (see ``openapi.limits``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import marshmallow as ma
from flask import jsonify, request
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response

from .errors import ApiError

# Everything a declaration may say about a failure: (description, example message).
ENGINE_BUSY = (
    "The face engine has too many photos waiting, did not answer in time or is restarting; "
    "retry after `Retry-After` seconds.",
    "The face engine is busy or restarting; try again.",
)
RATE_LIMITED = (
    "Over this token's (or account's) rate limit for this operation (FACEREC_RATE_LIMIT_*): "
    "nothing was done; retry after `Retry-After` seconds.",
    "Too many recognition requests: at most 60 per minute for each token or account. Nothing "
    "was done; try again later (Retry-After says when).",
)
BAD_JSON = ("The body is not valid JSON.", "The request body is not valid JSON.")
BINARY = {"type": "string", "format": "binary"}


def binary(data: bytes, media_type: str) -> Response:
    """Bytes of ``media_type``, or labelled application/octet-stream when the client's
    Accept prefers that (generated clients ask for it to get bytes back)."""
    kinds = (media_type, "application/octet-stream")
    return Response(data, mimetype=request.accept_mimetypes.best_match(kinds) or media_type)


# ---- fields -----------------------------------------------------------------------------------


class File(ma.fields.Field):
    """An uploaded file in a multipart body; the view gets werkzeug's FileStorage."""

    default_error_messages = {
        "invalid": "Send a file in this multipart field, not text.",
        "required": "is required: send the photo as a file in this multipart field.",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, FileStorage):
            raise self.make_error("invalid")
        return value


# JSON carries types, and marshmallow would cast "1" or true into a number: refuse instead.
_JSON_TYPES = (
    (ma.fields.Boolean, (bool,), "boolean"),
    (ma.fields.Integer, (int,), "integer"),
    (ma.fields.Number, (int, float), "number"),
    (ma.fields.String, (str,), "string"),
    (ma.fields.List, (list,), "array"),
    (ma.fields.Dict, (dict,), "object"),
    (ma.fields.Nested, (dict,), "object"),
)


def _strict_types(schema: ma.Schema, data):
    if not isinstance(data, dict):
        return data
    errors = {}
    for name, fld in schema.load_fields.items():
        key = fld.data_key or name
        value = data.get(key)
        if value is None:
            continue  # missing, or null: the field's own rules decide
        for kind, types, label in _JSON_TYPES:
            if isinstance(fld, kind):
                if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                    errors[key] = [f"must be a JSON {label}."]
                break
    if errors:
        raise ma.ValidationError(errors)
    return data


class JsonBody(ma.Schema):
    """Base of JSON request bodies: exact JSON types, unknown fields refused."""

    class Meta:
        unknown = ma.RAISE

    @ma.pre_load
    def _types(self, data, **_kwargs):
        return _strict_types(self, data)


class FormBody(ma.Schema):
    """Base of multipart / form bodies: text fields are cast, unknown fields refused."""

    class Meta:
        unknown = ma.RAISE


class Query(ma.Schema):
    """Base of query strings: unknown parameters are ignored (caches add their own)."""

    class Meta:
        unknown = ma.EXCLUDE


def utc_time(bound: str, example: str) -> ma.fields.DateTime:
    """A query's time bound, read as the list filters read it (``naive_utc``): UTC unless it
    has an offset; ``bound`` is how it limits the rows ("At or after")."""
    return ma.fields.DateTime(
        metadata={
            "description": f"{bound} this time (UTC unless it has an offset).",
            "example": example,
        }
    )


# ---- declarations -----------------------------------------------------------------------------


@dataclass
class Operation:
    operation_id: str
    tag: str
    summary: str
    description: str = ""
    query: type[ma.Schema] | None = None
    body: dict = field(default_factory=dict)  # media type -> schema class
    # status -> (description, schema[, media type or types: a binary answer names
    # application/octet-stream too, and the view's answer is sent as the client accepts])
    responses: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)  # status -> description or (description, example)
    headers: dict = field(default_factory=dict)  # status -> {name: (description, required)}
    # path parameter -> description, or (description, more of its schema: pattern, example...)
    path: dict = field(default_factory=dict)
    links: dict = field(default_factory=dict)  # status -> [(operations_on declarer, pointer)]
    # A body whose files the schema cannot describe (an image must decode and hold a face):
    # a schema-valid request may still be refused with 400. The schemathesis run knows.
    checks_content: bool = False
    # Bodies accepted for compatibility, kept out of the document's requestBody (one media
    # type per body: generated clients cannot tell two apart) and named in its description:
    # media type -> (schema class, the sentence saying what that body does).
    compatible: dict = field(default_factory=dict)


def operation(
    operation_id: str,
    *,
    tag: str,
    summary: str,
    description: str = "",
    query: type[ma.Schema] | None = None,
    body: type[ma.Schema] | dict | None = None,
    responses: dict,
    errors: dict | None = None,
    headers: dict | None = None,
    path: dict | None = None,
    links: dict | None = None,
    compatible: dict | None = None,
):
    """Declare the view's inputs and outputs; the view gets validated ``query``/``body``.

    ``compatible`` are bodies an operation took before it was split in two (clients written
    then still send them): ``{media type: (schema, sentence)}``. They are loaded like
    ``body``, and the document lists them in the operation's description only.

    ``links`` say which operations take a value of the answer (OpenAPI links: clients and
    schemathesis follow them), per status a list of ``(operations, pointer)``: every
    operation declared through ``operations`` (an ``operations_on`` declarer) gets the value
    at ``pointer``, e.g. ``{201: [(on_person, "$response.body#/id")]}``.
    """
    if body is not None and not isinstance(body, dict):
        body = {"application/json": body}
    op = Operation(
        operation_id,
        tag,
        summary,
        description,
        query,
        body or {},
        responses,
        errors or {},
        headers or {},
        path or {},
        links or {},
        compatible=compatible or {},
    )
    op.checks_content = any(
        _has_file(schema) for media, schema in op.body.items() if media != "application/json"
    )

    def decorate(view):
        @functools.wraps(view)
        def validated(*args, **kwargs):
            if op.query is not None:
                kwargs["query"] = _load(op.query, _multi(op.query, request.args))
            if op.body:
                kwargs["body"] = _load_body(op)
            return _answer(op, view(*args, **kwargs))

        validated.api_operation = op
        return validated

    return decorate


def _answer(op: Operation, result):
    """The view's answer dumped through the schema its declaration gives for the status.

    A view returns the thing itself (a row, a dataclass, a dict), or ``(thing, status)`` or
    ``(thing, status, headers)`` when it can answer with more than one success; the schema
    declared for that status decides what goes out, so the document is what is sent. A
    response already made (a file, a page) goes as it is.
    """
    if isinstance(result, Response):
        return result
    status, headers = None, {}
    if isinstance(result, tuple):
        result, status, *more = result
        headers = more[0] if more else {}
    if status is None:
        status = min(code for code in op.responses if 200 <= code < 300)
    _description, schema, *media = op.responses[status]
    if schema is None:
        return Response(status=status, headers=headers)
    if media and media[0] != "application/json":
        kinds = (media[0],) if isinstance(media[0], str) else media[0]
        kind = request.accept_mimetypes.best_match(kinds) or kinds[0]
        return Response(result, status=status, headers=headers, mimetype=kind)
    if isinstance(schema, type) and issubclass(schema, ma.Schema):
        result = schema().dump(result)
    response = jsonify(result)
    response.status_code = status
    response.headers.update(headers)
    return response


def operations_on(param: str, find, *, tag: str, description, not_found: tuple):
    """Declarations of the operations on one kind of thing a path names by ``param``.

    Gives ``declare(operation_id, **declaration)``, an ``operation`` whose path parameter, 404
    (``not_found``, the refusal ``find`` raises) and tag are filled in; the view is called with
    ``find(value)``, the thing itself, in place of the parameter. ``description`` is the
    parameter's, as ``operation``'s ``path`` takes it.
    """

    def declare(operation_id: str, *, errors: dict | None = None, example=None, **declaration):
        declare.operation_ids.append(operation_id)
        declaration.setdefault("tag", tag)
        # ``example``: this operation's own example value of the parameter.
        path = description if example is None else (description, {"example": example})
        validated = operation(
            operation_id,
            path={param: path},
            errors={404: not_found, **(errors or {})},
            **declaration,
        )

        def decorate(view):
            @functools.wraps(view)
            def with_thing(**kwargs):
                return view(find(kwargs.pop(param)), **kwargs)

            return validated(with_thing)

        return decorate

    # What links to "the operations on this thing" expand to (see ``operation``'s links).
    declare.param = param
    declare.operation_ids = []
    return declare


def operations_on_id(param: str, find, *, noun: str, tag: str):
    """``operations_on`` for things with a database id, described and refused alike
    ("The person's id.", "No person with id 42.")."""
    return operations_on(
        param,
        find,
        tag=tag,
        description=f"The {noun}'s id.",
        not_found=(f"No {noun} with this id.", f"No {noun} with id 42."),
    )


def _has_file(schema_cls) -> bool:
    for fld in schema_cls().fields.values():
        inner = getattr(fld, "inner", fld)
        if isinstance(inner, File):
            return True
    return False


def _multi(schema_cls, source: MultiDict) -> dict:
    """A query string or form as a dict: list fields get every value; a field of one value
    sent twice is refused (which of the two was meant?)."""
    fields = {fld.data_key or name: fld for name, fld in schema_cls().fields.items()}
    data, repeated = {}, {}
    for key in source:
        values = source.getlist(key)
        # A browser form with no file chosen sends one empty, nameless part: not a file.
        values = [
            v for v in values if not (isinstance(v, FileStorage) and not v.filename and _empty(v))
        ]
        if not values:
            continue
        listed = isinstance(fields.get(key), ma.fields.List)
        if not listed and len(values) > 1 and key in fields:
            repeated[key] = ["must be sent once."]
        data[key] = values if listed else values[0]
    if repeated:
        raise ApiError(422, _sentence(repeated), fields=repeated)
    return data


def _empty(upload: FileStorage) -> bool:
    position = upload.stream.tell()
    empty = not upload.stream.read(1)
    upload.stream.seek(position)
    return empty


def _load(schema_cls, data) -> dict:
    try:
        return schema_cls().load(data)
    except ma.ValidationError as exc:
        raise ApiError(422, _sentence(exc.messages), fields=_flat(exc.messages)) from None


def _load_body(op: Operation) -> dict:
    media = request.mimetype
    schema_cls = op.body.get(media) or op.compatible.get(media, (None,))[0]
    if schema_cls is None:
        accepted = " or ".join(op.body)
        raise ApiError(415, f"Send the body as {accepted}.")
    if media == "application/json":
        try:
            data = request.get_json()
        except BadRequest:
            raise ApiError(400, BAD_JSON[1]) from None
        if not isinstance(data, dict):
            raise ApiError(422, 'The JSON body must be an object, such as {"name": "..."}.')
        return _load(schema_cls, data)
    form = MultiDict(request.form)
    for key, upload in request.files.items(multi=True):
        form.add(key, upload)
    return _load(schema_cls, _multi(schema_cls, form))


# marshmallow's own messages, worded like ours: each follows the field's name.
_WORDING = {
    "Missing data for required field.": "is required.",
    "Unknown field.": "is not a field of this request.",
    "Field may not be null.": "must not be null.",
    "Not a valid string.": "must be text.",
    "Not a valid integer.": "must be a whole number.",
    "Not a valid number.": "must be a number.",
    "Not a valid boolean.": "must be true or false.",
    "Not a valid list.": "must be a list.",
    "Special numeric values (nan or infinity) are not permitted.": "must be a finite number.",
    "Invalid input type.": "must be a JSON object.",
}


def _flat(messages, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as {"field" or "field.0": [message, ...]}."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            flat.update(_flat(value, name))
    else:
        items = messages if isinstance(messages, list) else [messages]
        flat[prefix or "body"] = [_WORDING.get(str(item), str(item)) for item in items]
    return flat


def _sentence(messages) -> str:
    parts = []
    for name, texts in _flat(messages).items():
        text = " ".join(texts)
        parts.append(f"The body {text}" if name in ("_schema", "body") else f"“{name}” {text}")
    return " ".join(parts)


# ---- routes -----------------------------------------------------------------------------------


def undeclared_routes(app) -> list[str]:
    """API routes whose view has no ``@operation``: each fails a test."""
    return [
        f"{sorted(rule.methods - {'HEAD', 'OPTIONS'})} {rule.rule}"
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        and not hasattr(app.view_functions[rule.endpoint], "api_operation")
    ]


def declared(app):
    """(rule, method, Operation) for every declared API route and method, in path order."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (openapi_path(r.rule), r.endpoint)):
        op = getattr(app.view_functions.get(rule.endpoint), "api_operation", None)
        if rule.rule.startswith("/api/") and op is not None:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method.lower(), op


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", rule)
