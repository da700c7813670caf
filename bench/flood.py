"""Flood benchmark: one API token, many clients posting photos; does the site keep answering?

The app is served by gunicorn the way ``make run`` serves it, without a camera, with the
default rate limits. ``--clients`` (default 20) clients share one token and post a one-face
photo to ``POST /api/v1/recognize`` and ``POST /api/v1/sightings/search`` in turn for
``--seconds`` (default 30; the hardening pass flooded for 75). Meanwhile a prober opens
``/login`` every 0.2 s. Prints JSON with

- ``login_ms``: p50, p95 and max of the sign-in page's latency during the flood (target: p95
  below 1000 ms);
- ``answers``: how many of each status the clients got (200, 429, 503: never 500);
- ``blank_40mp``: the CPU seconds and peak memory growth of finding the faces of a blank
  6300 x 6300 photo (PNG and JPEG) in this process, as the face engine's worker does.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

from common import DATA, free_port, prepare_database, start_server  # project on sys.path

import tests.servers


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))], 1)


def post_photo(url: str, token: str, photo: bytes) -> int:
    """The answer's status, 0 for no answer at all."""
    try:
        return tests.servers.post_photo(url, token, photo, timeout=60)
    except OSError:
        return 0


def flood(port: int, token: str, clients: int, seconds: float) -> dict:
    photo = (DATA / "known" / "obama.jpg").read_bytes()
    base = f"http://127.0.0.1:{port}"
    stop = threading.Event()
    answers: Counter = Counter()
    lock = threading.Lock()

    def client():
        paths = ("/api/v1/recognize", "/api/v1/sightings/search")
        turn = 0
        while not stop.is_set():
            status = post_photo(base + paths[turn % 2], token, photo)
            turn += 1
            with lock:
                answers[status] += 1

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    latencies, login_statuses = [], Counter()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            with urllib.request.urlopen(base + "/login", timeout=30) as page:
                page.read()
                login_statuses[page.status] += 1
        except urllib.error.HTTPError as exc:
            login_statuses[exc.code] += 1
        except OSError:
            login_statuses[0] += 1
        latencies.append((time.monotonic() - started) * 1000)
        time.sleep(0.2)
    stop.set()
    for thread in threads:
        thread.join(70)
    return {
        "clients": clients,
        "seconds": seconds,
        "login_ms": {
            "p50": percentile(latencies, 0.5),
            "p95": percentile(latencies, 0.95),
            "max": percentile(latencies, 1.0),
            "count": len(latencies),
            "statuses": {str(k): v for k, v in sorted(login_statuses.items())},
        },
        "answers": {str(k): v for k, v in sorted(answers.items())},
    }


def blank_cost() -> dict:
    from PIL import Image

    from facerec import faces

    faces.load_models()
    result = {}
    for fmt in ("PNG", "JPEG"):
        out = io.BytesIO()
        Image.new("RGB", (6300, 6300), (255, 255, 255)).save(out, fmt)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.process_time()
        found = faces.faces_in_image(out.getvalue())
        result[fmt.lower()] = {
            "bytes": len(out.getvalue()),
            "cpu_s": round(time.process_time() - started, 2),
            "peak_growth_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024,
            "faces": len(found),
        }
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "flood.db"
        token = prepare_database(database)
        port = free_port()
        server = start_server(database, port, camera="")
        try:
            flooded = flood(port, token, args.clients, args.seconds)
        finally:
            server.terminate()
            server.wait(30)
    print(
        json.dumps(
            {
                "load_average": [round(v, 2) for v in os.getloadavg()],
                "flood": flooded,
                "blank_40mp": blank_cost(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
