"""Sign-in accounts (Flask-Login)."""

from flask import Blueprint

from ..extensions import db, login_manager
from ..models import Account

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_account(account_id: str):
    try:
        return db.session.get(Account, int(account_id))
    except (TypeError, ValueError):
        return None
