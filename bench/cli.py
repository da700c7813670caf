"""The command line's start-up: CPU seconds a few simple ``facerec`` commands take, each a
fresh process as a user or a script runs it (most of it is spent before the command does
anything: imports, the app, the command group).

    python bench/cli.py [--runs 5] [--project DIR]

``--project`` measures another checkout (main's, to compare) with this virtualenv's packages.
Each command runs against a new SQLite database in a temporary instance folder, with byte code
cached as a user's install caches it. Prints JSON: per command the median, lowest and every
run's CPU seconds (user + system of the process), and the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = (
    ["accounts", "list"],
    ["cameras", "list"],
    ["tokens", "list"],
    ["settings"],
    ["--help"],
    ["db", "current"],
)
# Run as .venv/bin/facerec runs it, but with the code of the project measured.
ENTRY = "import sys; from facerec.cli import main; sys.argv[0] = 'facerec'; main()"


def cpu_of(args: list[str], cwd: Path, env: dict) -> float:
    """User + system CPU seconds of one ``facerec`` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [sys.executable, "-c", ENTRY, *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"facerec {' '.join(args)} failed:\n{done.stderr}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--project", type=Path, default=ROOT)
    options = parser.parse_args()
    project = options.project.resolve()
    with tempfile.TemporaryDirectory() as scratch:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("FACEREC_", "PYTHON")) and key != "DATABASE_URL"
        }
        env.update(
            PYTHONPATH=str(project),
            DATABASE_URL=f"sqlite:///{scratch}/bench.db",
            SECRET_KEY="bench",
            # Byte code cached outside the project, as an installed checkout caches it.
            PYTHONPYCACHEPREFIX=str(Path(scratch) / "pycache"),
        )
        load_before = os.getloadavg()
        cpu_of(["db", "upgrade"], project, env)  # the tables, and every module's byte code
        runs = {" ".join(args): [] for args in COMMANDS}
        for _ in range(options.runs):  # interleaved: a change in load touches every command
            for args in COMMANDS:
                runs[" ".join(args)].append(round(cpu_of(args, project, env), 3))
    print(
        json.dumps(
            {
                "project": str(project),
                "runs": options.runs,
                "cpu_seconds": {
                    name: {
                        "median": round(statistics.median(values), 3),
                        "lowest": min(values),
                        "runs": values,
                    }
                    for name, values in runs.items()
                },
                "load_average_before": [round(x, 2) for x in load_before],
                "load_average_after": [round(x, 2) for x in os.getloadavg()],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
