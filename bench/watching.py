"""Watching benchmark (issue 22): what a camera costs when little happens, and eight cameras.

gunicorn as `make run` starts it; cameras are rows of the ``cameras`` table, changed while it
runs. Prints JSON with
- ``cpu_per_camera``: one 640x360, 30 fps camera and one viewer, the whole server's CPU (web
  process and face engine workers) in cores, for three scenes, ``before`` (the camera's motion
  gate off: every frame the engine can take searched whole and every face encoded, as before
  the gate) and ``after`` (the gate on), side by side in one run:
  ``empty`` (a still, faceless clip frame with fresh sensor noise on every frame; goal <= 0.25),
  ``still_person`` (a clip frame with Lin-Manuel Miranda's face, still, with noise; <= 0.35),
  ``clip`` (the test clip: people moving, scene cuts; <= 0.6);
- ``eight_cameras``: eight 640x360 cameras, two viewers each, two showing the clip and six
  empty scenes: every viewer's frames per second over its source's (goal >= 0.9), and on the
  clip cameras the seconds from the first frame of a scene in which Lin-Manuel Miranda is
  recognisable to the first status naming him (median, goal <= 0.5 s; polled at 20 Hz, so
  +-0.05 s).
``bench/cameras.py`` gives the two-camera scenario (>= 4 recognitions a second per camera).
``--seconds N`` measures each CPU scene for N seconds (default 20), ``--eight-seconds N`` the
eight cameras (default 30: about three loops of the clip, so three scene starts a camera).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from cameras import process_tree_cpu
from common import CLIP, api, count_frames, free_port, prepare_database, start_server

FPS = 29.97
EMPTY_FRAME = 50  # the profile close-up: no detectable face (the faces README)
PERSON_FRAME = 150  # Lin-Manuel Miranda close, facing the camera
GOALS = {"empty": 0.25, "still_person": 0.35, "clip": 0.6}


def clip_frame(index: int):
    import cv2

    capture = cv2.VideoCapture(str(CLIP))
    capture.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = capture.read()
    capture.release()
    if not ok:
        raise RuntimeError(f"cannot read frame {index} of the clip")
    return frame


def still_video(path: Path, frame, seconds: float = 30.0, sigma: float = 5.0) -> str:
    """``frame`` for ``seconds``, with fresh sensor noise on every frame (an H.264-like mp4)."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(1)
    patterns = [rng.normal(0, sigma, frame.shape).astype(np.float32) for _ in range(30)]
    height, width = frame.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (width, height))
    for i in range(round(seconds * FPS)):
        noise = np.roll(patterns[i % len(patterns)], int(rng.integers(width)), axis=1)
        writer.write(np.clip(frame + noise, 0, 255).astype(np.uint8))
    writer.release()
    return str(path)


def set_cameras(db_path: Path, cameras: list[tuple[str, str, bool | None]]):
    """Replace the cameras table with ``(name, source, motion gate)`` rows."""
    with sqlite3.connect(db_path) as conn:
        conn.execute("DELETE FROM cameras")
        conn.executemany(
            "INSERT INTO cameras (name, source, enabled, server, transport, motion_gate, "
            "created_at, updated_at) VALUES (?, ?, 1, '', 'tcp', ?, datetime('now'), "
            "datetime('now'))",
            cameras,
        )


def wait_until_watching(port, token, names, timeout=180):
    """Until every camera runs and has searched a frame (the server starts them itself)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            cams = {c["name"]: c for c in api(port, token, "cameras")["cameras"]}
        except OSError:
            cams = {}
        ready = [
            name
            for name in names
            if name in cams and cams[name]["running"] and cams[name]["state"] == "running"
        ]
        if len(ready) == len(names) and all(
            api(port, token, f"cameras/{name}/status")["detections"] > 0 for name in names
        ):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the cameras did not start: {cams}")
        time.sleep(0.5)


def cpu_of(port, token, server_pid, name, seconds) -> dict:
    """The whole server's CPU in cores, one viewer on ``name`` for ``seconds``."""
    time.sleep(3)  # past the start: tracks settled, the first scene searched
    before, started = process_tree_cpu(server_pid), time.monotonic()
    fps, _ = count_frames(port, [f"/cameras/{name}/stream.mjpg"], seconds)
    wall = time.monotonic() - started
    status = api(port, token, f"cameras/{name}/status")
    return {
        "cores": round((process_tree_cpu(server_pid) - before) / wall, 3),
        "viewer_ratio": round(fps[0] / status["source_fps"], 3),
        "detections": status["detections"],
        "encodings": status["encodings"],
        "frames_gated": status["frames_gated"],
    }


