"""WSGI entry point for gunicorn: ``gunicorn wsgi:app``."""

from facerec import create_app

app = create_app()
