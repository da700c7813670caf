"""Every camera of the server, kept in step with the ``cameras`` table.

The registry reads the table at most once a second (one small query) when someone asks for
the cameras, and starts, reconfigures or closes camera services to match, so a camera added,
changed, disabled or deleted by any process sharing the database (the admin page, the CLI,
another server) takes effect without a restart. With no row at all, ``FACEREC_CAMERA``
defines one camera named ``main``.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ..config import current_settings
from ..engine import Engine
from ..extensions import db
from ..models import Camera
from .lease import Lease, close_stale_sightings, new_owner
from .service import CameraService
from .sources import SourceOptions, describe
from .tuning import Tuning

log = logging.getLogger(__name__)

ENV_CAMERA = "main"


@dataclass(frozen=True)
class CameraSpec:
    """What a camera service is built from (a row of the table, or FACEREC_CAMERA)."""

    name: str
    source: str
    enabled: bool = True
    detect_width: int | None = None
    tolerance: float | None = None
    transport: str = "tcp"
    snapshot_rate: float | None = None
    motion_gate: bool | None = None
    motion_area: float | None = None
    recheck_interval: float | None = None
    detect_source: str | None = None


class CameraRegistry:
    def __init__(self, app, engine: Engine, check_interval=1.0):
        self._app = app
        self.engine = engine  # the process's face engine, shared with photo uploads
        self.check_interval = check_interval
        configured = current_settings(app)
        self._service_options = {
            "delay": configured.stream_delay,
            "jpeg_quality": configured.jpeg_quality,
            "idle_timeout": configured.idle_timeout,
            "autostart": configured.autostart,
        }
        self._source_options = SourceOptions(
            timeout=configured.camera_timeout, snapshot_rate=configured.snapshot_rate
        )
        self._env_source = configured.camera.strip()
        # Several servers on one database each run the cameras stored under their name; the
        # FACEREC_CAMERA camera of a named server takes the server's name.
        self.server = configured.server
        self.env_name = self.server or ENV_CAMERA
        self._lock = threading.RLock()
        self._specs: list[CameraSpec] = []
        self._services: dict[str, CameraService] = {}  # enabled cameras, in table order
        self._unconfigured: CameraService | None = None
        self._loaded: tuple | None = None
        self._checked = -float("inf")
        self._closed = False
        self._failing = False
        self._watcher: threading.Thread | None = None
        self._swept = False  # the sightings dead processes left open: closed by watch()
        self.lease_owner = new_owner()  # who this server is, in camera_leases
        self._watchers: list = []  # callables(CameraService), told of every service built

    def watch(self):
        """Keep every enabled camera running, viewer or not (``FACEREC_AUTOSTART``).

        A thread looks at the table every ``check_interval`` seconds, so a camera added or
        enabled by any process (the CLI, another server's page) starts at once too. Called
        by the server (wsgi.py), not by ``create_app``: commands and tests open no camera.
        First the sightings a stopped process left "in view" are closed
        (``lease.close_stale_sightings``), autostart or not.
        """
        with self._lock:
            first = not self._swept
            self._swept = True
        if first:
            close_stale_sightings(self._app)
        if not self._service_options["autostart"]:
            return
        with self._lock:
            if self._watcher is not None or self._closed:
                return
            self._watcher = threading.Thread(
                target=self._keep_watching, name="facerec-camera-watch", daemon=True
            )
            self._watcher.start()

    def _keep_watching(self):
        while not self._closed:
            try:
                for service in self.services():
                    service.keep_watching()
            except Exception:  # a bad row or a database hiccup: try again at the next look
                log.exception("keeping the cameras running failed")
            time.sleep(self.check_interval)

    def on_service(self, callback):
        """Call ``callback(service)`` for every camera service, now and whenever one is built.

        For code that hangs off every camera (the sightings writer, metrics): cameras come
        and go with the table, so attaching to ``services()`` once is not enough.
        """
        with self._lock:
            self._watchers.append(callback)
            current = list(self._services.values())
            if self._unconfigured is not None:
                current.append(self._unconfigured)
        for service in current:
            callback(service)

    # ---- what the app asks ------------------------------------------------------------------

    def specs(self) -> list[CameraSpec]:
        """Every camera, enabled or not, in order (the first one is the default camera)."""
        self.refresh()
        return list(self._specs)

    def services(self) -> list[CameraService]:
        """The service of every enabled camera, in order."""
        self.refresh()
        return list(self._services.values())

    def get(self, name: str) -> CameraService | None:
        self.refresh()
        return self._services.get(name)

    def tuning(self, name: str) -> Tuning:
        """How camera ``name`` recognises faces (its own values over the settings); the
        settings' alone for a camera this server does not have (deleted since, another
        server's)."""
        for spec in self.specs():
            if spec.name == name:
                return self._tuning_for(spec)
        return Tuning.of(current_settings(self._app))

    def first(self) -> CameraService:
        """The first enabled camera; without any, a service that says none is configured."""
        services = self.services()
        if services:
            return services[0]
        with self._lock:
            if self._unconfigured is None:
                self._unconfigured = self._build(CameraSpec(self.env_name, ""))
            return self._unconfigured

    def refresh(self, force: bool = False):
        """Compare the table with what runs (at most every ``check_interval`` seconds)."""
        if not force and time.monotonic() - self._checked < self.check_interval:
            return
        with self._lock:
            if self._closed:
                return
            if not force and time.monotonic() - self._checked < self.check_interval:
                return
            try:
                with self._app.app_context(), db.engine.connect() as conn:
                    rows = conn.execute(
                        select(
                            Camera.name,
                            Camera.source,
                            Camera.enabled,
                            Camera.detect_width,
                            Camera.tolerance,
                            Camera.transport,
                            Camera.snapshot_rate,
                            Camera.motion_gate,
                            Camera.motion_area,
                            Camera.recheck_interval,
                            Camera.detect_source,
                        )
                        .where(Camera.server == self.server)
                        .order_by(Camera.id)
                    ).all()
            except SQLAlchemyError as exc:  # no table yet (not migrated), database down...
                # Asked again on the next call: a table created a moment later (a test's
                # create_all, a migration) must not wait for the interval.
                if not self._failing:
                    log.warning("cannot read the cameras table: %s", exc.__class__.__name__)
                self._failing = True
                return
            self._failing = False
            self._checked = time.monotonic()
            loaded = tuple(tuple(row) for row in rows)
            if loaded == self._loaded:
                return
            self._loaded = loaded
            specs = [CameraSpec(*row) for row in rows]
            if not specs and self._env_source:
                specs = [CameraSpec(self.env_name, self._env_source)]
            self._apply(specs)

    def close(self):
        with self._lock:
            self._closed = True
            services = list(self._services.values())
            if self._unconfigured is not None:
                services.append(self._unconfigured)
            self._services.clear()
        for service in services:
            service.close()

    # ---- keeping the services in step -------------------------------------------------------

    def _tuning_for(self, spec: CameraSpec) -> Tuning:
        return Tuning.of(
            current_settings(self._app),
            tolerance=spec.tolerance,
            detect_width=spec.detect_width,
            motion_gate=spec.motion_gate,
            motion_area=spec.motion_area,
            recheck=spec.recheck_interval,
        )

    def source_options(self, transport: str | None, snapshot_rate: float | None) -> SourceOptions:
        """How to read a camera with these stored values (empty: the server's settings)."""
        return dataclasses.replace(
            self._source_options,
            transport=transport or "tcp",
            snapshot_rate=snapshot_rate or self._source_options.snapshot_rate,
        )

    def _options_for(self, spec: CameraSpec) -> SourceOptions:
        return self.source_options(spec.transport, spec.snapshot_rate)

    def _build(self, spec: CameraSpec) -> CameraService:
        database = current_settings(self._app).database_url
        service = CameraService(
            spec.source,
            self._tuning_for(spec),
            camera=spec.name,
            options=self._options_for(spec),
            detect_source=spec.detect_source,
            feed_factory=lambda svc: self.engine.feed(svc.camera, database),
            lease=Lease(self._app, spec.name, self.lease_owner) if spec.source else None,
            **self._service_options,
        )
        for callback in list(self._watchers):
            try:
                callback(service)
            except Exception:  # one watcher's bug must not keep a camera from starting
                log.exception("camera watcher %r failed", callback)
        return service

    def _apply(self, specs: list[CameraSpec]):
        old = {spec.name: spec for spec in self._specs}
        wanted = {spec.name: spec for spec in specs if spec.enabled}
        for name, service in list(self._services.items()):
            spec = wanted.get(name)
            if spec is None:
                log.info("camera %s removed or disabled: stopping it", name)
                del self._services[name]
                service.close()
            elif spec != old.get(name):
                log.info("camera %s changed: now %s", name, describe(spec.source))
                service.reconfigure(
                    spec.source,
                    self._tuning_for(spec),
                    self._options_for(spec),
                    spec.detect_source,
                )
        services = {}
        for name, spec in wanted.items():
            service = self._services.get(name)
            if service is None:
                log.info("camera %s added: %s", name, describe(spec.source))
                service = self._build(spec)
            services[name] = service
        self._services = services
        self._specs = specs
        if services and self._unconfigured is not None:
            # Its viewers' streams end; the pages reconnect to the camera now configured.
            self._unconfigured.close()
            self._unconfigured = None
