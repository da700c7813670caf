"""The event sinks: one interface (deliver, close, health, metrics), found by their module."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest
from prometheus_client.parser import text_string_to_metric_families

from facerec import events
from facerec.events import EventSink, sink_classes

from .servers import wait_for
from .test_webhooks import SIGHTING

pytestmark = pytest.mark.sqlite_only


def test_are_webhooks_and_mqtt_sinks_of_one_interface():
    from facerec.events.mqtt import MqttPublisher
    from facerec.events.webhooks import WebhookSender

    found = sink_classes()
    assert WebhookSender in found and MqttPublisher in found
    for kind in found:
        assert issubclass(kind, EventSink) and kind.name


def test_is_mqtt_left_out_without_a_broker_url(app):
    names = [sink.name for sink in events.sinks(app)]
    assert "webhooks" in names and "mqtt" not in names


SINK_MODULE = '''
"""A sink that keeps events in memory (the test's new file)."""

from prometheus_client.core import CounterMetricFamily

from .sink import PASS, WARN, EventSink, check


class MemorySink(EventSink):
    name = "memory"

    @classmethod
    def from_app(cls, app):
        return cls() if app.config.get("MEMORY_SINK") else None

    def __init__(self):
        self.events = []
        self.closed = False

    def deliver(self, event):
        self.events.append(event)

    def close(self, timeout=0.0):
        self.closed = True

    def health(self):
        status = WARN if len(self.events) > 1 else PASS
        return {"memory": [check(status, observed_value=len(self.events))]}

    def metrics(self):
        family = CounterMetricFamily("facerec_memory_events", "Events kept in memory.")
        family.add_metric([], len(self.events))
        yield family
'''


@pytest.fixture
def memory_sink_module(tmp_path, monkeypatch):
    """A new module of facerec.events (in a folder added to the package's path)."""
    (tmp_path / "memory_sink_for_test.py").write_text(textwrap.dedent(SINK_MODULE))
    monkeypatch.setattr(events, "__path__", [*events.__path__, str(tmp_path)])
    yield
    sys.modules.pop("facerec.events.memory_sink_for_test", None)


def test_is_a_new_sink_one_new_file(memory_sink_module, app_factory):
    """Events, /readyz and /metrics reach a sink that no other file names."""
    app = app_factory(MEMORY_SINK=True, FACEREC_METRICS_PUBLIC=True)
    sink = app.extensions["memory"]
    client = app.test_client()
    events.publish("sighting.started", SIGHTING, app=app)
    assert wait_for(lambda: len(sink.events) == 1, 5)
    assert sink.events[0].sighting == SIGHTING
    ready = json.loads(client.get("/readyz").get_data())
    assert ready["checks"]["memory"] == [
        {"status": "pass", "componentType": "component", "observedValue": 1}
    ]
    events.publish("sighting.ended", SIGHTING, app=app)
    assert wait_for(lambda: len(sink.events) == 2, 5)
    ready = json.loads(client.get("/readyz").get_data())
    assert ready["checks"]["memory"][0]["status"] == "warn"
    text = client.get("/metrics").get_data(as_text=True)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["facerec_memory_events"].samples[0].value == 2
    events.close(app)
    assert sink.closed


def test_does_a_sink_that_breaks_its_health_leave_readiness_answering(app, monkeypatch):
    sender = app.extensions["webhooks"]

    def broken():
        raise RuntimeError("bug")

    monkeypatch.setattr(sender, "health", broken)
    response = app.test_client().get("/readyz")
    body = json.loads(response.get_data())
    assert body["checks"]["webhooks"] == [
        {"status": "warn", "componentType": "system", "output": "its state could not be read"}
    ]
