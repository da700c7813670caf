"""Several cameras benchmark: gunicorn as `make run` starts it, cameras changed in the database.

The benchmark makes its cameras in a temporary folder: the test clip (640x360, 29.97 fps) and
the clip upscaled to 1280x720. One server runs throughout; each scenario rewrites the
``cameras`` table and the server picks the change up without a restart. Prints JSON with
- ``two_cameras``: 640x360 and 1280x720, 10 MJPEG viewers each: every viewer's frames per
  second as a ratio of its camera's source fps (target >= 0.9), recognition Hz per camera
  over the whole run and while faces are in view (``recognition_hz_with_faces``, the one
  with the target >= 4: with the motion gate, a camera whose picture shows no face is
  searched only where and as often as it moves);
- ``four_cameras``: four 640x360 cameras, 10 viewers each: the same figures;
- ``cpu_per_camera``: one camera and one viewer, at 640x360 and at 1280x720: CPU seconds per
  second of video, for the web process and for the recognition workers.
``--long`` measures each scenario for 60 s instead of 10.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from common import CLIP, api, count_frames, free_port, prepare_database, start_server

TICKS = os.sysconf("SC_CLK_TCK")


def upscale(source: Path, target: Path, size=(1280, 720)) -> Path:
    import cv2

    capture = cv2.VideoCapture(str(source))
    fps = capture.get(cv2.CAP_PROP_FPS)
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        writer.write(cv2.resize(frame, size, interpolation=cv2.INTER_CUBIC))
    capture.release()
    writer.release()
    return target


def set_cameras(db_path: Path, cameras: list[tuple[str, str]]):
    """Replace the cameras table (as the admin page or the CLI would, from another process)."""
    import sqlite3

    with sqlite3.connect(db_path) as conn:
        conn.execute("DELETE FROM cameras")
        conn.executemany(
            "INSERT INTO cameras (name, source, enabled, server, transport, created_at, "
            "updated_at) VALUES (?, ?, 1, '', 'tcp', datetime('now'), datetime('now'))",
            cameras,
        )


def wait_until_recognising(port, token, names, timeout=180):
    """Until every camera has had a recognition result (at some moment, not all at once)."""
    deadline = time.monotonic() + timeout
    recognised = set()
    while True:
        cams = {c["name"]: c for c in api(port, token, "cameras")["cameras"]}
        recognised |= {n for n in names if n in cams and cams[n]["recognition_hz"] > 0}
        if recognised == set(names):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"recognition did not start on every camera: {cams}")
        for name in names:
            if name in cams and not cams[name]["running"]:
                api(port, token, f"cameras/{name}/start", "POST")
        time.sleep(0.5)


def process_tree_cpu(root_pid: int) -> float:
    """CPU seconds (user + system) of ``root_pid`` and every descendant now alive."""
    parents, times = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / TICKS
    tree, frontier = {root_pid}, [root_pid]
    while frontier:
        pid = frontier.pop()
        children = [child for child, parent in parents.items() if parent == pid]
        tree.update(children)
        frontier.extend(children)
    return sum(times.get(pid, 0.0) for pid in tree)


def worker_pid(server_pid: int) -> int:
    """gunicorn's (only) worker process: the child of the master that serves requests."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[1]) == server_pid and "gunicorn" in stat:
                return int(entry)
    raise RuntimeError("no gunicorn worker")


