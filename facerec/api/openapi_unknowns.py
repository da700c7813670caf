"""The OpenAPI description of the unknown visitors, corrections, negatives and face search.

Merged into ``openapi.SPEC`` (paths, schemas and a tag) by ``openapi.py``.
"""

from __future__ import annotations

from .openapi import IMAGE_FILE, USER_ID, _errors, _json, _multipart, _schema

TAGS = [
    {
        "name": "Corrections",
        "description": (
            "Unknown visitors grouped by face, enrolling or assigning them, "
            "and teaching “this is not X” (negative samples)."
        ),
    },
]

SCHEMAS = {
    "Negative": {
        "type": "object",
        "required": ["id", "user_id"],
        "properties": {
            "id": {"type": "integer"},
            "user_id": {"type": "integer", "description": "The person this face is not."},
        },
    },
}

PATHS = {
    "/api/v1/users/{user_id}/negatives": {
        "parameters": [USER_ID],
        "post": {
            "operationId": "addNegative",
            "tags": ["Corrections"],
            "summary": "Say that a face is not this person (a negative sample)",
            "description": (
                "The photo must hold exactly one face (no size or sharpness minimum). From "
                "then on the person is refused for any face closer to one of their negatives "
                "than to their nearest sample; such a face goes to the next nearest person "
                "within the tolerance or stays unknown. The same photo or face again changes "
                "nothing (200 with the existing negative). 409 when the face is almost "
                "identical to one of the person's own samples."
            ),
            "requestBody": _multipart(
                {"type": "object", "required": ["image"], "properties": {"image": IMAGE_FILE}}
            ),
            "responses": {
                "201": _json(_schema("Negative"), "The negative sample was added."),
                "200": _json(_schema("Negative"), "This face was already a negative."),
                **_errors(400, 401, 404, 409, 413, 503),
            },
        },
    },
}
