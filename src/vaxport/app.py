"""ASGI application factory: middleware stack, error mapping, context routers."""

from __future__ import annotations

import gc
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from vaxport import __version__, wiring
from vaxport.core import roundtrips
from vaxport.core.cache import Cache, cache_from_url
from vaxport.core.crypto import configure_keyring
from vaxport.core.db import Database, database_from_settings
from vaxport.core.errors import (
    PROBLEM_JSON,
    Problem,
    ValidationFailed,
    from_validation,
    problem_for_status,
)
from vaxport.core.http.answers import AnswerMemoMiddleware
from vaxport.core.http.bench_probe import RoundTripProbe
from vaxport.core.http.dependencies import Context
from vaxport.core.http.handled import HandledExceptionsMiddleware
from vaxport.core.http.middleware import BodyLimitMiddleware, RequestMiddleware
from vaxport.core.http.openapi import install as install_links
from vaxport.core.http.ratelimit import RateLimiter, RateLimitMiddleware
from vaxport.core.http.route_policy import RouteTable
from vaxport.core.http.routing import IndexedRouter, flat_routes
from vaxport.core.http.security_headers import SecurityHeaders
from vaxport.core.http.transport import TransportMiddleware
from vaxport.core.idempotency import IdempotencyMiddleware, TenantOf
from vaxport.core.logging import configure_logging, get_logger
from vaxport.identity.access.edge import install as install_identity
from vaxport.identity.access.edge import openapi_security
from vaxport.settings import Settings, get_settings
from vaxport.web.errors import html_error_page
from vaxport.web.problems import localize

log = get_logger(__name__)


def problem_response(problem: Problem, request: Request) -> Response:
    """Render a :class:`Problem` as ``application/problem+json`` (an HTML page for browsers),
    or in the format the parts give for the path's prefix (``wiring.Parts.problem_formats``)."""
    app = request.scope.get("app")
    formats: tuple[tuple[str, wiring.ProblemFormat], ...] = getattr(
        getattr(app, "state", None), "problem_formats", ()
    )
    for prefix, render in formats:
        if request.url.path.startswith(prefix):
            return render(problem, request)
    page = html_error_page(problem, request)
    if page is not None:
        return page
    body = problem.to_dict(request.url.path)
    lang = localize(problem, body, request)
    response = Response(
        orjson.dumps(body),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )
    response.headers["content-language"] = lang
    response.headers["vary"] = "Accept-Language"
    return response


async def send_problem_response(
    scope: Scope, receive: Receive, send: Send, problem: Problem
) -> None:
    """:func:`problem_response` from middleware (before routing): pages for browsers too."""
    if "app" in scope:  # pages build links with url_for, which asks the router
        scope.setdefault("router", scope["app"].router)
    await problem_response(problem, Request(scope))(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Map every error, ours and the framework's, to problem+json."""

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return problem_response(exc, request)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = from_validation(exc.errors())
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors[:5])
        return problem_response(ValidationFailed(detail, errors=errors), request)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        problem = problem_for_status(exc.status_code, str(exc.detail) if exc.detail else None)
        if exc.headers:
            problem.headers.update(exc.headers)
        return problem_response(problem, request)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.error("request.unhandled", path=request.url.path, exc_info=exc)
        return problem_response(problem_for_status(500, "internal error"), request)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)


CORS_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
CORS_REQUEST_HEADERS = [
    "Accept-Language",
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "If-None-Match",
    "X-Request-ID",
]
# Beyond the CORS-safelisted ones, what a cross-origin script needs to read.
CORS_EXPOSED_HEADERS = [
    "ETag",
    "Idempotent-Replayed",
    "Idempotent-Withheld",
    "Location",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "Retry-After",
    "X-Request-ID",
]


def _tenant_rate_limits(db: Database, cache: Cache) -> Any:
    """The loader of every tenant's rate-limit overrides (tenancy owns the configuration)."""
    from vaxport.tenancy.service import list_rate_limit_overrides

    async def load() -> dict[str, dict[str, dict[str, str]]]:
        return await list_rate_limit_overrides(db=db, cache=cache)

    return load


