"""Hardening benchmark: the server keeps answering with the stream full, and a soak.

The app is served by gunicorn exactly as ``make run`` does (100 threads, the default
FACEREC_MAX_VIEWERS = 60), the test clip as the camera, recognition on. Prints JSON with

- ``capacity``: the viewer limit reached (60 viewers reading) and 20 more viewers knocking
  again and again (each must get 503 at once): ``/login`` and ``GET /api/v1/stream/status``
  latency p50/p95, and what the knockers got;
- ``soak``: ``--minutes`` (default 1; ``--minutes 10`` for the issue's soak) with 50 viewers
  and two API clients polling: resident memory of every server process at the start and the
  end, the worker's thread count, each viewer's frame rate as a ratio of the source's, and
  errors (API failures, viewers cut off).
"""

from __future__ import annotations

import argparse
import json
import selectors
import socket
import statistics
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from common import BOUNDARY, free_port, prepare_database, start_server

LIMIT = 60  # FACEREC_MAX_VIEWERS' default
KNOCKERS = 20


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def get(url: str, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def status(port: int, token: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/stream/status",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


class Viewers:
    """``count`` MJPEG viewers read by one thread; counts each one's frames."""

    def __init__(self, port: int, count: int):
        self.selector = selectors.DefaultSelector()
        self.states = []
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: bench\r\n\r\n")
            sock.setblocking(False)
            state = {"sock": sock, "frames": 0, "tail": b"", "closed": False, "head": b""}
            self.selector.register(sock, selectors.EVENT_READ, state)
            self.states.append(state)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self):
        while not self.stop.is_set():
            for key, _ in self.selector.select(timeout=0.2):
                state = key.data
                try:
                    chunk = key.fileobj.recv(1 << 18)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    state["closed"] = time.monotonic()
                    self.selector.unregister(key.fileobj)
                    continue
                if len(state["head"]) < 64:
                    state["head"] += chunk[:64]
                joined = state["tail"] + chunk
                state["frames"] += joined.count(BOUNDARY)
                state["tail"] = joined[-(len(BOUNDARY) - 1) :]

    def frames(self) -> list[int]:
        return [state["frames"] for state in self.states]

    def served(self) -> int:
        return sum(state["head"].startswith(b"HTTP/1.1 200") for state in self.states)

    def cut_off(self) -> int:
        return sum(bool(state["closed"]) for state in self.states)

    def heads(self) -> dict:
        found: dict[str, int] = {}
        for state in self.states:
            line = state["head"].split(b"\r\n", 1)[0].decode(errors="replace") or "nothing"
            found[line] = found.get(line, 0) + 1
        return found

    def close(self):
        self.stop.set()
        self.thread.join(5)
        for state in self.states:
            state["sock"].close()


def knock(port: int, stop: threading.Event, results: list):
    """A viewer beyond the limit, trying again and again: its status and time to answer."""
    while not stop.is_set():
        started = time.monotonic()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: bench\r\n\r\n")
                line = sock.recv(64).split(b"\r\n", 1)[0].decode(errors="replace")
        except OSError as exc:
            line = f"error {exc.__class__.__name__}"
        results.append((line, time.monotonic() - started))
        stop.wait(0.2)


def capacity(port: int, token: str) -> dict:
    viewers = Viewers(port, LIMIT)
    time.sleep(3)
    stop, knocks = threading.Event(), []
    knockers = [
        threading.Thread(target=knock, args=(port, stop, knocks), daemon=True)
        for _ in range(KNOCKERS)
    ]
    for thread in knockers:
        thread.start()
    login, api, failures = [], [], 0
    try:
        time.sleep(1)
        for _ in range(40):
            for url, times, auth in (
                (f"http://127.0.0.1:{port}/login", login, None),
                (f"http://127.0.0.1:{port}/api/v1/stream/status", api, token),
            ):
                started = time.monotonic()
                code = get(url, auth)
                times.append(time.monotonic() - started)
                failures += code >= 400
            time.sleep(0.1)
    finally:
        stop.set()
        for thread in knockers:
            thread.join(15)
        served = viewers.served()
        viewers.close()
    refused = [seconds for line, seconds in knocks if " 503 " in line]
    return {
        "viewers_served": served,
        "knockers": KNOCKERS,
        "knocks": len(knocks),
        "knocks_refused_503": len(refused),
        "knock_answer_p95_ms": round(percentile(refused, 0.95) * 1000, 1) if refused else None,
        "login_p50_ms": round(statistics.median(login) * 1000, 1),
        "login_p95_ms": round(percentile(login, 0.95) * 1000, 1),
        "status_api_p50_ms": round(statistics.median(api) * 1000, 1),
        "status_api_p95_ms": round(percentile(api, 0.95) * 1000, 1),
        "request_failures": failures,
        "target": "login and status p95 < 1000 ms; every knock 503",
    }


def server_processes(pid: int) -> list[int]:
    found, todo = [pid], [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found += children
            todo += children
    return found


def proc_status(pid: int) -> dict:
    fields = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            fields[key] = value.strip()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return {}
    role = "other"
    if "spawn_main" in cmdline:
        role = "face engine worker process"
    elif "resource_tracker" in cmdline:
        role = "multiprocessing resource tracker"
    return {
        "pid": pid,
        "role": role,
        "rss_mb": round(int(fields.get("VmRSS", "0 kB").split()[0]) / 1024, 1),
        "threads": int(fields.get("Threads", 0)),
    }


def snapshot(server_pid: int) -> list[dict]:
    processes = [proc_status(pid) for pid in server_processes(server_pid)]
    processes = [p for p in processes if p]
    if processes:
        processes[0]["role"] = "gunicorn master"
    if len(processes) > 1:
        processes[1]["role"] = "gunicorn worker (web process)"
    return processes


def api_client(port: int, token: str, stop: threading.Event, counts: dict):
    paths = ("/api/v1/stream/status", "/api/v1/users")
    while not stop.is_set():
        for path in paths:
            code = get(f"http://127.0.0.1:{port}{path}", token)
            counts["requests"] += 1
            counts["errors"] += code != 200
        stop.wait(0.5)


def soak(port: int, token: str, server_pid: int, minutes: float) -> dict:
    deadline = time.monotonic() + 30  # the capacity run's viewers have left
    while status(port, token)["viewers"] and time.monotonic() < deadline:
        time.sleep(0.5)
    viewers = Viewers(port, 50)
    stop = threading.Event()
    counts = {"requests": 0, "errors": 0}
    clients = [
        threading.Thread(target=api_client, args=(port, token, stop, counts), daemon=True)
        for _ in range(2)
    ]
    for thread in clients:
        thread.start()
    time.sleep(5)  # everyone streaming
    start = snapshot(server_pid)
    frames_before, started = viewers.frames(), time.monotonic()
    time.sleep(minutes * 60)
    elapsed = time.monotonic() - started
    fps = [(b - a) / elapsed for a, b in zip(frames_before, viewers.frames(), strict=True)]
    end = snapshot(server_pid)
    source_fps = status(port, token)["source_fps"]
    stop.set()
    for thread in clients:
        thread.join(15)
    cut_off = viewers.cut_off()
    heads = viewers.heads()
    viewers.close()
    return {
        "minutes": minutes,
        "viewers": 50,
        "api_clients": 2,
        "source_fps": source_fps,
        "viewer_fps_ratio_min": round(min(fps) / source_fps, 3),
        "viewer_fps_ratio_mean": round(statistics.mean(fps) / source_fps, 3),
        "api_requests": counts["requests"],
        "api_errors": counts["errors"],
        "viewers_cut_off": cut_off,
        "viewer_answers": heads,
        "processes_start": start,
        "processes_end": end,
        "rss_total_mb_start": round(sum(p["rss_mb"] for p in start), 1),
        "rss_total_mb_end": round(sum(p["rss_mb"] for p in end), 1),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="soak length (default 1)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.db"
        token = prepare_database(db_path)
        port = free_port()
        server = start_server(db_path, port)
        try:
            get(f"http://127.0.0.1:{port}/api/v1/stream/start", token)
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v1/stream/start",
                method="POST",
                headers={"Authorization": f"Bearer {token}"},
            )
            urllib.request.urlopen(request, timeout=30).close()
            deadline = time.monotonic() + 90
            while status(port, token)["recognition_hz"] == 0:
                if time.monotonic() > deadline:
                    raise RuntimeError("recognition did not start")
                time.sleep(0.5)
            result = {
                "benchmark": "hardening",
                "capacity": capacity(port, token),
                "soak": soak(port, token, server.pid, args.minutes),
            }
        finally:
            server.terminate()
            server.wait(15)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
