"""The OpenAPI 3 description of /api/v1: served at /api/v1/openapi.json, rendered at /api/v1/docs.

Written by hand as a dict: the views in ``routes.py`` and ``users.py`` implement exactly what is
described here, and ``tests/test_openapi.py`` checks one against the other (schemathesis).
"""

from __future__ import annotations

import copy

from ..models import NAME_MAX
from ..people import DETAILS_MAX
from .inputs import ID_MAX, IMAGES_MAX, PAGE_MAX, PER_PAGE_DEFAULT, PER_PAGE_MAX, QUERY_MAX


def _schema(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _response(name: str) -> dict:
    return {"$ref": f"#/components/responses/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    names = {
        400: "BadRequest",
        401: "Unauthorized",
        404: "NotFound",
        409: "Conflict",
        413: "PayloadTooLarge",
        415: "UnsupportedMediaType",
        422: "Unprocessable",
        503: "EngineUnavailable",
    }
    return {str(code): _response(names[code]) for code in codes}


TIMESTAMP = {
    "type": "string",
    "format": "date-time",
    "description": "UTC, ISO 8601 with a trailing Z.",
    "example": "2025-01-31T09:30:00Z",
}
BOX = {
    "type": "array",
    "items": {"type": "integer", "minimum": 0},
    "minItems": 4,
    "maxItems": 4,
    "description": "The face's box in image pixels: [top, right, bottom, left].",
    "example": [68, 497, 175, 390],
}
IMAGE_FILE = {
    "type": "string",
    "format": "binary",
    "description": "A photo: JPEG, PNG, WebP, BMP, GIF or TIFF (EXIF rotation is applied).",
}
NAME = {
    "type": "string",
    "minLength": 1,
    "maxLength": NAME_MAX,
    "description": (
        f"Trimmed, inner white space folded; 1 to {NAME_MAX} characters; "
        "unique without regard to case."
    ),
    "example": "Ada Lovelace",
}
DETAILS = {
    "type": "string",
    "maxLength": DETAILS_MAX,
    "description": f"Free text shown to operators, at most {DETAILS_MAX} characters.",
    "example": "Visitor badge 12",
}

SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "string",
                "description": "What went wrong, written for a person.",
                "example": "No face was found.",
            }
        },
    },
    "RecognizedFace": {
        "type": "object",
        "required": ["box", "user_id", "name", "distance"],
        "properties": {
            "box": BOX,
            "user_id": {
                "type": "integer",
                "nullable": True,
                "description": "The person's id, or null when the face matches nobody.",
            },
            "name": {
                "type": "string",
                "nullable": True,
                "description": "The person's name, or null when the face matches nobody.",
            },
            "distance": {
                "type": "number",
                "nullable": True,
                "minimum": 0,
                "description": (
                    "Euclidean distance to the nearest enrolled sample (lower is closer); "
                    "null when nobody is enrolled. The face is known when it is at most the "
                    "tolerance."
                ),
            },
        },
    },
    "Recognition": {
        "type": "object",
        "required": ["faces"],
        "properties": {
            "faces": {
                "type": "array",
                "items": _schema("RecognizedFace"),
                "description": "Every face found, largest first; empty when the photo has none.",
            }
        },
    },
    "Sample": {
        "type": "object",
        "required": ["id", "user_id", "source", "created_at"],
        "properties": {
            "id": {"type": "integer"},
            "user_id": {"type": "integer"},
            "source": {
                "type": "string",
                "description": "Where it came from: api, upload, camera, import, ...",
                "example": "api",
            },
            "created_at": TIMESTAMP,
        },
    },
    "User": {
        "type": "object",
        "description": "An enrolled person (not a login account).",
        "required": ["id", "name", "details", "samples", "created_at", "updated_at"],
        "properties": {
            "id": {"type": "integer", "example": 7},
            "name": {"type": "string", "example": "Ada Lovelace"},
            "details": {"type": "string", "example": "Visitor badge 12"},
            "samples": {
                "type": "array",
                "items": _schema("Sample"),
                "description": "The person's face samples, oldest first.",
            },
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
        },
    },
    "UserList": {
        "type": "object",
        "required": ["users", "total", "page", "per_page"],
        "properties": {
            "users": {"type": "array", "items": _schema("User")},
            "total": {
                "type": "integer",
                "minimum": 0,
                "description": "People matching the filter, over all pages.",
            },
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1, "maximum": PER_PAGE_MAX},
        },
    },
    "UserCreate": {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {"name": NAME, "details": DETAILS},
    },
    "UserCreateForm": {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": NAME,
            "details": DETAILS,
            "images": {
                "type": "array",
                "maxItems": IMAGES_MAX,
                "items": IMAGE_FILE,
                "description": (
                    "Optional photos (repeat the field), each with exactly one usable face. "
                    "If any photo is refused, nobody is created."
                ),
            },
        },
    },
    "UserUpdate": {
        "type": "object",
        "additionalProperties": False,
        "description": "Only the fields sent are changed.",
        "properties": {"name": NAME, "details": DETAILS},
    },
    "StreamFace": {
        "type": "object",
        "required": ["box", "user_id", "name", "distance"],
        "properties": {
            "box": {**BOX, "description": "[top, right, bottom, left] in frame pixels."},
            "user_id": {"type": "integer", "nullable": True},
            "name": {"type": "string", "nullable": True},
            "distance": {"type": "number", "nullable": True},
        },
    },
    "StreamStatus": {
        "type": "object",
        "required": [
            "camera",
            "running",
            "state",
            "error",
            "source",
            "fps",
            "source_fps",
            "recognition_hz",
            "frame_index",
            "viewers",
            "faces",
        ],
        "properties": {
            "camera": {"type": "string", "description": "The camera's name.", "example": "main"},
            "running": {"type": "boolean"},
            "state": {
                "type": "string",
                "enum": ["stopped", "starting", "running", "unavailable"],
            },
            "error": {
                "type": "string",
                "nullable": True,
                "description": "Why the camera is unavailable (it is retried meanwhile).",
            },
            "source": {
                "type": "string",
                "description": "The configured camera, with any URL password hidden.",
            },
            "fps": {"type": "number", "description": "Frames published per second."},
            "source_fps": {"type": "number", "description": "The source's own frame rate."},
            "recognition_hz": {
                "type": "number",
                "description": "Recognition results per second.",
            },
            "recognition_skipped": {
                "type": "integer",
                "minimum": 0,
                "description": "Frames recognition skipped while busy (dropped, never queued).",
            },
            "frame_index": {
                "type": "integer",
                "nullable": True,
                "description": "The source frame the faces were found in.",
            },
            "viewers": {"type": "integer", "minimum": 0},
            "faces": {"type": "array", "items": _schema("StreamFace")},
        },
    },
    "CameraSummary": {
        "type": "object",
        "required": [
            "name",
            "enabled",
            "state",
            "running",
            "source",
            "fps",
            "recognition_hz",
            "viewers",
            "error",
        ],
        "properties": {
            "name": {"type": "string", "example": "front-door"},
            "enabled": {"type": "boolean", "description": "A disabled camera is never opened."},
            "state": {
                "type": "string",
                "enum": ["stopped", "starting", "running", "unavailable", "disabled"],
            },
            "running": {"type": "boolean"},
            "source": {
                "type": "string",
                "description": "The source with any credentials in it hidden.",
            },
            "fps": {"type": "number", "description": "Frames published per second."},
            "recognition_hz": {"type": "number", "description": "Recognition results per second."},
            "viewers": {"type": "integer", "minimum": 0},
            "error": {
                "type": "string",
                "nullable": True,
                "description": "Why the camera is unavailable (it is retried meanwhile).",
            },
        },
    },
    "CameraList": {
        "type": "object",
        "required": ["cameras"],
        "properties": {
            "cameras": {
                "type": "array",
                "items": _schema("CameraSummary"),
                "description": (
                    "Every camera, the first (default) one first: the one /stream.mjpg and "
                    "/api/v1/stream/* show."
                ),
            }
        },
    },
}


