"""A locked database: reads answer, writes get 503 "busy" with Retry-After, nothing half done."""

import sqlite3
import threading
import time

from facerec.extensions import db
from facerec.models import Account, ApiToken, FaceSample, User

from .conftest import TEST_PASSWORD, create_account, login_client
from .test_auth import add_token, bearer

TOKEN = "frec_busy-database-test-000000000"


class ExclusiveLock:
    """A second connection keeping every other writer out for ``seconds``.

    SQLite: its database-wide write lock (BEGIN EXCLUSIVE; readers go on, as in WAL mode).
    PostgreSQL: the tables locked IN EXCLUSIVE MODE (reads allowed, every write waits).
    """

    TABLES = ("users", "face_samples", "accounts", "api_tokens")

    def __init__(self, url: str, seconds=10.0):
        if url.startswith("sqlite"):
            self.connection = sqlite3.connect(
                url.removeprefix("sqlite:///"), check_same_thread=False, isolation_level=None
            )
            self.connection.execute("BEGIN EXCLUSIVE")
        else:
            import psycopg

            self.connection = psycopg.connect(url.replace("+psycopg", ""))
            self.connection.execute(f"LOCK TABLE {', '.join(self.TABLES)} IN EXCLUSIVE MODE")
        self.thread = threading.Timer(seconds, self.release)
        self.thread.start()

    def release(self):
        if self.connection is not None:
            self.connection.execute("COMMIT")
            self.connection.close()
            self.connection = None

    def end(self):
        """Release now (the timer only bounds how long a failing test keeps the lock)."""
        self.thread.cancel()
        self.thread.join()
        self.release()


def counts(app):
    with app.app_context():
        return {
            model.__name__: db.session.scalar(db.select(db.func.count()).select_from(model))
            for model in (User, FaceSample, Account)
        }


def test_does_a_locked_database_answer_reads_and_refuse_writes_with_503(app_factory, tmp_path):
    app = app_factory(FACEREC_DB_BUSY_TIMEOUT=0.5)
    account_id = create_account(app)
    token_id = add_token(app, TOKEN, account_id=account_id)  # last_used_at is due
    operator = login_client(app, app.test_client())
    assert operator.post("/api/v1/users", json={"name": "Ada"}).status_code == 201
    before = counts(app)

    lock = ExclusiveLock(app.config["SQLALCHEMY_DATABASE_URI"], seconds=10)
    try:
        # A read-only API GET with a token whose last_used_at write is due: answered at once.
        started = time.monotonic()
        read = app.test_client().get("/api/v1/users", headers=bearer(TOKEN))
        read.close()  # the bookkeeping runs (and is skipped) here, after the answer
        assert read.status_code == 200
        assert [u["name"] for u in read.get_json()["users"]] == ["Ada"]
        assert time.monotonic() - started < 3

        # A write through the API: 503, JSON, Retry-After.
        created = operator.post("/api/v1/users", json={"name": "Grace", "details": "x"})
        assert created.status_code == 503
        assert int(created.headers["Retry-After"]) > 0
        assert "busy" in created.get_json()["error"]

        # A write through a page: a 503 page that says so, not an empty 500.
        with app.app_context():
            ada = db.session.scalar(db.select(User.id).filter_by(name="Ada"))
        page = operator.post(f"/admin/users/{ada}/delete", headers={"Accept": "text/html"})
        assert page.status_code == 503
        assert int(page.headers["Retry-After"]) > 0
        html = page.get_data(as_text=True)
        assert "database is busy" in html and "<html" in html.lower()

        # Signing in needs no write: the right password still opens a session.
        visitor = app.test_client()
        signed_in = visitor.post("/login", data={"username": "tester", "password": TEST_PASSWORD})
        signed_in.close()
        assert signed_in.status_code == 302
        assert visitor.get("/admin/users").status_code == 200
        assert lock.connection is not None, "the lock must still be held for the checks above"
    finally:
        lock.end()

    # Afterwards: nothing half written, and everything works again.
    assert counts(app) == before
    with app.app_context():
        assert db.session.get(ApiToken, token_id) is not None
    assert operator.post("/api/v1/users", json={"name": "Grace"}).status_code == 201
    names = sorted(u["name"] for u in operator.get("/api/v1/users").get_json()["users"])
    assert names == ["Ada", "Grace"]
