"""Import benchmark: ``flask users import`` with ``--jobs 1`` and ``--jobs 2``.

Builds, in a temporary folder, at least 200 distinct photos (resized, cropped and mirrored
variants of the single-face photos in ../shared/faces, no two files identical), imports them
into a fresh database with each job count, and prints JSON: images per second for both and
their ratio (target >= 1.7 on 2 cores). The import runs as an operator would run it: the
``flask`` command in a subprocess, timed from start to exit. The two job counts alternate for
``BENCH_IMPORT_ROUNDS`` rounds (default 2) and each keeps its fastest run; ``cores_used``
(CPU seconds per wall second) shows whether the machine really had the cores free.
"""

import hashlib
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("FACEREC_TEST_DATA") or ROOT.parent / "shared" / "faces").resolve()
IMAGES = int(os.environ.get("BENCH_IMPORT_IMAGES", "210"))
ROUNDS = int(os.environ.get("BENCH_IMPORT_ROUNDS", "2"))
TARGET_RATIO = 1.7
MAX_WIDTH = 900  # variants are at most this wide, like typical staff photos


def sources() -> list[tuple[str, Path]]:
    """(person, photo) for every single-face photo of the shared set."""
    found = [(p.parent.name, p) for p in sorted((DATA / "people").glob("*/*")) if p.is_file()]
    for stem in ("lin-manuel-miranda", "alex-lacamoire"):
        found.extend((stem, p) for p in sorted((DATA / "known").glob(f"{stem}.*")))
    return found


def build_photos(folder: Path, count: int) -> int:
    """Write ``count`` distinct variants under ``folder/<person>/``; returns the number written."""
    rng = random.Random(5)
    base = sources()
    seen = set()
    written = 0
    while written < count:
        person, path = base[written % len(base)]
        image = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
        width, height = image.size
        # Crop up to 8 % off each side, then scale to 55-100 % of the capped width.
        box = (
            int(width * rng.uniform(0, 0.08)),
            int(height * rng.uniform(0, 0.08)),
            width - int(width * rng.uniform(0, 0.08)),
            height - int(height * rng.uniform(0, 0.08)),
        )
        image = image.crop(box)
        scale = min(1.0, MAX_WIDTH / image.width) * rng.uniform(0.55, 1.0)
        image = image.resize((max(1, int(image.width * scale)), max(1, int(image.height * scale))))
        if rng.random() < 0.5:
            image = ImageOps.mirror(image)
        target = folder / person / f"variant{written:04d}.jpg"
        target.parent.mkdir(parents=True, exist_ok=True)
        image.save(target, quality=rng.randint(85, 95))
        digest = hashlib.sha256(target.read_bytes()).hexdigest()
        if digest in seen:  # never two identical files: they would count once
            target.unlink()
            continue
        seen.add(digest)
        written += 1
    return written


def flask(*args, database: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{database}", SECRET_KEY="bench-only")
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "facerec", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )


def timed_import(photos: Path, jobs: int, database: Path) -> dict:
    """One import into a fresh database: wall seconds, CPU seconds of every process, counts."""
    database.unlink(missing_ok=True)
    flask("db", "upgrade", database=database)
    cpu_before = _children_cpu()
    start = time.perf_counter()
    result = flask("users", "import", str(photos), "--jobs", str(jobs), database=database)
    seconds = time.perf_counter() - start
    cpu = _children_cpu() - cpu_before
    summary = re.search(r"samples added: (\d+), files skipped: (\d+)", result.stdout)
    return {
        "seconds": seconds,
        # CPU seconds per wall second: close to `jobs` when the machine gave us the cores.
        "cores_used": round(cpu / seconds, 2),
        "samples_added": int(summary.group(1)),
        "files_skipped": int(summary.group(2)),
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main():
    best: dict[int, dict] = {}
    with tempfile.TemporaryDirectory(prefix="facerec-bench-import-") as tmp:
        workdir = Path(tmp)
        photos = workdir / "photos"
        images = build_photos(photos, IMAGES)
        # Alternate the two job counts and keep each one's fastest run: other work on a
        # shared machine only ever slows a run down.
        for _ in range(ROUNDS):
            for jobs in (1, 2):
                run = timed_import(photos, jobs, workdir / f"jobs{jobs}.db")
                if jobs not in best or run["seconds"] < best[jobs]["seconds"]:
                    best[jobs] = run
    one, two = best[1], best[2]
    ratio = one["seconds"] / two["seconds"]
    print(
        json.dumps(
            {
                "benchmark": "import",
                "images": images,
                "cores": os.cpu_count(),
                "rounds": ROUNDS,
                "samples_added": one["samples_added"],
                "files_skipped": one["files_skipped"],
                "jobs1_seconds": round(one["seconds"], 2),
                "jobs2_seconds": round(two["seconds"], 2),
                "jobs1_images_per_s": round(images / one["seconds"], 2),
                "jobs2_images_per_s": round(images / two["seconds"], 2),
                "jobs1_cores_used": one["cores_used"],
                "jobs2_cores_used": two["cores_used"],
                "ratio": round(ratio, 2),
                "target_ratio": TARGET_RATIO,
                "meets_target": ratio >= TARGET_RATIO,
                "note": "wall time of the flask command with its start-up; noisy on a shared CPU",
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
