"""What the API accepts: the limits on its inputs and the helpers that read and check them.

The views in ``routes.py`` and ``users.py`` read every request field through these helpers,
so a bad value gets the same 4xx message everywhere; the OpenAPI description takes its
numbers from here too.
"""

from __future__ import annotations

import math

from flask import current_app, request
from werkzeug.exceptions import BadRequest

from .errors import ApiError

PER_PAGE_MAX = 100
PER_PAGE_DEFAULT = 20
PAGE_MAX = 1_000_000
ID_MAX = 2**31 - 1  # ids are INTEGER columns (32 bits on PostgreSQL): larger ids cannot exist
QUERY_MAX = 100
IMAGES_MAX = 20

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
USER_FIELDS = ("name", "details")


def image_field(name: str = "image") -> bytes:
    """The bytes of the uploaded file in multipart field ``name`` (400 when missing)."""
    upload = request.files.get(name)
    if upload is None:
        raise ApiError(400, f"Send the photo as a file in the multipart field “{name}”.")
    return upload.read()


def parse_tolerance(raw: str | None) -> float:
    if raw is None or raw.strip() == "":
        return float(current_app.config["FACEREC_TOLERANCE"])
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise ApiError(422, "The tolerance must be a number from 0 to 1.")
    return value


def int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ApiError(422, f"“{name}” must be a whole number from {low} to {high}.")
    return value


def text(value, field: str) -> str:
    """A text field as sent: a string, storable as UTF-8, without NUL characters."""
    if not isinstance(value, str):
        raise ApiError(422, f"“{field}” must be a string.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(422, f"“{field}” is not valid Unicode text.") from None
    if "\x00" in value:
        raise ApiError(422, f"“{field}” must not contain NUL characters.")
    return value


def json_object() -> dict:
    """The JSON body as an object holding only known person fields."""
    if not request.is_json:
        raise ApiError(415, "Send the fields as JSON (Content-Type: application/json).")
    try:
        body = request.get_json()
    except BadRequest:
        raise ApiError(400, "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(422, 'The JSON body must be an object, such as {"name": "..."}.')
    unknown = sorted(set(body) - set(USER_FIELDS))
    if unknown:
        raise ApiError(422, f"Unknown field: {', '.join(unknown)}.")
    return body
