"""Command-line interface: ``flask users ...``, ``flask accounts ...``, ``flask tokens ...``."""

import click
from flask.cli import AppGroup

users = AppGroup("users", help="Manage enrolled people.")
accounts = AppGroup("accounts", help="Manage sign-in accounts.")
tokens = AppGroup("tokens", help="Manage API tokens.")


def init_app(app):
    for group in (users, accounts, tokens):
        app.cli.add_command(group)


__all__ = ["click", "init_app"]
