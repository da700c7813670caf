"""Gallery benchmark at scale: loading every encoding from the database, time and memory.

``Gallery.load()`` runs in every process that recognises (each server's web process and its
recognition worker) whenever people or samples change. For each size this fills a database
with that many samples (random 128-d encodings, one person per 4 samples, tiny thumbnails),
then loads the gallery in a fresh subprocess and prints JSON: the load time, the process's
peak memory above its baseline, the gallery's own size in memory, and one match's p50.
Default: 100k encodings on SQLite and PostgreSQL; ``--long`` adds 1M (a few minutes).

Usage: .venv/bin/python bench/gallery_database.py [--long] [--sizes 100000,1000000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, prepare_database

from tests.pgserver import PostgresServer

PER_PERSON = 4
THUMBNAIL = b"\xff\xd8\xff\xd9"  # an empty JPEG: the thumbnails are not loaded by the gallery

LOAD = r"""
import json, statistics, sys, time
import numpy as np
from sqlalchemy import create_engine
sys.path.insert(0, sys.argv[2])
from facerec.gallery import Gallery
engine = create_engine(sys.argv[1])
def kb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
with engine.connect() as conn:
    conn.exec_driver_sql("SELECT 1")
    before = kb("VmRSS")
    open("/proc/self/clear_refs", "w").write("5")  # resets the peak (VmHWM) to now
    began = time.perf_counter()
    gallery = Gallery.load(conn)
    seconds = time.perf_counter() - began
peak, after = kb("VmHWM"), kb("VmRSS")
queries = np.random.default_rng(1).normal(0, 0.09, size=(20, 128))
times = []
for q in queries:
    t = time.perf_counter(); gallery.match(q); times.append((time.perf_counter() - t) * 1000)
own = gallery.samples.nbytes + gallery.user_ids.nbytes
print(json.dumps({"encodings": len(gallery), "load_s": round(seconds, 2),
                  "load_peak_mb": round((peak - before) / 1024, 1),
                  "held_after_load_mb": round((after - before) / 1024, 1),
                  "gallery_mb": round(own / 1e6, 1),
                  "match_ms_p50": round(statistics.median(times), 2)}))
"""


def fill(url: str, size: int):
    """``size`` samples of ``size / PER_PERSON`` people, written in large batches."""
    import numpy as np
    from sqlalchemy import create_engine, insert

    from facerec.models import FaceSample, GalleryState, User

    prepare_database(url, people=False)
    rng = np.random.default_rng(0)
    engine = create_engine(url)
    people = size // PER_PERSON
    with engine.begin() as conn:
        for start in range(0, people, 50_000):
            rows = [
                {"id": i + 1, "name": f"p{i}", "name_key": f"p{i}", "details": ""}
                for i in range(start, min(people, start + 50_000))
            ]
            conn.execute(insert(User), rows)
        for start in range(0, size, 50_000):
            count = min(size, start + 50_000) - start
            vectors = rng.normal(0, 0.09, size=(count, 128)).astype("<f8")
            rows = [
                {
                    "user_id": (start + j) // PER_PERSON + 1,
                    "encoding": vectors[j].tobytes(),
                    "thumbnail": THUMBNAIL,
                    "source": "bench",
                }
                for j in range(count)
            ]
            conn.execute(insert(FaceSample), rows)
        conn.execute(insert(GalleryState).values(id=1, version=1))
    engine.dispose()


def measure(url: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", LOAD, url, str(ROOT)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true", help="also 1M encodings")
    parser.add_argument("--sizes", help="comma-separated sizes (overrides --long)")
    args = parser.parse_args()
    sizes = [100_000, 1_000_000] if args.long else [100_000]
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    with tempfile.TemporaryDirectory() as tmp, PostgresServer() as pg:
        for size in sizes:
            for kind in ("sqlite", "postgresql"):
                if kind == "sqlite":
                    url = f"sqlite:///{Path(tmp) / f'g{size}.db'}"
                else:
                    pg.create_database(f"g{size}")
                    url = pg.url(f"g{size}")
                fill(url, size)
                results.append({"database": kind, **measure(url)})
                if kind == "sqlite":
                    Path(tmp, f"g{size}.db").unlink()
                else:
                    pg.drop_database(f"g{size}")
    print(json.dumps({"benchmark": "gallery_database", "results": results}, indent=2))


if __name__ == "__main__":
    main()
