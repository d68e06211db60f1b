"""Rate limits per client address and per account, by route class, before the body is read.

Each request belongs to a route class (core/http/route_policy.py). A class has a rule per
dimension: ``ip`` (the client address the transport layer established; IPv6 by /64,
since one host holds a whole /64) and ``account`` (the signed-in principal, when the
identity middleware set ``scope["state"]["principal_id"]``). A rule is one or more
moving-window limits (the ``limits`` library); every limit of every applicable rule must
allow the request. Defaults come from the settings, and a tenant's configuration may
override any class and dimension (``rate_limits:``); counters are kept per tenant, and
paths naming no known tenant share one bucket, so inventing tenant codes buys nothing.

Storage is Redis when ``VAXPORT_REDIS_URL`` is set (keys under
``VAXPORT_RATE_LIMIT_PREFIX``, shared by every replica), process memory otherwise.
Client addresses appear in keys only as keyed hashes. When Redis cannot be reached, the
classes that guard credentials (``code_request``, ``login``) fail closed with 503; the
others fail open; both are logged and counted. After a failure the store is left alone
for a second, so an outage costs one timeout per second, not one per request.

Limited answers carry ``RateLimit-Limit``, ``RateLimit-Remaining`` and ``RateLimit-Reset``
(delta seconds) of the caller's own budget (the account's when signed in, else the
address's; of its limits, the one closest to exhaustion); a 429 carries the numbers of
the limit that refused it, and ``Retry-After``. Each limit costs a store round trip to
count the request and one to read the window for the headers, so classes that need no
limit (by default ``default``, i.e. plain reads) should stay ``unlimited``: they cost
nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from limits import RateLimitItem
from limits.util import WindowStats
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vaxport.core.errors import Problem, ServiceUnavailable, TooManyRequests
from vaxport.core.http.dependencies import ROUTE_CLASSES
from vaxport.core.http.middleware import send_problem
from vaxport.core.http.rate_rules import DIMENSIONS, parse_limits
from vaxport.core.http.route_policy import RouteTable
from vaxport.core.http.transport import address_group
from vaxport.core.i18n import N_
from vaxport.core.idempotency import tenant_segment
from vaxport.core.logging import get_logger
from vaxport.core.metrics import RATE_LIMIT_STORE_ERRORS, RATE_LIMITED
from vaxport.settings import Settings

log = get_logger(__name__)

FAIL_CLOSED = frozenset({"code_request", "login"})
_BREAKER_SECONDS = 1.0
_STORE_TIMEOUT = 0.5
_NO_TENANT = "-"
_IP_MEMO = 10_000

# {class: {dimension: rule text}}, as written in a tenant's ``rate_limits:`` section.
Overrides = Mapping[str, Mapping[str, str]]
OverridesLoader = Callable[[], Awaitable[Mapping[str, Overrides]]]
ProblemResponder = Callable[[Scope, Receive, Send, Problem], Awaitable[None]]
Rules = tuple[tuple[str, tuple[RateLimitItem, ...]], ...]
_Ids = tuple[str, ...]
_Check = tuple[str, RateLimitItem, _Ids]


class _Window(Protocol):
    async def hit(self, item: RateLimitItem, *ids: str) -> bool: ...
    async def test(self, item: RateLimitItem, *ids: str) -> bool: ...
    async def stats(self, item: RateLimitItem, *ids: str) -> WindowStats: ...
    async def close(self) -> None: ...


class _RedisWindow:
    """Moving windows in Redis, shared by every process using the same prefix."""

    def __init__(self, url: str, prefix: str) -> None:
        from limits.aio.storage import RedisStorage
        from limits.aio.strategies import MovingWindowRateLimiter

        self.storage = RedisStorage(
            f"async+{url}",
            implementation="redispy",
            key_prefix=prefix,
            wrap_exceptions=True,
            socket_timeout=_STORE_TIMEOUT,
            socket_connect_timeout=_STORE_TIMEOUT,
        )
        self.limiter = MovingWindowRateLimiter(self.storage)

    async def hit(self, item: RateLimitItem, *ids: str) -> bool:
        return await self.limiter.hit(item, *ids)

    async def test(self, item: RateLimitItem, *ids: str) -> bool:
        return await self.limiter.test(item, *ids)

    async def stats(self, item: RateLimitItem, *ids: str) -> WindowStats:
        return await self.limiter.get_window_stats(item, *ids)

    async def close(self) -> None:
        bridge: Any = self.storage.bridge
        await bridge.storage.aclose()


class _MemoryWindow:
    """Moving windows in this process (embedded mode).

    The synchronous storage on purpose: its calls are short, lock-guarded dictionary
    operations, while the asyncio variant hops to a thread per key to expire entries.
    """

    def __init__(self) -> None:
        from limits.storage import MemoryStorage
        from limits.strategies import MovingWindowRateLimiter

        self.storage = MemoryStorage()
        self.limiter = MovingWindowRateLimiter(self.storage)

    async def hit(self, item: RateLimitItem, *ids: str) -> bool:
        return self.limiter.hit(item, *ids)

    async def test(self, item: RateLimitItem, *ids: str) -> bool:
        return self.limiter.test(item, *ids)

    async def stats(self, item: RateLimitItem, *ids: str) -> WindowStats:
        return self.limiter.get_window_stats(item, *ids)

    async def close(self) -> None:
        self.storage.timer.cancel()


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a request: refuse it with ``problem``, or add ``headers``."""

    problem: Problem | None = None
    headers: tuple[tuple[bytes, bytes], ...] = ()


