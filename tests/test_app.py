"""The application factory, configuration and migrations."""

import logging

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect

from facerec import create_app
from facerec.extensions import db


def _schema_differences(url):
    """What alembic's autogenerate finds between the database at ``url`` and the models."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            return tables, compare_metadata(context, db.metadata)
    finally:
        engine.dispose()


def test_does_flask_db_upgrade_on_an_empty_database_create_a_schema_matching_the_models(
    empty_database_url,
):
    """Every migration, everyone's new ones too, on SQLite and on PostgreSQL."""
    url = empty_database_url
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url})
    try:
        with app.app_context():
            upgrade(directory="migrations")
            tables, diff = _schema_differences(url)
            db.engine.dispose()
    finally:
        app.extensions["cameras"].close()
    assert {"users", "face_samples", "accounts", "api_tokens", "gallery_state"} <= tables
    assert diff == []


@pytest.mark.sqlite_only  # about logging, not the database
def test_do_migrations_in_a_running_process_leave_its_logging_alone(empty_database_url, caplog):
    """A server restoring a backup migrates it in-process: its loggers (Apprise's, whose
    lines say why a notification URL is refused) and handlers stay as they were."""
    heard = logging.getLogger("apprise")
    handlers = list(logging.getLogger().handlers)
    app = create_app(
        {"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": empty_database_url}
    )
    try:
        with app.app_context():
            upgrade(directory="migrations")
            db.engine.dispose()
    finally:
        app.extensions["cameras"].close()
    assert logging.getLogger().handlers == handlers
    with caplog.at_level(logging.WARNING, logger="apprise"):
        heard.warning("Invalid ~From~ email specified")
    assert "Invalid ~From~ email specified" in caplog.text


def test_do_the_migrations_go_down_to_nothing_and_up_again(empty_database_url):
    url = empty_database_url
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url})
    try:
        with app.app_context():
            upgrade(directory="migrations")
            downgrade(directory="migrations", revision="base")
            left, _ = _schema_differences(url)
            upgrade(directory="migrations")
            tables, diff = _schema_differences(url)
            db.engine.dispose()
    finally:
        app.extensions["cameras"].close()
    assert left <= {"alembic_version"}
    assert "users" in tables
    assert diff == []


def test_is_a_secret_key_generated_into_the_instance_folder_on_first_run(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'k.db'}"})
    app.instance_path  # noqa: B018
    app.extensions["cameras"].close()
    # The instance folder of the package is used; the key is long and random, never a default.
    key = app.config["SECRET_KEY"]
    assert isinstance(key, str) and len(key) >= 32
    again = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'k.db'}"})
    again.extensions["cameras"].close()
    assert again.config["SECRET_KEY"] == key


def test_does_every_response_carry_the_security_headers(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_do_the_migrations_form_one_chain_with_unique_numbers():
    """Two branches landing the same number (or two heads) would break `flask db upgrade`."""
    import ast
    from pathlib import Path

    found = {}
    for path in sorted(Path(__file__).parent.parent.glob("migrations/versions/*.py")):
        values = {
            node.targets[0].id: node.value.value
            for node in ast.parse(path.read_text()).body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            if isinstance(node.targets[0], ast.Name)
        }
        assert values["revision"] not in found, f"{path.name} reuses {values['revision']}"
        assert path.name.startswith(values["revision"] + "_"), path.name
        found[values["revision"]] = values["down_revision"]
    parents = list(found.values())
    assert sorted(parents, key=str) == sorted([None, *list(found)[:-1]], key=str)
    assert len(set(parents)) == len(parents), "two migrations follow the same one"


def test_does_the_never_reused_ids_migration_keep_every_row_and_its_children(empty_database_url):
    """Rebuilding a table (SQLite's AUTOINCREMENT) must not fire its keys' ON DELETE actions:
    a person's samples and sightings are all there afterwards."""
    from sqlalchemy import text

    url = empty_database_url
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url})
    try:
        with app.app_context():
            upgrade(directory="migrations", revision="0014")
            with db.engine.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO users (id, name, name_key, details, created_at, updated_at,"
                        " external_key) VALUES (5, 'Ada', 'ada', '', '2026-01-01', '2026-01-01',"
                        " 'k5')"
                    )
                )
                conn.execute(
                    text(
                        "INSERT INTO face_samples (id, user_id, encoding, thumbnail, source,"
                        " created_at) VALUES (9, 5, :blob, :blob, 'test', '2026-01-01')"
                    ),
                    {"blob": b"\0" * 1024},
                )
                conn.execute(
                    text(
                        "INSERT INTO sightings (id, camera, user_id, name, started_at, frames)"
                        " VALUES (12, 'main', 5, 'Ada', '2026-01-01', 3)"
                    )
                )
            upgrade(directory="migrations")
            with db.engine.begin() as conn:
                counts = [
                    conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()
                    for table in ("users", "face_samples", "sightings")
                ]
                if db.engine.dialect.name == "sqlite":
                    sql = conn.execute(
                        text("SELECT sql FROM sqlite_master WHERE name = 'users'")
                    ).scalar()
                    assert "AUTOINCREMENT" in sql
            db.engine.dispose()
    finally:
        app.extensions["cameras"].close()
    assert counts == [1, 1, 1]
