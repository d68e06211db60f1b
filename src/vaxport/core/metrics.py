"""Prometheus metrics shared by every context; scraped at ``/metrics``."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import REGISTRY, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

_LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class HttpMetrics(Collector):
    """Requests by route template, method and status, and their latency histogram.

    Exposed as ``vaxport_http_requests_total`` and
    ``vaxport_http_request_duration_seconds``. Counted in plain dicts and lists, turned
    into metric families only when scraped: a labelled prometheus-client ``Counter`` and
    ``Histogram`` validate and take a lock on every call, which measured as a tenth of
    a no-op request. Only the event loop's thread observes (the request middleware).
    """

    def __init__(self, buckets: tuple[float, ...] = _LATENCY_BUCKETS) -> None:
        self.bounds = tuple(sorted(buckets))
        self._counts: dict[tuple[str, str, int], int] = {}
        # Per (route, method): one count per bound, then beyond the last bound, then sum.
        self._latency: dict[tuple[str, str], list[float]] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency."""
        key = (route, method, status)
        self._counts[key] = self._counts.get(key, 0) + 1
        histogram = self._latency.get((route, method))
        if histogram is None:
            histogram = self._latency[(route, method)] = [0.0] * (len(self.bounds) + 2)
        histogram[bisect_left(self.bounds, seconds)] += 1
        histogram[-1] += seconds

    def describe(self) -> Iterator[Metric]:
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        yield from self._families(
            counts=list(self._counts.items()), latency=list(self._latency.items())
        )

    def _families(
        self,
        counts: list[tuple[tuple[str, str, int], int]] | None = None,
        latency: list[tuple[tuple[str, str], list[float]]] | None = None,
    ) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "vaxport_http_requests",
            "HTTP requests by route template, method and status.",
            labels=["route", "method", "status"],
        )
        for (route, method, status), n in counts or []:
            requests.add_metric([route, method, str(status)], n)
        yield requests
        durations = HistogramMetricFamily(
            "vaxport_http_request_duration_seconds",
            "HTTP request latency by route template and method.",
            labels=["route", "method"],
        )
        for (route, method), histogram in latency or []:
            cumulative = 0.0
            buckets: list[tuple[str, float]] = []
            for bound, count in zip(self.bounds, histogram, strict=False):
                cumulative += count
                buckets.append((_le(bound), cumulative))
            buckets.append(("+Inf", cumulative + histogram[len(self.bounds)]))
            durations.add_metric([route, method], buckets, histogram[-1])
        yield durations


def _le(bound: float) -> str:
    """A bucket bound as Prometheus writes it ("0.5", "1.0", "+Inf")."""
    text: str = floatToGoString(bound)  # type: ignore[no-untyped-call]
    return text


HTTP = HttpMetrics()
REGISTRY.register(HTTP)
CACHE_HITS = Counter("vaxport_cache_hits_total", "Cache hits by namespace.", ["namespace"])
CACHE_MISSES = Counter("vaxport_cache_misses_total", "Cache misses by namespace.", ["namespace"])
DB_POOL_CHECKED_OUT = Gauge("vaxport_db_pool_checked_out", "Connections in use.")
DB_POOL_SIZE = Gauge("vaxport_db_pool_size", "Configured pool size.")
OUTBOX_BACKLOG = Gauge(
    "vaxport_outbox_backlog", "Outbox deliveries (and events not yet fanned out) due now."
)
OUTBOX_OLDEST_AGE = Gauge(
    "vaxport_outbox_oldest_age_seconds", "Age of the oldest undelivered outbox event."
)
OUTBOX_DEAD = Gauge("vaxport_outbox_dead", "Dead letters: deliveries a subscriber gave up on.")
OUTBOX_DELIVERED = Counter(
    "vaxport_outbox_delivered_total",
    "Outbox events delivered, by subscriber and type.",
    ["subscriber", "event_type"],
)
OUTBOX_FAILED = Counter(
    "vaxport_outbox_failures_total",
    "Outbox events a subscriber failed on, by subscriber and type.",
    ["subscriber", "event_type"],
)
RATE_LIMITED = Counter(
    "vaxport_rate_limited_total",
    "Requests refused by a rate limit, by route class and dimension (ip, account).",
    ["route_class", "dimension"],
)
RATE_LIMIT_STORE_ERRORS = Counter(
    "vaxport_rate_limit_store_errors_total",
    "Requests whose rate limit could not be checked (store unreachable), by route class "
    "and outcome: open (let through) or closed (refused with 503).",
    ["route_class", "outcome"],
)