_PASS = Decision()


def _compile(rules: Mapping[str, Mapping[str, str]]) -> dict[str, Rules]:
    """``{class: ((dimension, items), ...)}`` with empty (unlimited) dimensions dropped."""
    compiled: dict[str, Rules] = {}
    for route_class in ROUTE_CLASSES:
        per_class = rules.get(route_class, {})
        compiled[route_class] = tuple(
            (dim, items) for dim in DIMENSIONS if (items := parse_limits(per_class.get(dim, "")))
        )
    return compiled


class TenantOverrides:
    """Every tenant's overrides, loaded together and refreshed every ``ttl`` seconds.

    Loading all tenants at once (there are few) means an unknown code in a path is
    answered from memory: a flood of invented codes never reaches the database.
    """

    def __init__(self, loader: OverridesLoader, *, defaults: Overrides, ttl: float) -> None:
        self.loader = loader
        self.defaults = defaults
        self.ttl = max(ttl, 1.0)
        self.rules: dict[str, dict[str, Rules]] = {}
        self.loaded_at = -math.inf
        self.lock = asyncio.Lock()

    async def rules_for(self, code: str) -> dict[str, Rules] | None:
        """The compiled rules of tenant ``code``; None when no such tenant exists."""
        stale = time.monotonic() - self.loaded_at > self.ttl
        # While a refresh runs, others use the current rules; only the first load waits.
        if stale and (not self.lock.locked() or self.loaded_at == -math.inf):
            async with self.lock:
                if time.monotonic() - self.loaded_at > self.ttl:
                    await self._reload()
        return self.rules.get(code)

    async def _reload(self) -> None:
        try:
            overrides = await self.loader()
            rules: dict[str, dict[str, Rules]] = {}
            for code, per_tenant in overrides.items():
                merged = {
                    c: {**self.defaults.get(c, {}), **per_tenant.get(c, {})} for c in ROUTE_CLASSES
                }
                rules[code] = _compile(merged)
        except Exception as exc:  # noqa: BLE001 - keep the last good rules; retry soon
            log.error("ratelimit.overrides_failed", error=type(exc).__name__)
            self.loaded_at = time.monotonic() - self.ttl + min(self.ttl, 5.0)
            return
        self.rules = rules
        self.loaded_at = time.monotonic()