def _tenant_of(db: Database, cache: Cache) -> TenantOf:
    """The tenant id of a path's tenant code, for the idempotency store (None: unknown)."""
    from vaxport.core.errors import NotFound
    from vaxport.tenancy.service import get_tenant_or_404

    async def tenant_of(code: str) -> uuid.UUID | None:
        try:
            return (await get_tenant_or_404(db=db, cache=cache, code=code)).id
        except NotFound:
            return None

    return tenant_of


# Metrics go to Prometheus and every log line carries the request id; FastAPI's native
# OpenTelemetry layer would look up the global providers on every request for nothing.
_NO_NATIVE_TELEMETRY: Any = {"tracing": False, "metrics": False, "logs": False}


class _LeanFastAPI(FastAPI):
    """FastAPI with only the per-request layers we use (measured by ``vaxport bench``).

    Stack, outermost first: Starlette's error middleware (500 -> problem+json), our own
    middleware, one layer for Starlette's exception handling (handlers -> problem+json)
    and FastAPI's file exit stack (``core/http/handled.py``), the route index, the
    router. Left out: the
    native telemetry wrapper and its exception observer (see above), and FastAPI's
    app-wide body limit (``BodyLimitMiddleware`` answers 413 as problem+json; a route's
    own ``max_body_size`` still applies).
    """

    def build_middleware_stack(self) -> ASGIApp:
        error_handler = None
        handlers: dict[Any, Any] = {}
        for key, value in self.exception_handlers.items():
            if key in (500, Exception):
                error_handler = value
            else:
                handlers[key] = value
        router: ASGIApp = self.router
        if not self.router.form_limits:  # the index would skip the router's form limits
            router = IndexedRouter(self.router)
        app: ASGIApp = HandledExceptionsMiddleware(router, handlers=handlers, debug=self.debug)
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return ServerErrorMiddleware(app, handler=error_handler, debug=self.debug)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        if self.middleware_stack is None:
            self.middleware_stack = self.build_middleware_stack()
        await self.middleware_stack(scope, receive, send)


