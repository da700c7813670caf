"""API errors: every failure under /api/v1 is JSON ``{"error": "..."}`` with a 4xx status.

Views raise ``ApiError`` (or let a face engine / people exception through); the handlers below
turn them into responses. Plain HTTP errors (404 routes, 405, CSRF) are made JSON by
``facerec.web`` for every /api/ path.
"""

from __future__ import annotations

from flask import jsonify
from werkzeug.exceptions import RequestEntityTooLarge

from .. import faces, people
from ..config import current_settings
from ..engine import EngineBusy, EngineUnavailable
from ..extensions import db
from ..people import DuplicateName, PersonError
from ..unknowns.service import GroupResolved
from ..web import ENGINE_BUSY, RETRY_AFTER, engine_retry_after
from . import bp


class ApiError(Exception):
    """A refusal: ``{"error": message}`` (and ``fields`` for validation) with ``status``."""

    def __init__(self, status: int, message: str, fields: dict | None = None, headers=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields
        self.headers = dict(headers or {})


def get_or_404(model, row_id: int, noun: str):
    """The ``model`` row with this id, or a 404 that names what is missing."""
    row = db.session.get(model, row_id)
    if row is None:
        raise ApiError(404, f"No {noun} with id {row_id}.")
    return row


def _error(status: int, message: str, headers=None, **extra):
    response = jsonify(error=message, **extra)
    response.status_code = status
    if status in (429, 503):
        response.headers["Retry-After"] = str(RETRY_AFTER)
    response.headers.update(headers or {})
    return response


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    extra = {"fields": exc.fields} if exc.fields else {}
    return _error(exc.status, exc.message, exc.headers, **extra)


@bp.errorhandler(faces.ImageError)
@bp.errorhandler(faces.FaceRejected)
def _bad_image(exc: ValueError):
    return _error(400, faces.sentence(str(exc)))


@bp.errorhandler(DuplicateName)
def _duplicate_name(exc: DuplicateName):
    return _error(409, str(exc))


@bp.errorhandler(GroupResolved)
def _group_resolved(exc: GroupResolved):
    db.session.rollback()  # the group went to someone else meanwhile: keep nothing of this request
    return _error(409, str(exc))


@bp.errorhandler(PersonError)
def _invalid_person(exc: PersonError):
    # The rule's own sentence, under the field that broke it (PersonFields.clean()).
    fields = {people.api_field(name): [message] for name, message in exc.errors.items()}
    return _error(422, str(exc), **({"fields": fields} if fields else {}))


@bp.errorhandler(EngineBusy)
@bp.errorhandler(EngineUnavailable)
def _engine_unavailable(exc):
    return _error(503, ENGINE_BUSY, {"Retry-After": str(engine_retry_after(exc))})


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc):
    limit = current_settings().max_content_length
    if limit:
        return _error(413, f"The request is too large: the limit is {limit / 1024 / 1024:g} MB.")
    return _error(413, "The request is too large.")
