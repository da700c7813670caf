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


class SmtpServer:
    """A real SMTP server (aiosmtpd) on a free loopback port that keeps every message.

    ``messages``: ``(arrival perf_counter, email.message.EmailMessage, recipients)``;
    ``arrived``: the wall-clock time (``time.time()``) each was accepted, in the same order.
    """

    def __init__(self):
        import email
        import email.policy

        from aiosmtpd.controller import Controller

        self.messages: list[tuple[float, object, list[str]]] = []
        self.arrived: list[float] = []
        self._cond = threading.Condition()
        server = self

        class Handler:
            async def handle_DATA(self, _server, _session, envelope):
                message = email.message_from_bytes(envelope.content, policy=email.policy.default)
                with server._cond:
                    server.messages.append((time.perf_counter(), message, envelope.rcpt_tos))
                    server.arrived.append(time.time())
                    server._cond.notify_all()
                return "250 Message accepted for delivery"

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self._make = lambda: Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller = None
        self.start()

    def start(self):
        """Listen (again, on the same port after ``stop()``)."""
        self.controller = self._make()
        self.controller.start()

    def url(self, to: str = "door@example.org", **params) -> str:
        """The Apprise URL that sends mail here (plain SMTP on loopback, no password)."""
        query = "&".join(f"{k}={v}" for k, v in {"to": to, **params}.items())
        return f"mailto://127.0.0.1:{self.port}?from=facerec@example.net&mode=insecure&{query}"

    def to(self, address: str) -> list:
        return [m for _at, m, rcpt in self.messages if address in rcpt]

    def wait(self, count: int = 1, timeout: float = 30.0, to: str | None = None) -> list:
        """The first ``count`` messages (to ``to`` if given), waiting up to ``timeout`` s."""

        def matching():
            return [m for _at, m, rcpt in self.messages if to is None or to in rcpt]

        with self._cond:
            self._cond.wait_for(lambda: len(matching()) >= count, timeout)
            return matching()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
