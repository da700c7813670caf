"""Roles and audit benchmark: what the permission check adds to a request, and what the audit
entry adds to a change.

Prints JSON:
- ``permission_check_ms``: p50/p95 of the check every request passes (``roles.enforce``: the
  view's permission, the account's role, the token's scopes and cameras) for a signed-in
  operator and for a scoped token, once their account or token is loaded (which sign-in
  needed before roles existed too); target p50 < 1 ms. ``request_ms`` is a whole API request
  (GET /api/v1/cameras) for scale.
- ``audit_write_ms``: p50/p95 of a change (a person renamed and committed) with its audit
  entry, the same change with the automatic entries switched off, and the difference; target:
  the difference < 5 ms at p50. ``record_ms``: ``audit.record()`` plus its commit alone.

Runs on a temporary SQLite file (WAL, as ``make run``), or on ``--database URL`` (PostgreSQL).
``python bench/roles.py [--database postgresql+psycopg://...] [--rounds N]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import bench_app, database_url

CHECK_TARGET_MS = 1.0
AUDIT_TARGET_MS = 5.0


def percentiles(times: list[float]) -> dict:
    times = sorted(times)
    return {
        "p50": round(statistics.median(times), 4),
        "p95": round(times[max(0, int(len(times) * 0.95) - 1)], 4),
    }


def timed(action, rounds: int) -> list[float]:
    for _ in range(min(20, rounds)):
        action()  # warm caches and connections
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return times


def permission_check(app, rounds: int) -> dict:
    """``roles.enforce`` on a loaded principal: a session, then a scoped token."""
    from flask import g
    from flask_login import login_user

    from facerec.auth import roles
    from facerec.auth.accounts import create_token
    from facerec.extensions import db
    from facerec.models import Account

    with app.app_context():
        operator = Account(username="bench-operator", role="operator", password_hash="x")
        db.session.add(operator)
        db.session.flush()
        _row, token = create_token("bench", operator, scopes="read")
        db.session.commit()
        operator_id = operator.id

    results = {}
    headers = {"Authorization": f"Bearer {token}"}
    for name, request_headers in (("session", {}), ("token", headers)):
        with app.test_request_context("/api/v1/cameras", headers=request_headers):
            if not request_headers:
                login_user(db.session.get(Account, operator_id))

            def check():
                g.pop("_access", None)  # work the access out again, as each request does
                assert roles.enforce() is None

            results[name] = percentiles(timed(check, rounds))
    client = app.test_client()

    def request():
        response = client.get("/api/v1/cameras", headers=headers)
        assert response.status_code == 200, response.status_code

    results["request_ms"] = percentiles(timed(request, max(50, rounds // 20)))
    return results


def audit_write(app, rounds: int) -> dict:
    """A rename committed, with and without its automatic entry; record() alone."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from facerec import audit
    from facerec.audit import rows
    from facerec.extensions import db
    from facerec.models import User

    with app.app_context():
        person = User(name="Bench Person", details="")
        db.session.add(person)
        db.session.commit()
        counter = iter(range(10**9))

        def rename():
            person.name = f"Bench Person {next(counter)}"
            db.session.commit()

        with_entry = timed(rename, rounds)
        event.remove(Session, "after_flush", rows._record_rows)
        try:
            without_entry = timed(rename, rounds)
        finally:
            event.listen(Session, "after_flush", rows._record_rows)

        def record():
            audit.record("settings.changed", object_name="bench")
            db.session.commit()

        record_only = timed(record, rounds)
    return {
        "change_with_entry": percentiles(with_entry),
        "change_without_entry": percentiles(without_entry),
        "entry_adds_p50": round(
            statistics.median(with_entry) - statistics.median(without_entry), 4
        ),
        "record_ms": percentiles(record_only),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", help="a database URL (default: a temporary SQLite file)")
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        database = args.database or Path(folder) / "roles-bench.db"
        app = bench_app(database, FACEREC_CAMERA="", FACEREC_AUTOSTART=False)
        from facerec.extensions import db

        with app.app_context():
            db.create_all()
        check = permission_check(app, args.rounds)
        writes = audit_write(app, max(100, args.rounds // 10))
        app.extensions["cameras"].close()
    figures = {
        "database": database_url(database).split(":")[0],
        "load_average_1min": round(os.getloadavg()[0], 2),
        "permission_check_ms": check,
        "permission_check_target_p50_ms": CHECK_TARGET_MS,
        "permission_check_ok": max(check["session"]["p50"], check["token"]["p50"])
        < CHECK_TARGET_MS,
        "audit_write_ms": writes,
        "audit_write_target_p50_ms": AUDIT_TARGET_MS,
        "audit_write_ok": writes["entry_adds_p50"] < AUDIT_TARGET_MS
        and writes["record_ms"]["p50"] < AUDIT_TARGET_MS,
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
