"""The instance folder and the database it holds: private files, the setup code, and
whether the database can still be written.

* Files only the server's user may read: the instance folder is created 0700, the SQLite
  database and instance/config.py 0600 (SQLite gives its -wal and -shm files the database
  file's mode). The database holds faces; the config holds the key that signs sessions.
* The first account: ``/setup`` asks for the **setup code**, a random code kept in
  ``instance/setup-code`` (0600) and printed in the server's log when it starts while no
  account exists. So a database that came up empty (an instance folder deleted by mistake,
  a database restored wrong) never hands the server to whoever reaches ``/setup`` first: only
  someone who can read the server's log or files can. The code is removed with the first
  account.
* Readiness (``database_problem``): the database file still exists and is the one the
  server opened (an instance folder deleted while running leaves the server writing into a
  file nobody will ever read), and a new connection can write to it.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
import secrets
import threading
import time
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from .config import current_settings

log = logging.getLogger(__name__)

SETUP_CODE_FILE = "setup-code"
WRITE_CHECK_EVERY = 2.0  # seconds a readiness answer about writing is reused


def private_file(path: Path) -> bool:
    """Create ``path`` empty, readable and writable by this user alone; False if it exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def sqlite_file(uri: str) -> Path | None:
    """The file of a SQLite database URL (None for another database or an in-memory one)."""
    url = make_url(uri)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    if str(url.database).startswith("file:"):
        return None  # a SQLite URI filename: the administrator's own arrangement
    return Path(url.database).expanduser().resolve()


class DatabaseFile:
    """The SQLite file the server opened: created 0600 if missing, and recognised later by
    its inode (the same path holding another file is not the same database)."""

    def __init__(self, path: Path):
        self.path = path
        if path.parent.is_dir() and private_file(path):
            log.info("created the database file %s (readable by this user only)", path)
        self.inode = self._inode()

    def _inode(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return stat.st_dev, stat.st_ino

    def problem(self) -> str | None:
        now = self._inode()
        if now is None:
            return "the database file is gone"
        if self.inode is None:
            self.inode = now  # created since the start (flask db upgrade on first run)
        elif now != self.inode:
            return "the database file was replaced by another"
        return None


class WriteCheck:
    """Can a new connection write to the database? (A pooled connection opened before the
    database became read-only could still pretend it can.) Answers are reused for a moment,
    so a readiness probe polled often costs one small write every few seconds."""

    def __init__(self, app):
        self.uri = current_settings(app).database_url
        self.server = current_settings(app).server or ""
        self.options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        self._engine = None
        self._lock = threading.Lock()
        self._checked = -float("inf")
        self._answer: str | None = None

    def _engine_for_checks(self):
        if self._engine is None:
            connect_args = self.options.get("connect_args") or {}
            self._engine = create_engine(self.uri, poolclass=NullPool, connect_args=connect_args)
        return self._engine

    def problem(self) -> str | None:
        with self._lock:
            if time.monotonic() - self._checked < WRITE_CHECK_EVERY:
                return self._answer
            self._answer = self._try_write()
            self._checked = time.monotonic()
            return self._answer

    def _try_write(self) -> str | None:
        from .models import UPSERT, WriteCheckRow

        try:
            with self._engine_for_checks().begin() as conn:
                stmt = UPSERT[conn.dialect.name](WriteCheckRow).values(
                    server=self.server, at=time.time()
                )
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[WriteCheckRow.server], set_={"at": time.time()}
                    )
                )
        except Exception as exc:  # any failure to write is the answer, never a 500
            log.warning("readiness: the database cannot be written: %s", exc.__class__.__name__)
            return "the database cannot be written"
        return None

    def close(self):
        if self._engine is not None:
            self._engine.dispose()


def init_app(app):
    """The database file's identity (SQLite) and the write check, for readiness."""
    path = sqlite_file(current_settings(app).database_url)
    app.extensions["database_file"] = DatabaseFile(path) if path is not None else None
    app.extensions["write_check"] = WriteCheck(app)


def database_problem(app) -> str | None:
    """Why the database cannot take this server's writes now, or None."""
    database_file = app.extensions.get("database_file")
    if database_file is not None and (reason := database_file.problem()):
        return reason
    return app.extensions["write_check"].problem()


# ---- the setup code -------------------------------------------------------------------------


def _setup_code_path(app) -> Path:
    return Path(app.instance_path) / SETUP_CODE_FILE


def setup_code(app) -> str:
    """The code /setup asks for while no account exists (made on first need, 0600)."""
    path = _setup_code_path(app)
    try:
        code = path.read_text().strip()
    except OSError:
        code = ""
    if code:
        return code
    code = "-".join(secrets.token_hex(3) for _ in range(4))  # 48 bits, easy to type
    if private_file(path):
        path.write_text(code + "\n")
        return code
    return path.read_text().strip()  # another process wrote it first


def setup_code_matches(app, typed: str | None) -> bool:
    expected = setup_code(app)
    return hmac.compare_digest((typed or "").strip().lower().encode(), expected.encode())


def forget_setup_code(app):
    """The first account exists: the code opens nothing any more."""
    with contextlib.suppress(FileNotFoundError):
        _setup_code_path(app).unlink()


def announce_setup(app):
    """At server start, while no account exists: print where and with what code to set up."""
    from .auth.accounts import any_account
    from .extensions import db

    try:
        with app.app_context():
            exists = any_account()
            db.session.remove()
    except Exception:  # no schema yet (flask db upgrade not run): the pages say so
        return
    if not exists:
        log.warning(
            "No account exists yet: open /setup in a browser and enter the setup code %s "
            "(also in %s, readable by this user only), or create one on the server with "
            "`.venv/bin/facerec accounts create NAME` in the facerec folder.",
            setup_code(app),
            _setup_code_path(app),
        )
