"""facerec: a self-hosted face recognition service."""

import logging

from flask import Flask

from .config import configure


def create_app(config=None, instance_path=None, serving=True):
    """Application factory: load the configuration, bind extensions, register blueprints.

    ``instance_path``: another instance folder than the project's ``instance/`` (tests).
    ``serving=False``: the app of a command-line command that only works on the database and
    files (``facerec accounts list``, see ``cli.OFFLINE_COMMANDS``): without the pages, the
    cameras, the face engine, the sightings writer, the grouping of unknowns, event delivery
    and metrics, which it would never use. Importing and setting those up is most of the
    CPU such a command took to start (numpy, OpenCV, marshmallow, 113 URL rules compiled).
    """
    app = Flask(__name__, instance_relative_config=True, instance_path=instance_path)
    configure(app, config)
    if not app.debug and not app.testing:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

    from . import audit, cli, instance, models  # noqa: F401
    from .extensions import csrf, db, init_migrations, login_manager

    instance.init_app(app)  # before the database is first opened: the file is made private
    db.init_app(app)
    if serving:  # the command line sets them up for the commands that use them
        init_migrations(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    if serving:
        from . import camera, engine, sightings, unknowns

        engine.init_app(app)
        camera.init_app(app)
        sightings.init_app(app)
        audit.init_app(app)  # its pruning as the server runs
        unknowns.init_app(app)
    cli.init_app(app)
    if serving:
        _serve(app)
    return app


def _serve(app):
    """What an app that answers requests adds: pages, rate limits, event delivery, metrics."""
    from . import events, monitoring, ratelimits, web

    web.init_app(app)
    ratelimits.init_app(app)
    # Last: the event bus subscribes to whatever records sightings, metrics read everything.
    events.init_app(app)
    monitoring.init_app(app)

    from .admin import bp as admin_bp
    from .api import bp as api_bp
    from .auth import bp as auth_bp
    from .enroll import bp as enroll_bp
    from .history import bp as history_bp
    from .monitoring import bp as monitoring_bp
    from .search import bp as search_bp
    from .stream import bp as stream_bp
    from .unknowns import bp as unknowns_bp

    blueprints = (stream_bp, auth_bp, enroll_bp, admin_bp, history_bp, api_bp, monitoring_bp,
                  unknowns_bp, search_bp)  # fmt: skip
    for blueprint in blueprints:
        app.register_blueprint(blueprint)


def shutdown(app):
    """Stop what ``create_app`` started: cameras, workers, writer, event threads, connections.

    In that order, so that what the cameras saw last is written and sent before the database
    connections close. Used by the tests after each app; a server process ends it all anyway.
    """
    from .extensions import db

    app.extensions["cameras"].close()
    app.extensions["sightings"].close()  # writes what the cameras' last tracks left
    app.extensions["unknowns"].close()  # groups what the writer wrote last
    app.extensions["events"].close(timeout=2.0)
    app.extensions["write_check"].close()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
