"""The IP camera guide (docs/guide/ip-cameras.md): every command it shows runs as written."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from facerec import shutdown
from facerec.extensions import db
from facerec.models import Camera

from .conftest import ROOT, make_app
from .servers import prepare_database

GUIDE = ROOT / "docs" / "guide" / "ip-cameras.md"

# The commands only store cameras: the database is incidental.
pytestmark = pytest.mark.sqlite_only


def shown_commands() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", GUIDE.read_text(), flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_does_every_command_of_the_ip_camera_guide_work_as_written(tmp_path):
    commands = shown_commands()
    assert len(commands) >= 6 and all(c.startswith(".venv/bin/facerec ") for c in commands)
    database = prepare_database(tmp_path / "docs.db")
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "SECRET_KEY": "docs-test-secret-key",
        "PYTHONPATH": str(ROOT),  # this checkout's facerec, whatever the venv was installed from
    }
    for command in commands:
        done = subprocess.run(
            ["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, f"{command}\n{done.stdout}{done.stderr}"
        assert "Added the camera" in done.stdout
        assert "Viewer-pass1" not in done.stdout + done.stderr
    app = make_app(tmp_path, database)
    try:
        with app.app_context():
            rows = {row.name: row for row in db.session.execute(db.select(Camera)).scalars()}
    finally:
        shutdown(app)
    # The first camera added keeps FACEREC_CAMERA's own (`main`, the first webcam by default)
    # beside it, as the Cameras page says.
    assert set(rows) == {"main", "front-door", "lab-door", "yard", "garage", "porch", "desk"}
    assert rows["lab-door"].transport == "udp" and rows["front-door"].transport == "tcp"
    assert rows["front-door"].detect_source.endswith("/Streaming/Channels/102")
    assert rows["yard"].detect_source is None
    assert rows["porch"].snapshot_rate == 4 and rows["desk"].source == "0"