def _error_response(description: str, example: str) -> dict:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": _schema("Error"), "example": {"error": example}}
        },
    }


RESPONSES = {
    "BadRequest": _error_response(
        "Bad input: the body is not valid JSON, the file is not an image, a photo has no face "
        "or several faces where one is required, or (signed-in browser sessions only) the "
        "X-CSRFToken header is missing.",
        "The file is not an image in a format facerec reads.",
    ),
    "Unauthorized": _error_response(
        "No credentials, or a bad or revoked token.", "Authentication required."
    ),
    "NotFound": _error_response(
        "No person with this id, or no enabled camera with this name.", "No person with id 42."
    ),
    "Conflict": _error_response(
        "Another person already has this name (names are compared without regard to case).",
        "A person named “Ada Lovelace” already exists.",
    ),
    "PayloadTooLarge": _error_response(
        "The request body is over MAX_CONTENT_LENGTH (10 MB by default).",
        "The request is too large: the limit is 10 MB.",
    ),
    "UnsupportedMediaType": _error_response(
        "The body is not in one of the accepted media types.",
        "Send application/json or multipart/form-data.",
    ),
    "Unprocessable": _error_response(
        "A value breaks a rule: an empty or too long name, a tolerance outside 0..1, "
        "a paging value out of range, a field of the wrong JSON type, an unknown field.",
        "A name is required.",
    ),
    "EngineUnavailable": _error_response(
        "The face engine did not answer in time; try again.",
        "The face engine is busy; try again.",
    ),
}