def cpu_per_camera(port, token, server_pid, db_path, scenes, seconds) -> dict:
    result = {}
    for scene, source in scenes.items():
        result[scene] = {"goal_after": GOALS[scene]}
        for label, gate in (("before", False), ("after", True)):
            name = f"{scene.replace('_', '-')}-{label}"
            set_cameras(db_path, [(name, source, gate)])
            wait_until_watching(port, token, [name])
            result[scene][label] = cpu_of(port, token, server_pid, name, seconds)
    return result


def scene_starts() -> list[tuple[int, int]]:
    """(first recognisable frame, scene) of each clip scene in which Lin is recognisable."""
    from labels import TARGET, ground_truth

    truth = ground_truth()
    starts, seen = [], set()
    for index, (names, scene) in enumerate(zip(truth["names"], truth["scenes"], strict=True)):
        if TARGET in names and scene not in seen:
            seen.add(scene)
            starts.append((index, scene))
    return starts


def time_to_name(port, token, name, seconds, starts, scenes) -> list[float]:
    """Poll ``name``'s status at 20 Hz; seconds from a scene's first recognisable frame being
    published to the first status naming him in that scene."""
    from labels import TARGET

    polls = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = api(port, token, f"cameras/{name}/status")
        names = {face["name"] for face in status["faces"]}
        polls.append((time.monotonic(), status["frame_index"], TARGET in names))
        time.sleep(0.05)
    firsts = {scene: first for first, scene in starts}
    waits, pending, done = [], None, None  # pending: (scene, when its first frame showed)
    for at, index, named in polls:
        if index is None:
            continue
        scene = scenes[index]
        if scene != done:
            done = None  # a new scene (or the clip looped): he may be named anew
        if pending is not None and scene != pending[0]:
            pending = None  # the scene ended before he was named
        if pending is None and done is None and index >= firsts.get(scene, len(scenes)):
            pending = (scene, at)
        if pending is not None and named:
            waits.append(at - pending[1])
            pending, done = None, scene
    return waits


def eight_cameras(port, token, db_path, empty, seconds) -> dict:
    from labels import ground_truth

    cams = [("clip-1", str(CLIP), None), ("clip-2", str(CLIP), None)]
    cams += [(f"empty-{n}", empty, None) for n in range(1, 7)]
    set_cameras(db_path, cams)
    names = [name for name, _source, _gate in cams]
    wait_until_watching(port, token, names)
    scenes, starts = ground_truth()["scenes"], scene_starts()
    waits: dict[str, list[float]] = {}

    def measure(name):
        waits[name] = time_to_name(port, token, name, seconds, starts, scenes)

    pollers = [threading.Thread(target=measure, args=(n,)) for n in ("clip-1", "clip-2")]
    for poller in pollers:
        poller.start()
    paths = [f"/cameras/{name}/stream.mjpg" for name in names for _ in range(2)]
    fps, _ = count_frames(port, paths, seconds)
    for poller in pollers:
        poller.join()
    ratios = {}
    for name in names:
        source = api(port, token, f"cameras/{name}/status")["source_fps"]
        mine = [rate for path, rate in zip(paths, fps, strict=True) if f"/{name}/" in path]
        ratios[name] = round(min(mine) / source, 3)
    return {
        "viewer_ratio_min": ratios,
        "time_to_name_median_s": {
            name: round(statistics.median(w), 3) if w else None for name, w in waits.items()
        },
        "scene_starts_seen": {name: len(w) for name, w in waits.items()},
        "goals": {"viewer_ratio_min": 0.9, "time_to_name_median_s": 0.5},
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0, help="per CPU scene")
    parser.add_argument("--eight-seconds", type=float, default=30.0, help="eight cameras")
    args = parser.parse_args()
    seconds = args.seconds
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        empty = still_video(tmp / "empty.mp4", clip_frame(EMPTY_FRAME))
        person = still_video(tmp / "person.mp4", clip_frame(PERSON_FRAME))
        db_path = tmp / "bench.db"
        token = prepare_database(db_path)
        port = free_port()
        server = start_server(db_path, port, threads=100, camera="")
        try:
            scenes = {"empty": empty, "still_person": person, "clip": str(CLIP)}
            cpu = cpu_per_camera(port, token, server.pid, db_path, scenes, seconds)
            eight = eight_cameras(port, token, db_path, empty, args.eight_seconds)
        finally:
            server.terminate()
            try:
                server.wait(30)  # open streams hold it up to gunicorn's graceful timeout
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(10)
    print(
        json.dumps(
            {
                "benchmark": "watching",
                "cores": os.cpu_count(),
                "seconds_per_scene": seconds,
                "seconds_eight_cameras": args.eight_seconds,
                "cpu_per_camera": cpu,
                "eight_cameras": eight,
                "load_average_1min": round(os.getloadavg()[0], 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
