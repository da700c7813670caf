"""Detection sub-stream benchmark: an RTSP camera at 1280x720 detecting on its main stream,
against the same camera detecting on a 320x180 sub-stream of the same view.

A real RTSP server (GStreamer's, as the tests run it: Debian's python3 with python3-gi) serves
the test clip at both sizes; gunicorn runs facerec as `make run` does, with ../shared/faces'
known people enrolled, and one MJPEG viewer watches the camera's (1280x720) stream. For each
setting it measures, over the same number of seconds:
- the CPU of the whole server (web process and face engine workers), in cores;
- the names recognised (from the camera's status, polled every second);
- the viewer's frames per second and recognition results per second.
Prints JSON with ``cpu_ratio`` = sub-stream CPU / main-stream CPU (target <= 0.6) and whether
the names are the same. The face engine recognises a camera's newest frame whenever a worker
is free, so both settings may keep a worker busy: the faster one then recognises more often
for the same CPU. ``cpu_per_recognition_ratio`` compares the CPU per recognition result (the
cost of the same work) and is the figure to read when ``cpu_ratio`` is near 1 with a much
higher ``recognition_hz_mean``. ``--seconds N`` measures each setting for N seconds (default
30, more than three loops of the clip).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from cameras import own_cpu, process_tree_cpu, wait_until_recognising, worker_pid
from common import CLIP, api, count_frames, free_port, prepare_database, start_server

from tests.rtspserver import RtspServer

STREAMS = {"main": (1280, 720), "sub": (320, 180)}


def set_camera(db_path: Path, source: str, detect_source: str | None):
    """The one camera "door", as the CLI would store it (the server notices within a second)."""
    with sqlite3.connect(db_path) as conn:
        conn.execute("DELETE FROM cameras")
        conn.execute(
            "INSERT INTO cameras (name, source, detect_source, enabled, server, transport, "
            "created_at, updated_at) VALUES ('door', ?, ?, 1, '', 'tcp', datetime('now'), "
            "datetime('now'))",
            (source, detect_source),
        )


def measure(port, token, server_pid, seconds: float) -> dict:
    wait_until_recognising(port, token, ["door"])
    time.sleep(3)  # past the start: the engine's workers warm, the first results in
    web = worker_pid(server_pid)
    total, own, started = process_tree_cpu(web), own_cpu(web), time.monotonic()
    names: set = set()

    def sample():
        status = api(port, token, "cameras/door/status")
        names.update(face["name"] for face in status["faces"] if face["name"])
        return status["recognition_hz"]

    fps, hz = count_frames(port, ["/cameras/door/stream.mjpg"], seconds, sample)
    wall = time.monotonic() - started
    total_after, own_after = process_tree_cpu(web), own_cpu(web)
    status = api(port, token, "cameras/door/status")
    cores = (total_after - total) / wall
    results = statistics.mean(hz)
    return {
        "cpu_cores": round(cores, 3),
        "cpu_seconds_per_recognition": round(cores / results, 4) if results else None,
        "web_process_cores": round((own_after - own) / wall, 3),
        "names": sorted(names),
        "viewer_fps": round(fps[0], 2),
        "source_fps": status["source_fps"],
        "recognition_hz_mean": round(results, 2),
        "detect": status["detect"],
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30.0)
    seconds = parser.parse_args().seconds
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rtsp = RtspServer(CLIP, tmp / "rtsp", STREAMS).start()
        db_path = tmp / "bench.db"
        token = prepare_database(db_path)
        set_camera(db_path, rtsp.url("main"), None)
        port = free_port()
        server = start_server(db_path, port, threads=20, camera="")
        try:
            main_only = measure(port, token, server.pid, seconds)
            set_camera(db_path, rtsp.url("main"), rtsp.url("sub"))
            time.sleep(2)  # the server restarts the camera with its sub-stream
            with_sub = measure(port, token, server.pid, seconds)
        finally:
            server.terminate()
            server.wait(10)
            rtsp.kill()
    ratio = with_sub["cpu_cores"] / main_only["cpu_cores"] if main_only["cpu_cores"] else None
    per = [setting["cpu_seconds_per_recognition"] for setting in (main_only, with_sub)]
    per_ratio = per[1] / per[0] if all(per) else None
    print(
        json.dumps(
            {
                "benchmark": "substream",
                "cores": os.cpu_count(),
                "seconds_per_setting": seconds,
                "main_stream_1280x720": main_only,
                "sub_stream_320x180": with_sub,
                "cpu_ratio": round(ratio, 3) if ratio else None,
                "cpu_per_recognition_ratio": round(per_ratio, 3) if per_ratio else None,
                "same_names": main_only["names"] == with_sub["names"],
                "targets": {"cpu_ratio": 0.6, "same_names": True},
                "load_average_1min": round(os.getloadavg()[0], 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