USER_ID = {
    "name": "user_id",
    "in": "path",
    "required": True,
    "description": "The person's id.",
    "schema": {"type": "integer", "format": "int32", "minimum": 1, "maximum": ID_MAX},
}

CAMERA_NAME = {
    "name": "name",
    "in": "path",
    "required": True,
    "description": "The camera's name (GET /api/v1/cameras lists them).",
    "schema": {"type": "string", "minLength": 1, "maxLength": 64, "example": "front-door"},
}


def _multipart(schema: dict) -> dict:
    return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}


PATHS = {
    "/api/v1/recognize": {
        "post": {
            "operationId": "recognize",
            "tags": ["Recognition"],
            "summary": "Who is in this photo?",
            "description": (
                "Finds every face of the photo and matches each against the enrolled people. "
                "The photo is encoded in the face engine's worker processes, never in the web "
                "process, so API load does not slow the live stream down. A photo with no face "
                "gives an empty list."
            ),
            "requestBody": _multipart(
                {
                    "type": "object",
                    "required": ["image"],
                    "properties": {
                        "image": IMAGE_FILE,
                        "tolerance": {
                            "type": "number",
                            "minimum": 0,
                            "maximum": 1,
                            "description": (
                                "Match threshold on the distance (lower is stricter); "
                                "FACEREC_TOLERANCE (0.6) when absent."
                            ),
                        },
                    },
                }
            ),
            "responses": {
                "200": _json(_schema("Recognition"), "The faces found."),
                **_errors(400, 401, 413, 422, 503),
            },
        }
    },
    "/api/v1/users": {
        "get": {
            "operationId": "listUsers",
            "tags": ["People"],
            "summary": "List people",
            "description": "People in name order, a page at a time, optionally filtered by name.",
            "parameters": [
                {
                    "name": "page",
                    "in": "query",
                    "description": "Page number, from 1.",
                    "schema": {"type": "integer", "minimum": 1, "maximum": PAGE_MAX, "default": 1},
                },
                {
                    "name": "per_page",
                    "in": "query",
                    "description": "People per page.",
                    "schema": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": PER_PAGE_MAX,
                        "default": PER_PAGE_DEFAULT,
                    },
                },
                {
                    "name": "q",
                    "in": "query",
                    "description": "Only people whose name contains this text (any case).",
                    "schema": {"type": "string", "maxLength": QUERY_MAX},
                },
            ],
            "responses": {
                "200": _json(_schema("UserList"), "One page of people."),
                **_errors(401, 422),
            },
        },
        "post": {
            "operationId": "createUser",
            "tags": ["People"],
            "summary": "Add a person",
            "description": (
                "JSON with a name and details, or multipart/form-data with the same fields and "
                "optionally photos in `images`. Every photo must hold exactly one usable face "
                "(big enough, sharp); if one is refused nothing is created and the error names "
                "the file."
            ),
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": _schema("UserCreate")},
                    "multipart/form-data": {"schema": _schema("UserCreateForm")},
                },
            },
            "responses": {
                "201": {
                    **_json(_schema("User"), "The person was created."),
                    "headers": {
                        "Location": {
                            "description": "The new person's URL.",
                            "schema": {"type": "string"},
                        }
                    },
                },
                **_errors(400, 401, 409, 413, 415, 422, 503),
            },
        },
    },
    "/api/v1/users/{user_id}": {
        "parameters": [USER_ID],
        "get": {
            "operationId": "getUser",
            "tags": ["People"],
            "summary": "One person",
            "responses": {
                "200": _json(_schema("User"), "The person."),
                **_errors(401, 404),
            },
        },
        "patch": {
            "operationId": "updateUser",
            "tags": ["People"],
            "summary": "Change a person's name or details",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _schema("UserUpdate")}},
            },
            "responses": {
                "200": _json(_schema("User"), "The person, changed."),
                **_errors(400, 401, 404, 409, 413, 415, 422),
            },
        },
        "delete": {
            "operationId": "deleteUser",
            "tags": ["People"],
            "summary": "Delete a person and their samples",
            "responses": {
                "204": {"description": "Deleted; the live stream stops recognising them."},
                **_errors(400, 401, 404),
            },
        },
    },
    "/api/v1/users/{user_id}/samples": {
        "parameters": [USER_ID],
        "post": {
            "operationId": "addSample",
            "tags": ["People"],
            "summary": "Add a face sample from a photo",
            "description": (
                "The photo must hold exactly one usable face (big enough, sharp). 409 when it "
                "is the same photo as one of the person's samples, almost the same face, or a "
                "face closer to someone else enrolled."
            ),
            "requestBody": _multipart(
                {"type": "object", "required": ["image"], "properties": {"image": IMAGE_FILE}}
            ),
            "responses": {
                "201": _json(_schema("Sample"), "The sample was added."),
                **_errors(400, 401, 404, 409, 413, 503),
            },
        },
    },
    "/api/v1/stream/status": {
        "get": {
            "operationId": "streamStatus",
            "tags": ["Stream"],
            "summary": "The camera's state and who is in view",
            "responses": {
                "200": _json(_schema("StreamStatus"), "The camera's state."),
                **_errors(401),
            },
        }
    },
    "/api/v1/stream/start": {
        "post": {
            "operationId": "streamStart",
            "tags": ["Stream"],
            "summary": "Start the camera (no change when running)",
            "description": "A camera that cannot be opened is retried; see `state` and `error`.",
            "responses": {
                "200": _json(_schema("StreamStatus"), "The camera's state after the call."),
                **_errors(400, 401),
            },
        }
    },
    "/api/v1/stream/stop": {
        "post": {
            "operationId": "streamStop",
            "tags": ["Stream"],
            "summary": "Stop the camera and release the device",
            "responses": {
                "200": _json(_schema("StreamStatus"), "The camera's state after the call."),
                **_errors(400, 401),
            },
        }
    },
    "/api/v1/cameras": {
        "get": {
            "operationId": "listCameras",
            "tags": ["Cameras"],
            "summary": "Every camera and its state",
            "responses": {
                "200": _json(_schema("CameraList"), "The cameras."),
                **_errors(401),
            },
        }
    },
    "/api/v1/cameras/{name}/status": {
        "parameters": [CAMERA_NAME],
        "get": {
            "operationId": "cameraStatus",
            "tags": ["Cameras"],
            "summary": "One camera's state and who is in view",
            "responses": {
                "200": _json(_schema("StreamStatus"), "The camera's state."),
                **_errors(401, 404),
            },
        },
    },
    "/api/v1/cameras/{name}/start": {
        "parameters": [CAMERA_NAME],
        "post": {
            "operationId": "cameraStart",
            "tags": ["Cameras"],
            "summary": "Start one camera (no change when running)",
            "description": "A camera that cannot be opened is retried; see `state` and `error`.",
            "responses": {
                "200": _json(_schema("StreamStatus"), "The camera's state after the call."),
                **_errors(400, 401, 404),
            },
        },
    },
    "/api/v1/cameras/{name}/stop": {
        "parameters": [CAMERA_NAME],
        "post": {
            "operationId": "cameraStop",
            "tags": ["Cameras"],
            "summary": "Stop one camera and release its device",
            "responses": {
                "200": _json(_schema("StreamStatus"), "The camera's state after the call."),
                **_errors(400, 401, 404),
            },
        },
    },
    "/api/v1/openapi.json": {
        "get": {
            "operationId": "openapi",
            "tags": ["Documentation"],
            "summary": "This document",
            "responses": {
                "200": _json({"type": "object"}, "The OpenAPI 3 document."),
                **_errors(401),
            },
        }
    },
    "/api/v1/docs": {
        "get": {
            "operationId": "docs",
            "tags": ["Documentation"],
            "summary": "This document as a web page",
            "responses": {
                "200": {
                    "description": "An HTML page.",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                },
                **_errors(401),
            },
        }
    },
}

