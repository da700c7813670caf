"""What every place events go to implements: deliver, close, health, metrics.

A sink is one module in this package holding one ``EventSink`` subclass (webhooks, MQTT,
notifications). ``events.init_app`` finds every such class, asks each ``from_app(app)`` for
an instance (None when the app does not use it, e.g. no broker configured) and hands every
event to the sinks it got. ``/readyz`` and ``/metrics`` ask the same sinks for their checks
and figures, so adding a sink is adding one file: nothing else names it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from . import Event

PASS, WARN, FAIL = "pass", "warn", "fail"  # the health check draft's statuses


def check(status: str, component_type: str = "component", **fields) -> dict:
    """One health check result in the ``application/health+json`` shape (IETF draft).

    ``fields``: ``component_id``, ``observed_value``, ``output`` (a reason; never a name, a
    path or a URL: /readyz is anonymous), written in the draft's camelCase.
    """
    result = {"status": status, "componentType": component_type}
    for key, value in fields.items():
        if value is not None:
            head, *rest = key.split("_")
            result[head + "".join(word.title() for word in rest)] = value
    return result


class EventSink(ABC):
    """A place events go to. ``deliver`` runs on the event bus's one dispatcher thread, so it
    must only queue or hand the slow work on (a network call there would hold every sink)."""

    #: The sink's key in ``app.extensions`` and in the health checks.
    name: ClassVar[str]

    @classmethod
    @abstractmethod
    def from_app(cls, app) -> EventSink | None:
        """The sink for ``app``, or None when its settings do not ask for one."""

    def start(self) -> None:  # noqa: B027 (optional: most sinks start on their first event)
        """Called on each request: connect in the background if not yet done. Cheap."""

    @abstractmethod
    def deliver(self, event: Event) -> None:
        """Take one event (dispatcher thread): queue it, never wait on the network."""

    @abstractmethod
    def close(self, timeout: float = 0.0) -> None:
        """Stop; with ``timeout``, wait that long for work under way."""

    @abstractmethod
    def health(self) -> dict[str, list[dict]]:
        """Checks for /readyz: ``{"component[:measurement]": [check(...), ...]}``."""

    @abstractmethod
    def metrics(self) -> Iterable[Metric]:
        """Prometheus metric families for /metrics, read at scrape time."""
