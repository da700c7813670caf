"""The application factory, configuration and migrations."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine, inspect

from facerec import create_app
from facerec.extensions import db


def test_does_flask_db_upgrade_on_an_empty_database_create_a_schema_matching_the_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url})
    try:
        with app.app_context():
            upgrade(directory="migrations")
            engine = create_engine(url)
            with engine.connect() as conn:
                tables = set(inspect(conn).get_table_names())
                diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
            engine.dispose()
    finally:
        app.extensions["cameras"].close()
    assert {"users", "face_samples", "accounts", "api_tokens", "gallery_state"} <= tables
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
