"""WSGI entry point for gunicorn: ``gunicorn wsgi:app``."""

from facerec import camera, create_app

app = create_app()
# The server watches with every camera from the start, viewer or not (FACEREC_AUTOSTART).
camera.registry(app).watch()
