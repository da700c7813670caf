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
from ..extensions import db
from ..models import Camera
from ..recognizer import WorkerSettings
from .recognition import RecognitionPool
from .service import CameraService
from .sources import describe, redact

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


class CameraRegistry:
    def __init__(self, app, settings: WorkerSettings, pool: RecognitionPool, check_interval=1.0):
        self._app = app
        self.settings = settings
        self.pool = pool
        self.check_interval = check_interval
        configured = current_settings(app)
        self._service_options = {
            "delay": configured.stream_delay,
            "jpeg_quality": configured.jpeg_quality,
            "idle_timeout": configured.idle_timeout,
            "autostart": configured.autostart,
        }
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
        self._watchers: list = []  # callables(CameraService), told of every service built

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
        self.pool.close()

    # ---- keeping the services in step -------------------------------------------------------

    def _settings_for(self, spec: CameraSpec) -> WorkerSettings:
        return dataclasses.replace(
            self.settings,
            tolerance=spec.tolerance or self.settings.tolerance,
            detect_width=spec.detect_width or self.settings.detect_width,
        )

    def _build(self, spec: CameraSpec) -> CameraService:
        service = CameraService(
            spec.source,
            self._settings_for(spec),
            camera=spec.name,
            recognizer_factory=lambda svc: self.pool.client(
                svc.camera,
                tolerance=svc.settings.tolerance,
                detect_width=svc.settings.detect_width,
            ),
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
                service.reconfigure(spec.source, self._settings_for(spec))
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


@dataclass
class Probe:
    """The result of opening a source once: a JPEG snapshot, or why not.

    For a network camera, ``error`` is "not reachable" or the HTTP status it answered,
    never the peer's own words (they would tell one kind of service from another).
    """

    jpeg: bytes | None = None
    error: str | None = None
    width: int = 0
    height: int = 0
    status: int | None = None  # the HTTP status of an http(s) camera


NOT_REACHABLE = "not reachable"


def _http_answer(source: str, app) -> tuple[int | None, str | None]:
    """An http(s) camera's HTTP status and, when it cannot give a picture, why not."""
    from .. import outbound

    status = outbound.http_status(source, lan=True, app=app)
    if status is None:
        return None, NOT_REACHABLE
    if 300 <= status < 400:
        return status, (
            f"reachable, but it answered HTTP {status}: a redirect, which cameras do not "
            "follow; enter the address it leads to"
        )
    if status >= 400:
        return status, f"reachable, but it answered HTTP {status}"
    return status, None


def probe(
    source: str, running: CameraService | None = None, max_width: int = 640, app=None
) -> Probe:
    """Open ``source`` once and take one frame (or the running camera's newest frame)."""
    import cv2

    from . import drawing
    from .sources import SourceError, is_networked, open_source

    frame, status = None, None
    if running is not None and running.running and running.source == source:
        shot = running.snapshot()  # the device is already open: do not open it twice
        if shot is not None:
            frame = shot[1][:, :, ::-1]
    if frame is None:
        networked = is_networked(source)
        if source.strip().lower().startswith(("http://", "https://")):
            status, problem = _http_answer(source.strip(), app)
            if problem:
                return Probe(error=problem, status=status)
        stop = threading.Event()
        opened = None
        try:
            opened = open_source(source)
            frame = next(iter(opened.frames(stop)), (None, None))[1]
        except SourceError as exc:
            log.info("testing camera %s failed: %s", describe(source), redact(str(exc), source))
            return Probe(error=NOT_REACHABLE if networked else str(exc), status=status)
        except Exception as exc:  # an OpenCV error: say so rather than fail the page
            log.warning("testing camera %s failed: %s", describe(source), exc)
            return Probe(error=NOT_REACHABLE if networked else "the camera cannot be read")
        finally:
            stop.set()
            if opened is not None:
                opened.release()
        if frame is None:
            return Probe(error="the source opened but delivered no frame", status=status)
    height, width = frame.shape[:2]
    if width > max_width:
        frame = cv2.resize(frame, (max_width, round(height * max_width / width)))
    jpeg = drawing.encode_jpeg(frame, 85)
    return Probe(jpeg=jpeg, width=width, height=height, status=status)
