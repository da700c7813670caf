"""Prometheus metrics: one CollectorRegistry per app (the test suite makes many apps).

Request counts and latencies are observed as requests finish. Everything else (cameras, the
recognition worker, events, and each event sink's own figures) is read from the objects that
already count it, at scrape time, by one collector: nothing on the capture path knows about
Prometheus.
"""

from __future__ import annotations

import time

from flask import current_app, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from .. import engine
from ..camera.service import ACTIVITIES
from ..engine import LatencyStats

REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class FacerecCollector:
    """Reads the app's cameras, recognizers, event bus and sinks when /metrics is scraped."""

    def __init__(self, app):
        self.app = app

    def describe(self):
        return []  # collected on demand; nothing to check at registration

    def collect(self):
        from . import camera_name, cameras

        with self.app.app_context():
            services = [(camera_name(cam), cam) for cam in cameras()]
            pool = engine.of(self.app)
            events = self.app.extensions.get("events")
            writer = self.app.extensions.get("sightings")
        yield from self._cameras(services)
        yield _gauge(
            "facerec_recognition_workers",
            "Face engine worker processes (shared by the cameras and photo requests).",
            pool.workers,
        )
        yield _counter(
            "facerec_recognition_worker_restarts",
            "Face engine worker processes replaced after dying or hanging.",
            pool.restarts,
        )
        if events is not None:
            yield _counter(
                "facerec_events_published", "Events queued for delivery.", events.published
            )
            yield _counter(
                "facerec_events_dropped",
                "Events dropped because the event queue was full.",
                events.dropped,
            )
            started = CounterMetricFamily(
                "facerec_sightings_started",
                "Sightings started, by whether the face was a known person.",
                labels=["identity"],
            )
            for identity, count in events.started.items():
                started.add_metric([identity], count)
            yield started
        if writer is not None:
            yield _counter(
                "facerec_sightings_written", "Track events written to the history.", writer.written
            )
            yield _counter(
                "facerec_sightings_dropped",
                "Track events dropped because the sightings queue was full (never blocks capture).",
                writer.dropped,
            )
            yield _counter(
                "facerec_sightings_failed",
                "Track events the database refused (logged; the camera goes on).",
                writer.failed,
            )
            yield GaugeMetricFamily(
                "facerec_sightings_pending",
                "Track events not written yet: queued, or kept (memory, then disk) while the "
                "database is unavailable; written when it is back.",
                value=writer.pending,
            )
        # Each sink (webhooks, MQTT, ...) says what it counts.
        for sink in events.sinks if events is not None else ():
            yield from sink.metrics()

    def _cameras(self, services):
        gauges = {
            "source_fps": ("facerec_camera_source_fps", "Frames per second the source delivers."),
            "fps": ("facerec_camera_output_fps", "Annotated frames per second sent to viewers."),
            "recognition_hz": (
                "facerec_camera_recognition_rate",
                "Recognition results per second.",
            ),
            "viewers": ("facerec_camera_viewers", "Viewers of the camera's stream."),
            "running": ("facerec_camera_running", "1 while the camera is capturing."),
        }
        families = {
            key: GaugeMetricFamily(name, text, labels=["camera"])
            for key, (name, text) in gauges.items()
        }
        dropped = CounterMetricFamily(
            "facerec_recognizer_dropped_frames",
            "Frames not recognised because the worker was busy (by design: never queued).",
            labels=["camera"],
        )
        restarts = CounterMetricFamily(
            "facerec_recognizer_restarts",
            "Recognition worker restarts that lost one of this camera's frames.",
            labels=["camera"],
        )
        latency = HistogramMetricFamily(
            "facerec_recognition_latency_seconds",
            "Seconds from a frame sent to the recognition worker to its result.",
            labels=["camera"],
        )
        # What the motion gate and settled tracks saved, and what was done (camera.pipeline).
        work = {
            "frames_gated": (
                "facerec_frames_gated",
                "Frames not searched for faces: nothing moved and no face was in view.",
            ),
            "detections": (
                "facerec_detections",
                "Searches for faces (whole frames, or the regions that move).",
            ),
            "encodings": ("facerec_encodings", "Faces encoded and matched (the costly step)."),
            "encodings_skipped": (
                "facerec_encodings_skipped",
                "Faces found where a face whose name is settled was: located, not encoded.",
            ),
        }
        counted = {
            key: CounterMetricFamily(name, text, labels=["camera"])
            for key, (name, text) in work.items()
        }
        activity = GaugeMetricFamily(
            "facerec_camera_activity",
            "1 for the camera's activity now (idle, watching, recognising), 0 for the others.",
            labels=["camera", "activity"],
        )
        for name, cam in services:
            status = cam.status()
            for key, family in families.items():
                family.add_metric([name], float(status.get(key) or 0))
            feed = cam.feed
            dropped.add_metric([name], feed.dropped if feed else 0)
            restarts.add_metric([name], feed.restarts if feed else 0)
            stats = feed.latency if feed is not None else LatencyStats()
            latency.add_metric([name], stats.cumulative(), sum_value=stats.total)
            for key, family in counted.items():
                family.add_metric([name], status[key])
            for state in ACTIVITIES:
                activity.add_metric([name, state], 1 if status["activity"] == state else 0)
        yield from families.values()
        yield from counted.values()
        yield activity
        yield dropped
        yield restarts
        yield latency


def _counter(name, text, value):
    family = CounterMetricFamily(name, text)
    family.add_metric([], value)
    return family


def _gauge(name, text, value):
    family = GaugeMetricFamily(name, text)
    family.add_metric([], value)
    return family


class Metrics:
    """The app's registry and its request metrics."""

    def __init__(self, app):
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter(
            "facerec_http_requests",
            "HTTP requests by endpoint, method and status.",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "facerec_http_request_duration_seconds",
            "Seconds to answer a request (to the first byte for streams).",
            ["endpoint", "method"],
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(FacerecCollector(app))


def init_app(app):
    metrics = Metrics(app)
    app.extensions["metrics"] = metrics

    @app.before_request
    def _start_timer():
        g._metrics_started = time.perf_counter()

    @app.after_request
    def _observe(response):
        started = g.pop("_metrics_started", None)
        endpoint = request.endpoint or "unmatched"
        if started is not None and endpoint != "static":
            method = request.method
            metrics.requests.labels(endpoint, method, str(response.status_code)).inc()
            metrics.latency.labels(endpoint, method).observe(time.perf_counter() - started)
        return response

    return metrics


def registry():
    return current_app.extensions["metrics"].registry