def create_app(
    settings: Settings | None = None,
    *,
    parts: wiring.Parts | None = None,
    database: Database | None = None,
    cache: Cache | None = None,
) -> FastAPI:
    """Build the app from ``parts`` (default: every part, ``wiring.build()``).

    Tests pass their own database/cache, and parts when they need fewer or stand-ins;
    processes use the settings.
    """
    parts = parts or wiring.build()
    settings = settings or get_settings()
    settings.check_safe()
    configure_logging(level=settings.log_level, json=settings.log_json)
    configure_keyring(settings)
    owns_db = database is None
    owns_cache = cache is None
    db = database or database_from_settings(settings)
    kv = cache or cache_from_url(settings.redis_url)
    limiter = RateLimiter(settings, overrides=_tenant_rate_limits(db, kv))
    wiring.install(parts)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # What exists at start-up (modules, routes, schemas) lives as long as the process:
        # frozen, it is no longer walked by every full collection, which otherwise adds
        # tens of milliseconds to the unlucky request (p99) and CPU to all of them.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await limiter.close()
            gc.unfreeze()
            if owns_cache:
                await kv.close()
            if owns_db:
                await db.dispose()

    app = _LeanFastAPI(
        title="vaxport",
        version=__version__,
        openapi_url="/api/openapi.json" if settings.api_docs_enabled else None,
        docs_url=None,  # served by the pages (web/api_docs.py) from this origin
        redoc_url=None,
        lifespan=lifespan,
        telemetry=_NO_NATIVE_TELEMETRY,
    )
    app.state.ctx = Context(db=db, cache=kv, settings=settings)
    app.state.problem_formats = parts.problem_formats
    install_error_handlers(app)
    _include_routers(app, settings, parts)

    # Added innermost first: Starlette wraps in reverse order of addition. Outermost
    # first, a request meets: request id, metrics and security headers (one layer),
    # transport (client address, scheme, HTTPS policy), CORS, [authentication: sets the
    # principal], rate limits, kept public answers, body limit, idempotency. Rate limits
    # sit outside anything that reads the body, and inside CORS so a browser can read a
    # 429 and its Retry-After.
    routes = RouteTable(
        app.router,
        max_body_bytes=settings.max_body_bytes,
        upload_max_bytes=settings.upload_max_bytes,
    )
    app.state.route_table = routes
    app.state.rate_limiter = limiter
    # Idempotency sits inside the body limit so it never buffers an oversized body.
    app.add_middleware(
        IdempotencyMiddleware, db=db, settings=settings, tenant_of=_tenant_of(db, kv)
    )
    app.add_middleware(BodyLimitMiddleware, default=settings.max_body_bytes, routes=routes)
    # Public answers kept for half a second, inside the rate limits (a hit still counts).
    app.add_middleware(AnswerMemoMiddleware, cache=kv)
    if settings.rate_limit_enabled:
        app.add_middleware(
            RateLimitMiddleware, limiter=limiter, routes=routes, respond=send_problem_response
        )
    # Authentication sets the principal that rate limits (per account) and idempotency
    # (stored answers keyed by caller) read, so it sits outside both.
    install_identity(app, db=db, cache=kv, settings=settings)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=settings.cors_allow_credentials,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
            max_age=600,
        )
    if settings.trusted_proxies or settings.force_https:
        app.add_middleware(
            TransportMiddleware,
            trusted_proxies=settings.trusted_proxies,
            forwarded_header=settings.forwarded_header,
            force_https=settings.force_https,
            public_url=settings.public_url,
        )
    # Security headers go on in the outermost layer's one ``send`` wrapper, with the request
    # id; they read the scheme the transport layer (further in) established.
    # In bench mode, it also counts every request's round trips (it sees every statement).
    probe = RoundTripProbe() if settings.bench_mode and roundtrips.counts(db.engine) else None
    app.add_middleware(
        RequestMiddleware, security=SecurityHeaders(hsts=settings.force_https), probe=probe
    )
    return app


def _include_routers(app: FastAPI, settings: Settings, parts: wiring.Parts) -> None:
    """Put the parts' routes on ``app``, flat, and their OpenAPI links on its document."""
    selected = [*parts.routers]
    if settings.bench_mode:
        selected += parts.bench_routers
    if settings.env == "development":
        selected += parts.dev_routers
    app.router.routes.extend(_built_routes(tuple(selected), parts.pages))
    app.router._mark_routes_changed()
    # Links between operations, declared by each context beside its routes.
    install_links(app, parts.links, openapi_security(settings))


# Routes built, by the identity of their routers (routers compare by value and do not
# hash); each entry keeps its routers alive, so an identity is never reused while cached.
_BUILT: dict[tuple[int, ...], tuple[tuple[object, ...], tuple[BaseRoute, ...]]] = {}
_BUILT_MAX = 32


def _built_routes(
    routers: tuple[APIRouter, ...], pages: Callable[[], APIRouter] | None
) -> tuple[BaseRoute, ...]:
    """The flat, permission-gated routes of ``routers`` then the pages, built once a process.

    Building a route (its dependencies, pydantic fields, handlers) is most of the cost of
    an app; the routes depend only on the routers and hold no app (see
    ``core.http.routing.flat_routes``), so every app built from the same routers shares
    them, each in a list of its own.
    """
    key = (*map(id, routers), id(pages))
    if key in _BUILT:
        return _BUILT[key][1]
    holder = APIRouter()
    for router in routers:
        holder.include_router(router)
    # Pages last: "/{tenant}/" must not shadow any other context's one-segment route.
    if pages is not None:
        holder.include_router(pages())
    routes = tuple(flat_routes(holder.routes))
    if len(_BUILT) >= _BUILT_MAX:
        del _BUILT[next(iter(_BUILT))]
    _BUILT[key] = ((*routers, pages), routes)
    return routes


def app_from_env() -> FastAPI:
    """Entry point for ``uvicorn --factory`` in server processes."""
    return create_app()
