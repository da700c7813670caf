"""No orphan processes: every worker ends with its parent; a replaced worker is reaped."""

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .conftest import CLIP, ROOT
from .servers import Gunicorn, add_api_token, descendants, process_info, wait_for


def alive(pid: int) -> bool:
    """Running (a zombie has exited: only its exit status waits to be collected)."""
    info = process_info(pid)
    return info is not None and info["state"] != "Z"


def describe_leftovers(pids) -> str:
    return "\n".join(str(process_info(pid)) for pid in pids if alive(pid))


def recognize(server, token, photo: Path) -> int:
    boundary = "----facerec-test"
    body = (
        (
            f"--{boundary}\r\nContent-Disposition: form-data; name=image; filename=x.jpg\r\n"
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + photo.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        server.url + "/api/v1/recognize",
        data=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.status


def test_does_kill_9_of_the_gunicorn_worker_leave_no_process_without_its_parent(tmp_path, data_dir):
    server = Gunicorn(tmp_path, FACEREC_CAMERA=str(CLIP), FACEREC_ENGINE_WORKERS="2")
    try:
        token = add_api_token(server.database_url)
        worker = server.worker_pid()
        # The face engine pool (a recognize request) and the camera's recognition worker.
        assert recognize(server, token, data_dir / "known" / "obama.jpg") == 200
        start = urllib.request.Request(
            server.url + "/api/v1/stream/start",
            method="POST",
            headers={"Authorization": f"Bearer {token}"},
        )
        urllib.request.urlopen(start, timeout=30).close()
        assert wait_for(lambda: len(descendants(worker)) >= 3, timeout=60)
        time.sleep(3)  # the recognition worker loads its models meanwhile
        children = descendants(worker)

        os.kill(worker, signal.SIGKILL)  # what the OOM killer does
        time.sleep(5)
        assert not [pid for pid in children if alive(pid)], describe_leftovers(children)
    finally:
        server.stop()


def people_written(path: Path) -> int:
    try:
        with sqlite3.connect(path, timeout=1) as connection:
            return connection.execute("SELECT count(*) FROM users").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_does_kill_9_of_an_import_leave_no_worker_behind(tmp_path, data_dir):
    folder = tmp_path / "photos"
    folder.mkdir()
    for number in range(40):  # enough work for the import to be under way when it is killed
        for photo in sorted((data_dir / "known").iterdir()):
            shutil.copy(photo, folder / f"{photo.stem}-{number}{photo.suffix}")
    env = {
        **os.environ,
        "FLASK_APP": "facerec",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'import.db'}",
        "SECRET_KEY": "import-test-secret-key",
    }
    flask = str(Path(sys.executable).parent / "flask")
    subprocess.run([flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    importer = subprocess.Popen(
        [flask, "users", "import", str(folder), "--jobs", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Killed while the workers encode photos: once the first person is written, they are
        # past starting up (a worker still importing its modules arms its guard when done).
        assert wait_for(lambda: people_written(tmp_path / "import.db") > 0, timeout=120)
        children = descendants(importer.pid)
        importer.kill()
        importer.wait()
        time.sleep(5)
        assert not [pid for pid in children if alive(pid)], describe_leftovers(children)
    finally:
        if importer.poll() is None:
            importer.kill()


def test_is_a_frozen_recognition_worker_replaced_and_reaped(clip_app):
    pool = clip_app.extensions["cameras"].pool
    cam = clip_app.extensions["cameras"].first()
    cam.start()
    frozen = None
    try:
        assert wait_for(lambda: cam.recognition_rate.rate() > 0, timeout=60)
        pool.result_timeout = 3.0
        frozen = pool._workers[0].process.pid
        os.kill(frozen, signal.SIGSTOP)
        assert wait_for(lambda: pool.restarts >= 1, timeout=30)
        # The old worker is gone for good: not stopped, not a zombie.
        assert wait_for(lambda: process_info(frozen) is None, timeout=10), process_info(frozen)
        assert wait_for(lambda: any(w.process.is_alive() for w in pool._workers))
    finally:
        cam.stop()
        info = process_info(frozen) if frozen is not None else None
        if info is not None and info["ppid"] == os.getpid() and info["state"] == "T":
            os.kill(frozen, signal.SIGKILL)  # still our frozen worker (not a reused pid)
