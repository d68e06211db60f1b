"""HTTP metrics are counted in plain dicts and exposed as Prometheus families on scrape."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from vaxport.core.metrics import HttpMetrics


def _scrape(metrics: HttpMetrics) -> str:
    registry = CollectorRegistry()
    registry.register(metrics)
    return generate_latest(registry).decode()


def test_histogram_buckets_are_cumulative_and_bounds_inclusive() -> None:
    m = HttpMetrics(buckets=(0.01, 0.1, 1.0))
    for seconds in (0.005, 0.01, 0.05, 0.5, 3.0):
        m.observe("/api/v1/{tenant}/config", "GET", 200, seconds)
    text = _scrape(m)
    labels = 'method="GET",route="/api/v1/{tenant}/config"'
    assert f'vaxport_http_request_duration_seconds_bucket{{le="0.01",{labels}}} 2.0' in text
    assert f'vaxport_http_request_duration_seconds_bucket{{le="0.1",{labels}}} 3.0' in text
    assert f'vaxport_http_request_duration_seconds_bucket{{le="1.0",{labels}}} 4.0' in text
    assert f'vaxport_http_request_duration_seconds_bucket{{le="+Inf",{labels}}} 5.0' in text
    assert f"vaxport_http_request_duration_seconds_count{{{labels}}} 5.0" in text
    assert f"vaxport_http_request_duration_seconds_sum{{{labels}}} 3.565" in text


def test_requests_are_counted_by_route_method_and_status() -> None:
    m = HttpMetrics()
    m.observe("/healthz", "GET", 200, 0.001)
    m.observe("/healthz", "GET", 200, 0.001)
    m.observe("<unmatched>", "GET", 404, 0.001)
    text = _scrape(m)
    assert 'vaxport_http_requests_total{method="GET",route="/healthz",status="200"} 2.0' in text
    assert 'vaxport_http_requests_total{method="GET",route="<unmatched>",status="404"} 1.0' in text


def test_no_traffic_exposes_empty_families() -> None:
    text = _scrape(HttpMetrics())
    assert "# TYPE vaxport_http_requests_total counter" in text
    assert "# TYPE vaxport_http_request_duration_seconds histogram" in text