DESCRIPTION = f"""\
Recognise faces in photos, manage the enrolled people and control the camera of a facerec server.

**Authentication.** Send `Authorization: Bearer <token>` with a token made by
`flask tokens create NAME` (or on the admin pages). A signed-in browser session works too; its
POST, PATCH and DELETE requests must carry the page's CSRF token in `X-CSRFToken`.

**Errors** are JSON `{{"error": "..."}}` with a 4xx status: 400 bad input, 401 no or bad token,
404 unknown id, 409 duplicate name, 413 body over the limit (10 MB by default), 415 wrong
media type, 422 a value that breaks a rule. 503 means the face engine did not answer in time.

**Limits.** Names: 1 to {NAME_MAX} characters, unique without regard to case. Details: at most
{DETAILS_MAX} characters. Pages: at most {PER_PAGE_MAX} people. Photos: at most 40 megapixels.
"""

SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "facerec API", "version": "1.0.0", "description": DESCRIPTION},
    "tags": [
        {"name": "Recognition", "description": "Who is in a photo."},
        {"name": "People", "description": "The enrolled people and their face samples."},
        {"name": "Stream", "description": "The first camera and its live recognition."},
        {"name": "Cameras", "description": "Every camera, one at a time by name."},
        {"name": "Documentation", "description": "This description of the API."},
    ],
    "security": [{"bearerAuth": []}, {"session": []}],
    "paths": PATHS,
    "components": {
        "securitySchemes": {
            "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API token (`flask tokens create NAME`).",
            },
            "session": {
                "type": "apiKey",
                "in": "cookie",
                "name": "session",
                "description": "A signed-in browser session (unsafe methods need X-CSRFToken).",
            },
        },
        "schemas": SCHEMAS,
        "responses": RESPONSES,
    },
}


from . import openapi_unknowns  # noqa: E402  (it builds on the helpers above)

PATHS.update(openapi_unknowns.PATHS)
SCHEMAS.update(openapi_unknowns.SCHEMAS)
SPEC["tags"].extend(openapi_unknowns.TAGS)


def spec(max_content_length: int | None = None) -> dict:
    """A copy of the document, with the body limit this server actually enforces."""
    document = copy.deepcopy(SPEC)
    if max_content_length:
        limit = f"{max_content_length / 1024 / 1024:g} MB"
        document["components"]["responses"]["PayloadTooLarge"]["description"] = (
            f"The request body is over MAX_CONTENT_LENGTH ({limit} on this server)."
        )
    return document
