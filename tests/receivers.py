"""Webhook receivers for the tests and benchmarks: a recording HTTP server, a silent socket."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """An HTTP server on a free loopback port that records every POST and answers ``status``.

    With ``location`` set, every request (GET too) is answered with a 307 redirect there.
    """

    def __init__(self, status: int = 200, host: str = "127.0.0.1"):
        self.status = status
        self.location: str | None = None
        self.requests: list[dict] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._cond:
                    receiver.requests.append(
                        {
                            "path": self.path,
                            "headers": dict(self.headers.items()),
                            "body": body,
                            "at": time.perf_counter(),
                        }
                    )
                    receiver._cond.notify_all()
                if receiver.location:
                    self.send_response(307)
                    self.send_header("Location", receiver.location)
                else:
                    self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, count: int = 1, timeout: float = 10.0, event: str | None = None) -> list[dict]:
        """The first ``count`` requests (of ``event`` if given), waiting up to ``timeout`` s."""

        def matching():
            return [
                r
                for r in self.requests
                if event is None or r["headers"].get("X-Facerec-Event") == event
            ]

        with self._cond:
            self._cond.wait_for(lambda: len(matching()) >= count, timeout)
            return matching()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class SilentReceiver:
    """Accepts TCP connections and never answers (a hung receiver)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.connections: list[socket.socket] = []
        self._stop = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(conn)  # held open, never read, never answered

    def close(self):
        self._stop = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        self.sock.close()
        self.thread.join(5)
        for conn in self.connections:
            conn.close()


def closed_port_url() -> str:
    """A loopback URL where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"
