from flask import Blueprint

from ..auth.guard import require_login

bp = Blueprint("enroll", __name__)
bp.before_request(require_login)
