"""What the engine counts for /metrics: how long a camera waits for its results."""

from __future__ import annotations

import bisect

# Upper bounds (seconds) of the recognition latency buckets shown by /metrics.
LATENCY_BUCKETS = (0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0)


class LatencyStats:
    """A histogram of seconds from a frame handed to a worker to its result coming back."""

    def __init__(self, buckets=LATENCY_BUCKETS):
        self.buckets = tuple(buckets)
        self.counts = [0] * (len(self.buckets) + 1)  # the last one is +Inf
        self.total = 0.0
        self.count = 0

    def observe(self, seconds: float):
        self.counts[bisect.bisect_left(self.buckets, seconds)] += 1
        self.total += seconds
        self.count += 1

    def cumulative(self) -> list[tuple[str, int]]:
        """``[(le, count)]`` as Prometheus wants them, ending with ``+Inf``."""
        running, out = 0, []
        for bound, count in zip((*self.buckets, float("inf")), self.counts, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(bound), running))
        return out
