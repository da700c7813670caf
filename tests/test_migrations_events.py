"""Migrations of the events' data: people's external keys (MQTT topics, Home Assistant)."""

import re

from flask_migrate import upgrade
from sqlalchemy import text

from facerec import create_app, shutdown
from facerec.extensions import db
from facerec.models import User


def test_do_people_enrolled_before_0009_keep_their_home_assistant_id_and_new_ones_get_a_key(
    empty_database_url,
):
    """Before 0009 a person's unique_id was facerec_person_<id>: they keep it (key
    person_<id>); a person enrolled after gets a random key, and no two share one."""
    app = create_app(
        {"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": empty_database_url}
    )
    try:
        with app.app_context():
            upgrade(directory="migrations", revision="0008")
            for name in ("ana", "ben"):
                db.session.execute(
                    text(
                        "INSERT INTO users (name, name_key, details, created_at, updated_at) "
                        "VALUES (:n, :n, '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    ),
                    {"n": name},
                )
            db.session.commit()
            upgrade(directory="migrations")
            before = {
                name: (user_id, key)
                for user_id, name, key in db.session.execute(
                    text("SELECT id, name, external_key FROM users")
                )
            }
            assert {name: key for name, (_id, key) in before.items()} == {
                name: f"person_{user_id}" for name, (user_id, _key) in before.items()
            }
            newcomer = User(name="cy", details="")
            db.session.add(newcomer)
            db.session.commit()
            assert re.fullmatch(r"[0-9a-f]{16}", newcomer.external_key)
    finally:
        shutdown(app)  # threads first, then the connections (a pool disposed before
        # them gets back a connection nobody closes)