class RateLimiter:
    """Checks requests against their class's rules; see the module docstring."""

    def __init__(self, settings: Settings, *, overrides: OverridesLoader | None = None) -> None:
        self.enabled = settings.rate_limit_enabled
        defaults = {
            c: {d: settings.rate_limit_rule(c, d) for d in DIMENSIONS} for c in ROUTE_CLASSES
        }
        self.defaults = _compile(defaults)
        self.tenants = (
            TenantOverrides(overrides, defaults=defaults, ttl=settings.config_cache_seconds)
            if overrides is not None
            else None
        )
        self.window: _Window = (
            _RedisWindow(settings.redis_url, settings.rate_limit_prefix)
            if settings.redis_url
            else _MemoryWindow()
        )
        secret = settings.secret_key.get_secret_value().encode()
        self._ip_key = hashlib.sha256(b"vaxport/ratelimit/ip/v1\n" + secret).digest()
        self._ip_ids: dict[str, str] = {}
        self._down_until = 0.0

    async def close(self) -> None:
        """Release the store's connections."""
        await self.window.close()

    def ip_id(self, ip: str) -> str:
        """The keyed hash standing for an address in storage keys (IPv6 by /64)."""
        found = self._ip_ids.get(ip)
        if found is None:
            subject = address_group(ip)
            digest = hashlib.blake2b(subject.encode(), key=self._ip_key, digest_size=12)
            found = digest.hexdigest()
            if len(self._ip_ids) >= _IP_MEMO:
                self._ip_ids.clear()
            self._ip_ids[ip] = found
        return found

    async def rules(self, route_class: str, path: str) -> tuple[str, Rules]:
        """``(tenant key, rules)`` for a request of ``route_class`` on ``path``."""
        code = tenant_segment(path)
        if code and self.tenants is not None:
            per_tenant = await self.tenants.rules_for(code)
            if per_tenant is not None:
                return code, per_tenant[route_class]
        return _NO_TENANT, self.defaults[route_class]

    async def _checks(self, scope: Scope, route_class: str) -> list[_Check]:
        """Every limit of ``route_class`` that applies to this request, with its key."""
        tenant, rules = await self.rules(route_class, scope["path"])
        if not rules:
            return []
        client = scope.get("client")
        principal = (scope.get("state") or {}).get("principal_id")
        subjects = {
            "ip": self.ip_id(str(client[0])) if client else "none",
            "account": str(principal) if principal else "",
        }
        return [
            (dim, item, (route_class, dim, tenant, subjects[dim]))
            for dim, items in rules
            if subjects[dim]
            for item in items
        ]

    async def check(self, scope: Scope, route_class: str) -> Decision:
        """The decision for one request (hits its counters when it is allowed)."""
        if not self.enabled:
            return _PASS
        checks = await self._checks(scope, route_class)
        if not checks:
            return _PASS
        if time.monotonic() < self._down_until:
            return self._store_unavailable(route_class)
        try:
            return await self._hit(route_class, checks)
        except Exception as exc:  # noqa: BLE001 - an unreachable store is policy, not a 500
            log.warning("ratelimit.store_failed", route_class=route_class, error=type(exc).__name__)
            self._down_until = time.monotonic() + _BREAKER_SECONDS
            return self._store_unavailable(route_class)

    async def _refusal(self, route_class: str, dim: str, item: RateLimitItem, ids: _Ids) -> Problem:
        stats = await self.window.stats(item, *ids)
        retry = max(1, math.ceil(stats.reset_time - time.time()))
        RATE_LIMITED.labels(route_class, dim).inc()
        problem = TooManyRequests(
            N_("too many {kind} requests; retry in {seconds} s"),
            params={"kind": route_class.replace("_", " "), "seconds": retry},
            retry_after=retry,
        )
        problem.headers.update(
            {
                "Retry-After": str(retry),
                "RateLimit-Limit": str(item.amount),
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(retry),
            }
        )
        return problem

    async def _hit(self, route_class: str, checks: list[_Check]) -> Decision:
        for dim, item, ids in checks:
            if not await self.window.hit(item, *ids):
                return Decision(problem=await self._refusal(route_class, dim, item, ids))
        # The headers describe the caller's own budget: the account's when signed in,
        # else the address's. (Reading every window would double the store round trips;
        # an exhausted one still answers 429 with its own numbers.)
        shown = checks[-1][0]
        tightest: tuple[int, float, int] | None = None
        for dim, item, ids in checks:
            if dim != shown:
                continue
            stats = await self.window.stats(item, *ids)
            candidate = (max(0, stats.remaining), -stats.reset_time, item.amount)
            if tightest is None or candidate < tightest:
                tightest = candidate
        assert tightest is not None
        remaining, reset_at, amount = tightest
        reset = max(0, math.ceil(-reset_at - time.time()))
        return Decision(
            headers=(
                (b"ratelimit-limit", str(amount).encode()),
                (b"ratelimit-remaining", str(remaining).encode()),
                (b"ratelimit-reset", str(reset).encode()),
            )
        )

    def _store_unavailable(self, route_class: str) -> Decision:
        if route_class in FAIL_CLOSED:
            RATE_LIMIT_STORE_ERRORS.labels(route_class, "closed").inc()
            return Decision(
                problem=ServiceUnavailable(
                    N_("rate limiting is unavailable; try again shortly"),
                    headers={"Retry-After": "5"},
                )
            )
        RATE_LIMIT_STORE_ERRORS.labels(route_class, "open").inc()
        return _PASS

    async def refused(self, scope: Scope, route_class: str) -> Problem | None:
        """The 429 when ``route_class``'s budget is spent for this caller (counts nothing).

        For an outcome's budget (:func:`outcome_budget`): what is counted is an answer,
        not a request. The store unreachable: closed (503), since such a budget guards a
        disclosure.
        """
        if not self.enabled:
            return None
        checks = await self._checks(scope, route_class)
        if not checks:
            return None
        try:
            for dim, item, ids in checks:
                if not await self.window.test(item, *ids):
                    return await self._refusal(route_class, dim, item, ids)
        except Exception as exc:  # noqa: BLE001 - an unreachable store is policy, not a 500
            log.warning("ratelimit.store_failed", route_class=route_class, error=type(exc).__name__)
            RATE_LIMIT_STORE_ERRORS.labels(route_class, "closed").inc()
            return ServiceUnavailable(
                N_("rate limiting is unavailable; try again shortly"),
                headers={"Retry-After": "5"},
            )
        return None

    async def spend(self, scope: Scope, route_class: str) -> None:
        """Count one answer against ``route_class``'s budget for this caller."""
        if not self.enabled:
            return
        for _dim, item, ids in await self._checks(scope, route_class):
            try:
                await self.window.hit(item, *ids)
            except Exception as exc:  # noqa: BLE001 - the answer stands; the next check fails closed
                log.warning(
                    "ratelimit.store_failed", route_class=route_class, error=type(exc).__name__
                )
                return


