"""The server's round-trip counters (``/bench/roundtrips``, bench mode only), per worker.

Each worker process counts its own requests; a new connection lands on any worker, so
reading all of them means asking over fresh connections until every pid has answered.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import httpx

COUNTS_PATH = "/bench/roundtrips"
CAPTURE_PATH = "/bench/roundtrips/capture"


def _each_worker(
    base_url: str, workers: int, method: str, path: str, body: Any = None
) -> dict[int, dict[str, Any]]:
    answers: dict[int, dict[str, Any]] = {}
    deadline = time.monotonic() + 10
    while len(answers) < workers and time.monotonic() < deadline:
        with httpx.Client(base_url=base_url, timeout=10) as client:  # a new connection
            r = client.request(method, path, json=body)
        if r.status_code == 404:
            return {}  # an older build without the counters
        r.raise_for_status()
        doc = r.json()
        answers.setdefault(int(doc["pid"]), doc)
    return answers


def route_key(method: str, path: str) -> tuple[str, str]:
    """What the server sums by: the method and the path without its query."""
    return method.upper(), urlsplit(path).path


Sums = tuple[int, int, int, int]  # requests, round trips, statements, requests without one


def counts(base_url: str, workers: int) -> dict[tuple[str, str], Sums] | None:
    """Requests, round trips, statements and requests that made no round trip per route,
    summed over workers; None when the server does not count (SQLite, or an older build)."""
    answers = _each_worker(base_url, workers, "GET", COUNTS_PATH)
    if not answers or not all(a["enabled"] for a in answers.values()):
        return None
    total: dict[tuple[str, str], Sums] = {}
    for answer in answers.values():
        for r in answer["routes"]:
            key = (r["method"], r["path"])
            a, b, c, d = total.get(key, (0, 0, 0, 0))
            total[key] = (
                a + r["requests"],
                b + r["round_trips"],
                c + r["statements"],
                d + r.get("without_round_trips", 0),
            )
    return total


def per_request(
    before: dict[tuple[str, str], Sums] | None,
    after: dict[tuple[str, str], Sums] | None,
    key: tuple[str, str],
) -> tuple[float, float, float] | None:
    """Round trips and statements per request of ``key`` between two readings, and the
    share of its requests answered without a round trip (from a cache)."""
    if before is None or after is None:
        return None
    r0, t0, s0, q0 = before.get(key, (0, 0, 0, 0))
    r1, t1, s1, q1 = after.get(key, (0, 0, 0, 0))
    if r1 <= r0:
        return None
    n = r1 - r0
    return (t1 - t0) / n, (s1 - s0) / n, (q1 - q0) / n


def arm_capture(base_url: str, workers: int, method: str, path: str, *, skip: int = 20) -> None:
    """Ask every worker to keep the statements of one coming successful request."""
    method, path = route_key(method, path)
    body = {"method": method, "path": path, "skip": skip, "count": 4}
    _each_worker(base_url, workers, "POST", CAPTURE_PATH, body)


def captured(base_url: str, workers: int) -> list[dict[str, Any]]:
    """The requests one worker captured (the one with the most)."""
    answers = _each_worker(base_url, workers, "GET", CAPTURE_PATH).values()
    found: list[list[dict[str, Any]]] = [a.get("requests") or [] for a in answers]
    return max(found, key=len, default=[])
