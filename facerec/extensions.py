"""Flask extensions, created unbound and bound to the app in create_app()."""

from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

# Named constraints make Alembic migrations (batch mode on SQLite) deterministic.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)
csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to continue."
login_manager.login_message_category = "info"


def init_migrations(app):
    """Flask-Migrate on ``app``: the ``db`` commands, and what migrations/env.py reads.

    Imported here, when an app needs it: Flask-Migrate imports Alembic (0.1 s of CPU), which
    a command such as ``accounts list`` never uses (see ``cli.FacerecGroup``).
    """
    from flask_migrate import Migrate

    Migrate(app, db, render_as_batch=True)


# Here, with the database, not with the pages: every app needs them, a command line's too.
@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """WAL lets the recognition worker read while the web process writes; FKs cascade."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()  # the busy timeout is sqlite3's ``timeout`` (FACEREC_DB_BUSY_TIMEOUT)
