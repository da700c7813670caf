"""A throwaway PostgreSQL server for the tests and benchmarks (Debian's `postgresql` binaries).

``PostgresServer`` runs ``initdb`` and ``pg_ctl`` in a temporary directory, listens on a free
loopback port with a random password, and is deleted by ``stop()``. Tests run as root in CI
and ``initdb`` refuses root, so as root the server runs as the unprivileged ``nobody``.
Durability is switched off (``fsync=off``): the data is thrown away anyway, and it makes the
one database per test that the suite creates cheap.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

INSTALL_HINT = (
    "PostgreSQL's server programs (initdb, pg_ctl) were not found. Install Debian's "
    "`postgresql` package (`make postgresql`), or set FACEREC_PG_BINDIR to their folder, "
    "or run the suite on SQLite alone with `pytest --db=sqlite`."
)


def find_bindir() -> Path:
    """The folder holding initdb and pg_ctl: FACEREC_PG_BINDIR, pg_config, Debian's layout, PATH."""
    candidates = []
    if os.environ.get("FACEREC_PG_BINDIR"):
        candidates.append(os.environ["FACEREC_PG_BINDIR"])
    if shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            out = subprocess.run(
                ["pg_config", "--bindir"], capture_output=True, text=True, check=True
            )
            candidates.append(out.stdout.strip())
    # Debian installs each major version beside the others; take the newest.
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(versions, key=lambda p: int(Path(p).parent.name), reverse=True)
    if shutil.which("initdb"):
        candidates.append(str(Path(shutil.which("initdb")).resolve().parent))
    for folder in candidates:
        if (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    raise RuntimeError(INSTALL_HINT)


PR_SET_PDEATHSIG = 1
# Looked up here, in the parent: the child between fork and exec only calls it (no dlopen
# there, which another thread of the test process might have been holding a lock of).
_prctl = ctypes.CDLL(None, use_errno=True).prctl


def _die_with_parent():
    """In the child before exec: SIGQUIT (immediate shutdown) when the test process dies."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGQUIT)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """One PostgreSQL cluster in a temporary directory; ``url(name)`` for SQLAlchemy."""

    user = "facerec"

    def __init__(self, bindir: Path | None = None):
        self.bindir = bindir or find_bindir()
        self.password = secrets.token_hex(16)
        self.port: int | None = None
        self.root: Path | None = None
        self._run_as: dict = {}
        self._process: subprocess.Popen | None = None
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            self._run_as = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}

    def _run(self, *args, check=True):
        return subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            check=check,
            cwd=self.root,
            env={**os.environ, "LC_ALL": "C", "LANG": "C"},
            **self._run_as,
        )

    def start(self) -> PostgresServer:
        self.root = Path(tempfile.mkdtemp(prefix="facerec-pg-"))
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        if self._run_as:
            os.chown(self.root, self._run_as["user"], self._run_as["group"])
            os.chown(pwfile, self._run_as["user"], self._run_as["group"])
        # C collation sorts by code point, as SQLite does; UTF8 holds every name.
        self._run(
            "initdb", "-D", str(self.root / "data"), "-U", self.user, f"--pwfile={pwfile}",
            "--auth=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync",
        )  # fmt: skip
        pwfile.unlink()
        for _attempt in range(3):
            self.port = free_port()  # another program may take it first: then try another
            if self._launch():
                return self
        log = (self.root / "server.log").read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"PostgreSQL did not start:\n{log}")

    def _launch(self) -> bool:
        """Start ``postgres`` as our child (it dies with us) and wait until it answers."""
        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.root),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "300",
            "shared_buffers": "32MB",
        }
        command = [
            str(self.bindir / "postgres"),
            "-D",
            str(self.root / "data"),
            "-p",
            str(self.port),
        ]
        for key, value in settings.items():
            command += ["-c", f"{key}={value}"]
        with open(self.root / "server.log", "ab") as log:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                env={**os.environ, "LC_ALL": "C", "LANG": "C"},
                preexec_fn=_die_with_parent,
                **self._run_as,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            try:
                self.connect().close()
                return True
            except Exception:  # not accepting connections yet
                time.sleep(0.1)
        self._process.kill()
        self._process.wait()
        return False

    def halt(self):
        """An outage: the server stops (its sessions cut), its data kept; ``resume()``."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)
            self._process.wait(15)

    def resume(self):
        """Start the halted server again, on the same port."""
        if not self._launch():
            raise RuntimeError("PostgreSQL did not start again")

    def stop(self):
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)  # fast shutdown: end sessions, stop
            try:
                self._process.wait(15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres"):
        """A psycopg connection in autocommit mode (CREATE/DROP DATABASE need it)."""
        import psycopg

        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database,
            autocommit=True,
        )

    def create_database(self, name: str, template: str | None = None):
        from psycopg import sql

        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with self.connect() as conn:
            conn.execute(statement)

    def drop_database(self, name: str):
        from psycopg import sql

        with self.connect() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
