"""Prometheus metrics shared by every context; scraped at ``/metrics``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "vaxport_http_requests_total",
    "HTTP requests by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "vaxport_http_request_duration_seconds",
    "HTTP request latency by route template and method.",
    ["route", "method"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CACHE_HITS = Counter("vaxport_cache_hits_total", "Cache hits by namespace.", ["namespace"])
CACHE_MISSES = Counter("vaxport_cache_misses_total", "Cache misses by namespace.", ["namespace"])
DB_POOL_CHECKED_OUT = Gauge("vaxport_db_pool_checked_out", "Connections in use.")
DB_POOL_SIZE = Gauge("vaxport_db_pool_size", "Configured pool size.")
OUTBOX_BACKLOG = Gauge("vaxport_outbox_backlog", "Outbox events waiting to be delivered.")
OUTBOX_OLDEST_AGE = Gauge(
    "vaxport_outbox_oldest_age_seconds", "Age of the oldest undelivered outbox event."
)
OUTBOX_DEAD = Gauge("vaxport_outbox_dead", "Outbox events in the dead-letter state.")
OUTBOX_DELIVERED = Counter(
    "vaxport_outbox_delivered_total", "Outbox events delivered by type.", ["event_type"]
)
OUTBOX_FAILED = Counter(
    "vaxport_outbox_failures_total", "Outbox handler failures by type.", ["event_type"]
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
