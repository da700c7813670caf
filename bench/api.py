"""API benchmark: POST /api/v1/recognize under load, and the live stream meanwhile.

The app is served by gunicorn as ``make run`` does it (one worker process, gthread, many
threads) on a free loopback port, with the test clip as the camera, the people of known/
enrolled and an API token. For 1 and then 4 concurrent clients, each client posts
unknown/obama-480p.jpg over a keep-alive connection (bounded by a request count and a time
limit) while one viewer reads /stream.mjpg. Prints JSON: p50/p95 latency and requests per
second, and the viewer's frames per second as a ratio of the clip's 29.97 fps (also without
API load, as the baseline). ``face_work_alone_p50_ms`` is the decode, detection and encoding
of the photo in this process with nothing else running: the floor under any request.
Targets: p50 < 150 ms with one client; ratio >= 0.9 under load.

Usage: .venv/bin/python bench/api.py [--requests 40] [--seconds 20] [--threads 64]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from common import BOUNDARY as MARK
from common import CLIP_FPS, DATA, free_port, prepare_database, start_server

PHOTO = DATA / "unknown" / "obama-480p.jpg"


def in_process_ms(repeats: int = 7) -> float:
    """The face work alone (decode, detect, encode) in this process: the floor for a request."""
    from facerec import faces

    data = PHOTO.read_bytes()
    faces.faces_in_image(data)  # loads the models
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        faces.faces_in_image(data)
        times.append((time.perf_counter() - began) * 1000)
    return round(statistics.median(times), 1)


class ApiClient:
    """A keep-alive connection with the bearer token, reopened when the server closed it."""

    def __init__(self, port: int, token: str):
        self.port = port
        self.auth = {"Authorization": f"Bearer {token}"}
        self.conn = None
        self.reconnects = 0

    def call(self, method: str, path: str, body: bytes | None = None, headers=None):
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.conn.request(
                    method, f"/api/v1/{path}", body=body, headers={**self.auth, **(headers or {})}
                )
                response = self.conn.getresponse()
                return response.status, json.loads(response.read() or b"null")
            except (ConnectionError, http.client.RemoteDisconnected):
                # gunicorn closes idle keep-alive connections after a few seconds.
                self.close()
                self.reconnects += 1
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def multipart(photo: Path) -> tuple[bytes, str]:
    boundary = "bench" + secrets.token_hex(8)
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; '
        f'filename="{photo.name}"\r\nContent-Type: image/jpeg\r\n\r\n'
    ).encode()
    body = head + photo.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


class Viewer(threading.Thread):
    """Reads /stream.mjpg and counts the frames received while ``counting`` is set."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.port = port
        self.frames = 0
        self.counting = threading.Event()
        self.stop = threading.Event()

    def run(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: bench\r\n\r\n")
            tail = b""
            while not self.stop.is_set():
                try:
                    chunk = sock.recv(1 << 18)
                except TimeoutError:
                    continue
                if not chunk:
                    return
                joined = tail + chunk
                if self.counting.is_set():
                    self.frames += joined.count(MARK) - tail.count(MARK)
                tail = joined[-(len(MARK) - 1) :]

    def measure(self, seconds: float) -> float:
        """Frames per second received over ``seconds`` from now."""
        before = self.frames
        began = time.monotonic()
        time.sleep(seconds)
        return (self.frames - before) / (time.monotonic() - began)


def load(port: int, token: str, clients: int, requests: int, seconds: float) -> dict:
    """``clients`` threads post the photo, ``requests`` each at most, for ``seconds`` at most."""
    body, content_type = multipart(PHOTO)
    latencies, errors = [], []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client():
        api = ApiClient(port, token)
        try:
            for _ in range(requests):
                if time.monotonic() > deadline:
                    break
                began = time.perf_counter()
                status, answer = api.call("POST", "recognize", body, {"Content-Type": content_type})
                elapsed = (time.perf_counter() - began) * 1000
                ok = status == 200 and [f["name"] for f in answer["faces"]] == ["obama"]
                with lock:
                    (latencies if ok else errors).append(elapsed if ok else status)
        finally:
            api.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - began
    latencies.sort()
    return {
        "clients": clients,
        "requests": len(latencies),
        "errors": len(errors),
        "seconds": round(wall, 2),
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p95_ms": round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], 1)
        if latencies
        else None,
        "req_per_s": round(len(latencies) / wall, 2),
    }


def under_load(port, token, clients, args, viewer, control) -> dict:
    """One load level, with the viewer's frame rate and the live recognition rate meanwhile."""
    result, hz = {}, []
    frames, began = viewer.frames, time.monotonic()
    worker = threading.Thread(
        target=lambda: result.update(load(port, token, clients, args.requests, args.seconds))
    )
    worker.start()
    while worker.is_alive():
        worker.join(1.0)
        hz.append(control.call("GET", "stream/status")[1]["recognition_hz"])
    fps = (viewer.frames - frames) / (time.monotonic() - began)
    result["stream_fps"] = round(fps, 2)
    result["stream_fps_ratio"] = round(fps / CLIP_FPS, 3)
    result["live_recognition_hz_median"] = round(statistics.median(hz), 2)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40, help="per client, at most")
    parser.add_argument("--seconds", type=float, default=20, help="per load level, at most")
    parser.add_argument("--threads", type=int, default=64, help="gunicorn threads")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="facerec-bench-api-") as tmp:
        db_path = Path(tmp) / "bench.db"
        token = prepare_database(db_path)
        floor_ms = in_process_ms()
        port = free_port()
        server = start_server(db_path, port, args.threads, os.environ.get("BENCH_API_LOG"))
        viewer = Viewer(port)
        try:
            control = ApiClient(port, token)
            control.call("POST", "stream/start")
            deadline = time.monotonic() + 60
            while control.call("GET", "stream/status")[1]["recognition_hz"] == 0:
                if time.monotonic() > deadline:
                    raise RuntimeError("live recognition did not start")
                time.sleep(0.5)
            # The engine's processes start on first use (spawn, dlib models): not measured.
            warm = load(port, token, 2, 2, 60)
            if warm["errors"]:
                raise RuntimeError(f"recognize failed while warming up: {warm}")
            # The same request with the camera off: what the live pipeline's CPU share costs.
            control.call("POST", "stream/stop")
            quiet = load(port, token, 1, args.requests // 2, args.seconds / 2)
            control.call("POST", "stream/start")
            time.sleep(3.0)

            viewer.start()
            time.sleep(2.0)  # connected and streaming
            viewer.counting.set()
            baseline = viewer.measure(5.0)

            runs = [under_load(port, token, clients, args, viewer, control) for clients in (1, 4)]
            control.close()
        finally:
            viewer.stop.set()
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    print(
        json.dumps(
            {
                "benchmark": "api",
                "photo": PHOTO.name,
                "cpus": os.cpu_count(),
                "server": f"gunicorn gthread, 1 worker, {args.threads} threads",
                "face_work_alone_p50_ms": floor_ms,
                "one_client_with_camera_off": quiet,
                "stream_fps_ratio_without_api_load": round(baseline / CLIP_FPS, 3),
                "runs": runs,
                "targets": {"p50_ms_1_client": 150, "stream_fps_ratio": 0.9},
                "note": "wall-clock figures on a shared machine: other work skews them",
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