@asynccontextmanager
async def outcome_budget(
    scope: Scope, route_class: str, *, counts: tuple[type[BaseException], ...]
) -> AsyncIterator[None]:
    """Limit how often a caller may get an answer of a kind, not how often they ask.

    A body that raises one of ``counts`` spends one of ``route_class``'s budget; once it
    is spent, the body is not run and 429 is raised instead, whatever its answer would
    have been (so a refusal says nothing about the question). Without the application's
    limiter (a bare test app), nothing is limited.
    """
    app = scope.get("app")
    limiter: RateLimiter | None = getattr(getattr(app, "state", None), "rate_limiter", None)
    if limiter is None:
        yield
        return
    problem = await limiter.refused(scope, route_class)
    if problem is not None:
        raise problem
    try:
        yield
    except counts:
        await limiter.spend(scope, route_class)
        raise


async def _send_json_problem(scope: Scope, _receive: Receive, send: Send, problem: Problem) -> None:
    await send_problem(send, problem, path=scope["path"])


class RateLimitMiddleware:
    """Pure ASGI. Sits inside the authentication middleware (it reads the principal)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: RateLimiter,
        routes: RouteTable,
        respond: ProblemResponder | None = None,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.routes = routes
        self.respond = respond or _send_json_problem

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        decision = await self.limiter.check(scope, self.routes.policy(scope).rate_class)
        if decision.problem is not None:
            await self.respond(scope, receive, send, decision.problem)
            return
        if not decision.headers:
            await self.app(scope, receive, send)
            return
        extra = list(decision.headers)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
