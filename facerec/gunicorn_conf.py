"""gunicorn's hooks for facerec: ``gunicorn -c python:facerec.gunicorn_conf ... wsgi:app``.

``make run`` uses it (and so do the tests and benchmarks that start gunicorn): each worker
arms Linux's parent-death signal as soon as it is forked, so that no worker, and so none of
its children, outlives the master (``lifetime.exit_with_master``).
"""

from facerec.lifetime import exit_with_master


def post_fork(server, worker):
    """In the new worker: end with the master, even when the master is killed with -9."""
    exit_with_master(server.pid)
