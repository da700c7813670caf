"""A real RTSP server for the tests and benchmarks: ``gst_rtsp_server.py`` (GStreamer's
gst-rtsp-server) run by Debian's own Python on a free loopback port.

``RtspServer(video, cache).start()`` serves the video at each size asked for
(``url("main")``); ``kill()`` drops it as a crash or a pulled cable would, ``start()`` brings
it back on the same port, ``pause()``/``resume()`` freeze it (SIGSTOP/SIGCONT) with every
connection left open, as a hung camera does.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from tests.pgserver import _die_with_parent, free_port

PROGRAM = Path(__file__).resolve().parent / "gst_rtsp_server.py"
# Debian's interpreter, where python3-gi and the GStreamer bindings live (not the venv's).
PYTHON = os.environ.get("FACEREC_GST_PYTHON", "/usr/bin/python3")
INSTALL_HINT = (
    "The RTSP tests need GStreamer's RTSP server and Debian's python3-gi: run `make rtsp` "
    "(it installs gir1.2-gst-rtsp-server-1.0, python3-gi and the GStreamer plug-ins)."
)


class RtspServer:
    def __init__(self, video: Path, cache: Path, streams: dict[str, tuple[int, int]]):
        self.video, self.cache, self.streams = Path(video), Path(cache), dict(streams)
        self.port = free_port()
        self.log = self.cache / f"rtsp-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def url(self, name: str = "main") -> str:
        return f"rtsp://127.0.0.1:{self.port}/{name}"

    def start(self) -> RtspServer:
        """Start serving (the first start of a size encodes the video: up to a minute)."""
        self.cache.mkdir(parents=True, exist_ok=True)
        command = [PYTHON, str(PROGRAM), "--port", str(self.port), "--video", str(self.video)]
        command += ["--cache", str(self.cache)]
        for name, (width, height) in self.streams.items():
            command += ["--stream", f"{name}={width}x{height}"]
        with open(self.log, "ab") as log:
            try:
                self.process = subprocess.Popen(
                    command,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    preexec_fn=_die_with_parent,  # only a prctl call: safe in a threaded parent
                )
            except FileNotFoundError:
                raise RuntimeError(f"{PYTHON} not found. {INSTALL_HINT}") from None
        line = self.process.stdout.readline()  # "ready", or nothing when it exits
        if line.strip() != b"ready":
            self.process.kill()
            self.process.wait()
            text = self.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the RTSP server did not start: {text}\n{INSTALL_HINT}")
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self):
        """Gone at once, every connection reset (SIGKILL: no goodbye to the clients)."""
        if self.process is not None:
            if self.process.poll() is None:
                os.kill(self.process.pid, signal.SIGCONT)  # a paused server dies too
                self.process.kill()
            self.process.wait(10)
            self.process.stdout.close()
            self.process = None

    def pause(self):
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.process.pid, signal.SIGCONT)

    stop = kill