def own_cpu(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def watch(port, token, per_camera: dict[str, int], seconds: float) -> dict:
    """``per_camera[name]`` viewers on each camera's stream; frames/s of every viewer."""
    names = [name for name, count in per_camera.items() for _ in range(count)]

    def recognition_hz():
        """Each camera's recognition rate (over its last 3 s) and whether faces are in view."""
        statuses = {name: api(port, token, f"cameras/{name}/status") for name in per_camera}
        return {name: (s["recognition_hz"], bool(s["faces"])) for name, s in statuses.items()}

    fps, samples = count_frames(
        port, [f"/cameras/{name}/stream.mjpg" for name in names], seconds, recognition_hz
    )
    result = {}
    for name in per_camera:
        source_fps = api(port, token, f"cameras/{name}/status")["source_fps"]
        rates = [rate for viewer, rate in zip(names, fps, strict=True) if viewer == name]
        hz = [sample[name][0] for sample in samples if name in sample]
        seen = [sample[name][1] for sample in samples if name in sample]
        # The rate covers the last 3 s: faces were in view throughout when the camera showed
        # faces at this sample and the two before (a second apart).
        with_faces = [hz[i] for i in range(2, len(hz)) if all(seen[i - 2 : i + 1])]
        result[name] = {
            "viewers": len(rates),
            "source_fps": source_fps,
            "fps_per_viewer_min": round(min(rates), 2),
            "ratio_min": round(min(rates) / source_fps, 3),
            "ratio_mean": round(statistics.mean(rates) / source_fps, 3),
            "recognition_hz_mean": round(statistics.mean(hz), 2),
            "recognition_hz_with_faces": (
                round(statistics.mean(with_faces), 2) if with_faces else None
            ),
        }
    return result


def cpu_per_camera(port, token, server_pid, db_path, name, source, seconds) -> dict:
    set_cameras(db_path, [(name, source)])
    wait_until_recognising(port, token, [name])
    web = worker_pid(server_pid)
    total, own, started = process_tree_cpu(web), own_cpu(web), time.monotonic()
    seen = watch(port, token, {name: 1}, seconds)[name]
    wall = time.monotonic() - started
    total_after, own_after = process_tree_cpu(web), own_cpu(web)
    # Seconds of video actually delivered: on a loaded machine fewer frames get through, and
    # CPU per wall-clock second would understate the cost of a camera.
    video = wall * seen["ratio_mean"]
    web_cpu = (own_after - own) / video
    workers_cpu = (total_after - total - (own_after - own)) / video
    return {
        "web_process": round(web_cpu, 3),
        "recognition_workers": round(workers_cpu, 3),
        "total": round(web_cpu + workers_cpu, 3),
        "unit": "CPU seconds per second of video delivered",
        "viewer_ratio": seen["ratio_mean"],
        "recognition_hz": seen["recognition_hz_mean"],
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--long", action="store_true", help="measure 60 s per scenario")
    seconds = 60 if parser.parse_args().long else 10
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip720 = str(upscale(CLIP, tmp / "clip-1280x720.mp4"))
        db_path = tmp / "bench.db"
        token = prepare_database(db_path)
        port = free_port()
        set_cameras(db_path, [("small", str(CLIP)), ("large", clip720)])
        server = start_server(db_path, port, threads=100)
        try:
            wait_until_recognising(port, token, ["small", "large"])
            two = watch(port, token, {"small": 10, "large": 10}, seconds)

            four_names = ["cam1", "cam2", "cam3", "cam4"]
            set_cameras(db_path, [(name, str(CLIP)) for name in four_names])
            time.sleep(1.5)  # the server notices the new table within a second
            wait_until_recognising(port, token, four_names)
            four = watch(port, token, dict.fromkeys(four_names, 10), seconds)

            cpu = {
                "640x360": cpu_per_camera(
                    port, token, server.pid, db_path, "small", str(CLIP), seconds
                ),
                "1280x720": cpu_per_camera(
                    port, token, server.pid, db_path, "large", clip720, seconds
                ),
            }
        finally:
            server.terminate()
            server.wait(10)
    print(
        json.dumps(
            {
                "benchmark": "cameras",
                "cores": os.cpu_count(),
                "seconds_per_scenario": seconds,
                "two_cameras": two,
                "four_cameras": four,
                "cpu_per_camera": cpu,
                "targets": {"ratio_min": 0.9, "recognition_hz_two_cameras": 4},
                "load_average_1min": round(os.getloadavg()[0], 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
