"""PostgreSQL benchmark: SQLite against PostgreSQL, and two servers sharing one database.

A throwaway PostgreSQL server (Debian's binaries, as the test suite starts it) on a free port.
Prints JSON:

- ``import``: ``flask users import`` of the same folder with ``--jobs 2`` into a fresh SQLite
  file and a fresh PostgreSQL database (alternating, ``--rounds`` rounds, fastest kept), and
  the rerun that finds every file already imported; seconds and PostgreSQL/SQLite ratios.
- ``recognize``: ``POST /api/v1/recognize`` p50 against two gunicorn servers run as
  ``make run`` runs them, one on SQLite and one on PostgreSQL, requests alternating between
  them so that both see the same machine load; the ratio PostgreSQL/SQLite.
- ``propagation``: a second gunicorn server (B) on the same PostgreSQL database; a person
  is created through server A's API and B's ``/api/v1/recognize`` is polled until it names
  them (median and max of ``--people`` runs, default 10, target 2 s): the time from A's
  answer to the sending of B's first request that named them, and to its answer (which
  adds one photo's face work); then deleted on A until B stops naming them.

Usage: .venv/bin/python bench/shared_database.py [--rounds 2] [--requests 30] [--people 10]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from common import DATA, ROOT, free_port, prepare_database, start_server

from tests.pgserver import PostgresServer

PROBE = DATA / "unknown" / "obama-480p.jpg"  # an Obama photo that is not one of the samples
NEWCOMER = DATA / "people" / "kit_harington"  # not in known/: nobody in the database
NEWCOMER_PROBE = DATA / "people-test" / "johnsnow_test1.jpg"
TARGET_PROPAGATION_S = 2.0


def multipart(fields: dict[str, str], files: dict[str, Path]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        parts.append(f"{head}{value}\r\n".encode())
    for name, path in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{path.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        )
        parts.append(head.encode() + path.read_bytes() + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Api:
    """Bearer-token calls to one server over a keep-alive connection."""

    def __init__(self, port: int, token: str):
        self.port, self.token, self.conn = port, token, None

    def call(self, method, path, body=None, content_type=None):
        headers = {"Authorization": f"Bearer {self.token}"}
        if content_type:
            headers["Content-Type"] = content_type
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.conn.request(method, f"/api/v1{path}", body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                return response.status, (json.loads(data) if data else None)
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def recognize(self, photo: Path) -> tuple[float, list]:
        body, kind = multipart({}, {"image": photo})
        began = time.perf_counter()
        status, answer = self.call("POST", "/recognize", body, kind)
        elapsed = time.perf_counter() - began
        if status != 200:
            raise RuntimeError(f"recognize answered {status}: {answer}")
        return elapsed, [face["name"] for face in answer["faces"]]


def run_import(folder: Path, url: str) -> float:
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY="bench-only")
    flask = [sys.executable, "-m", "flask", "--app", "facerec"]
    began = time.perf_counter()
    done = subprocess.run(
        [*flask, "users", "import", str(folder), "--jobs", "2"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"import failed: {done.stdout}\n{done.stderr}")
    return elapsed


def bench_import(pg: PostgresServer, workdir: Path, rounds: int) -> dict:
    folder = workdir / "photos"
    shutil.copytree(DATA / "people", folder)
    for photo in (DATA / "known").iterdir():
        shutil.copy(photo, folder / photo.name)
    photos = sum(1 for p in folder.rglob("*") if p.is_file())
    times = {"sqlite": [], "postgresql": []}
    reruns = {"sqlite": [], "postgresql": []}
    for n in range(rounds):
        for kind in times:
            if kind == "sqlite":
                url = f"sqlite:///{workdir / f'import{n}.db'}"
            else:
                pg.create_database(f"import{n}")
                url = pg.url(f"import{n}")
            prepare_database(url, people=False)  # the schema, as `flask db upgrade` leaves it
            times[kind].append(run_import(folder, url))
            reruns[kind].append(run_import(folder, url))
    best = {kind: min(values) for kind, values in times.items()}
    again = {kind: min(values) for kind, values in reruns.items()}
    return {
        "photos": photos,
        "jobs": 2,
        "sqlite_s": round(best["sqlite"], 2),
        "postgresql_s": round(best["postgresql"], 2),
        "ratio_postgresql_to_sqlite": round(best["postgresql"] / best["sqlite"], 3),
        "rerun_sqlite_s": round(again["sqlite"], 2),
        "rerun_postgresql_s": round(again["postgresql"], 2),
        "rerun_ratio_postgresql_to_sqlite": round(again["postgresql"] / again["sqlite"], 3),
    }


def p50_ms(values) -> float:
    return round(statistics.median(values) * 1000, 1)


def bench_recognize(sqlite_api: Api, pg_api: Api, requests: int) -> dict:
    for api in (sqlite_api, pg_api):
        api.recognize(PROBE)  # the face engine's processes load their models
    times = {"sqlite": [], "postgresql": []}
    for _ in range(requests):
        for kind, api in (("sqlite", sqlite_api), ("postgresql", pg_api)):
            elapsed, names = api.recognize(PROBE)
            assert names == ["obama"], names
            times[kind].append(elapsed)
    return {
        "requests_each": requests,
        "sqlite_p50_ms": p50_ms(times["sqlite"]),
        "postgresql_p50_ms": p50_ms(times["postgresql"]),
        "ratio_postgresql_to_sqlite": round(
            statistics.median(times["postgresql"]) / statistics.median(times["sqlite"]), 3
        ),
    }


def until(api: Api, photo: Path, wanted, limit: float = 30.0) -> tuple[float, float]:
    """Seconds until ``api`` recognises ``wanted`` in ``photo`` (None: until nobody).

    Returns when the first request that saw it was sent, and when its answer came: the
    first is the propagation itself, the second adds the face work of one request.
    """
    began = time.perf_counter()
    while time.perf_counter() - began < limit:
        sent = time.perf_counter() - began
        _, names = api.recognize(photo)
        if (wanted in names) if wanted else not any(names):
            return sent, time.perf_counter() - began
    raise RuntimeError(f"{wanted!r} was not seen within {limit} s")


def bench_propagation(a: Api, b: Api, people: int) -> dict:
    photos = sorted(p for p in NEWCOMER.iterdir() if p.is_file())
    answer = [b.recognize(NEWCOMER_PROBE)[0] for _ in range(5)]
    added, answered, removed = [], [], []
    for n in range(people):
        name = f"Visitor {n}"
        body, kind = multipart({"name": name}, {"images": photos[n % len(photos)]})
        status, person = a.call("POST", "/users/with-photos", body, kind)
        if status != 201:
            raise RuntimeError(f"creating a person answered {status}: {person}")
        sent, done = until(b, NEWCOMER_PROBE, name)
        added.append(sent)
        answered.append(done)
        status, _ = a.call("DELETE", f"/users/{person['id']}")
        if status != 204:
            raise RuntimeError(f"deleting a person answered {status}")
        removed.append(until(b, NEWCOMER_PROBE, None)[0])
    return {
        "people": people,
        # From A's 201 to the sending of B's first request that named the person.
        "new_person_on_a_named_by_b_median_ms": p50_ms(added),
        "new_person_max_ms": round(max(added) * 1000, 1),
        # The same until that request's answer: adds one recognition's face work.
        "until_b_answered_median_ms": p50_ms(answered),
        "deleted_on_a_forgotten_by_b_median_ms": p50_ms(removed),
        "b_recognize_answer_p50_ms": p50_ms(answer),
        "target_ms": TARGET_PROPAGATION_S * 1000,
        "meets_target": max(added) < TARGET_PROPAGATION_S,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--people", type=int, default=10)
    parser.add_argument("--skip-import", action="store_true", help="only recognize and propagation")
    args = parser.parse_args()
    result = {"benchmark": "shared_database"}
    servers = []
    with tempfile.TemporaryDirectory() as tmp, PostgresServer() as pg:
        workdir = Path(tmp)
        try:
            if not args.skip_import:
                result["import"] = bench_import(pg, workdir, args.rounds)

            pg.create_database("shared")
            pg_token = prepare_database(pg.url("shared"))
            sqlite_token = prepare_database(workdir / "recognize.db")
            ports = [free_port() for _ in range(3)]
            servers.append(start_server(workdir / "recognize.db", ports[0], 16, camera=""))
            servers.append(start_server(pg.url("shared"), ports[1], 16, camera=""))
            servers.append(start_server(pg.url("shared"), ports[2], 16, camera=""))
            sqlite_api = Api(ports[0], sqlite_token)
            server_a, server_b = Api(ports[1], pg_token), Api(ports[2], pg_token)
            result["recognize"] = bench_recognize(sqlite_api, server_a, args.requests)
            result["propagation"] = bench_propagation(server_a, server_b, args.people)
        finally:
            for server in servers:
                server.terminate()
            for server in servers:
                server.wait(20)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
