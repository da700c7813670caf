"""WSGI entry point for gunicorn: ``gunicorn wsgi:app``."""

from facerec import camera, create_app
from facerec.instance import announce_setup

app = create_app()
announce_setup(app)  # while no account exists: the setup code, in the server's log
# The server watches with every camera from the start, viewer or not (FACEREC_AUTOSTART).
camera.registry(app).watch()
