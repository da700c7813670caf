"""API errors: every failure under /api/v1 is JSON ``{"error": "..."}`` with a 4xx status.

Views raise ``ApiError`` (or let a face engine / people exception through); the handlers below
turn them into responses. Plain HTTP errors (404 routes, 405, CSRF) are made JSON by
``facerec.web`` for every /api/ path.
"""

from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool

from flask import current_app, jsonify
from werkzeug.exceptions import RequestEntityTooLarge

from .. import faces
from ..people import DuplicateName, PersonError
from . import bp


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, message: str):
    return jsonify(error=message), status


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return _error(exc.status, exc.message)


@bp.errorhandler(faces.ImageError)
@bp.errorhandler(faces.FaceRejected)
def _bad_image(exc: ValueError):
    return _error(400, faces.sentence(str(exc)))


@bp.errorhandler(DuplicateName)
def _duplicate_name(exc: DuplicateName):
    return _error(409, str(exc))


@bp.errorhandler(PersonError)
def _invalid_person(exc: PersonError):
    return _error(422, str(exc))


@bp.errorhandler(TimeoutError)
@bp.errorhandler(BrokenProcessPool)
def _engine_unavailable(_exc):
    return _error(503, "The face engine is busy or restarting; try again.")


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc):
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit:
        return _error(413, f"The request is too large: the limit is {limit / 1024 / 1024:g} MB.")
    return _error(413, "The request is too large.")
