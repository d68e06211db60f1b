"""Identity at the HTTP edge: the authentication middleware, the permission check behind
``core.http.requires``, and the ``CurrentActor`` dependency.

How a context uses it::

    from vaxport.identity.access.edge import CurrentActor

    @router.get("/api/v1/{tenant}/facilities", dependencies=[requires("facilities:read")])
    async def list_facilities(tenant: str, ctx: Ctx, actor: CurrentActor) -> FacilityPage:
        page = await service.list_facilities(db=ctx.db, actor=actor)   # filters by scope
        ...

``requires(permission)`` refuses anonymous callers (401 with ``WWW-Authenticate``; a
redirect to the login page for browsers), callers of another tenant than the path's
(404), and roles without the permission (403). Which *objects* the actor reaches is the
service's business (``policy.authorize`` per object, scope filters on lists): out of
scope is 404.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from vaxport.core import clock
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.errors import Forbidden, NotFound, Problem, Unauthorized
from vaxport.core.http.dependencies import Ctx
from vaxport.core.http.openapi import Security
from vaxport.core.i18n import N_
from vaxport.core.logging import get_logger
from vaxport.identity.access import authn, csrf, policy
from vaxport.identity.access.actor import Actor
from vaxport.settings import Settings
from vaxport.tenancy.service import TenantInfo, get_tenant_or_404

log = get_logger(__name__)

SESSION_COOKIE = "vaxport_session"
_TENANT = "actor_tenant"  # scope["state"] key: the authenticated actor's TenantInfo
_MACHINE_PREFIXES = ("/api/", "/fhir/", "/.well-known/", "/static/")


def openapi_security(settings: Settings) -> Security:
    """How API clients authenticate, for the OpenAPI document: a bearer access token
    (``POST .../auth/login`` or ``.../auth/code/verify``), or the browser session cookie
    with the CSRF token repeated in a header on unsafe methods."""
    return Security(
        schemes={
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "sessionCookie": {"type": "apiKey", "in": "cookie", "name": session_cookie(settings)},
            "csrfHeader": {
                "type": "apiKey",
                "in": "header",
                "name": "X-CSRF-Token",
                "description": f"the value of the `{csrf.csrf_cookie(settings)}` cookie; "
                "required with the session cookie on POST, PUT, PATCH and DELETE",
            },
        },
        required=({"bearerAuth": []}, {"sessionCookie": [], "csrfHeader": []}),
    )


def session_cookie(settings: Settings) -> str:
    """The name of the browser session cookie (``__Host-`` prefixed outside development)."""
    return csrf.cookie_name(settings, SESSION_COOKIE)


def _cookie(headers: list[tuple[bytes, bytes]], name: str) -> str | None:
    target = name.encode()
    for key, value in headers:
        if key != b"cookie":
            continue
        for part in value.split(b";"):
            k, _, v = part.strip().partition(b"=")
            if k == target:
                return v.decode("latin-1")
    return None


class AuthenticationMiddleware:
    """Reads the bearer token or session cookie once per request (pure ASGI).

    Sets ``scope["state"]``: ``actor`` (an :class:`Actor`), ``principal_id`` (used by
    the idempotency middleware) and the actor's tenant when the credential is usable;
    ``auth_error`` when one was presented but is not; ``auth_via`` (``bearer`` |
    ``cookie``). It never refuses a request itself: public routes stay reachable;
    ``requires`` decides.
    """

    def __init__(self, app: ASGIApp, *, db: Database, cache: Cache, settings: Settings) -> None:
        self.app = app
        self.db = db
        self.cache = cache
        self.settings = settings
        self.cookie_name = session_cookie(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        headers = scope.get("headers", [])
        authorization = next((v for k, v in headers if k == b"authorization"), None)
        try:
            if authorization is not None:
                state["auth_via"] = "bearer"
                scheme, _, token = authorization.decode("latin-1").partition(" ")
                if scheme.lower() != "bearer" or not token.strip():
                    raise authn.InvalidToken("not a bearer token")
                found = await authn.actor_from_bearer(
                    db=self.db, cache=self.cache, settings=self.settings, token=token.strip()
                )
                self._set(state, *found)
            else:
                cookie = _cookie(headers, self.cookie_name)
                if cookie:
                    state["auth_via"] = "cookie"
                    found = await authn.actor_from_cookie(
                        db=self.db, cache=self.cache, settings=self.settings, value=cookie
                    )
                    self._set(state, *found)
        except authn.InvalidToken as exc:
            state["auth_error"] = exc.reason
            log.info("identity.credential_refused", reason=exc.reason, via=state.get("auth_via"))
        await self.app(scope, receive, send)

    @staticmethod
    def _set(state: dict[str, object], actor: Actor, tenant: TenantInfo) -> None:
        state["actor"] = actor
        state["principal_id"] = str(actor.account_id)
        state[_TENANT] = tenant  # the actor's, as found for this request (``path_tenant``)


class SeeOther(Problem):
    """Send a browser elsewhere (the login page): 303 with ``Location``."""

    status, slug, title = 303, "see-other", "See other"


def _wants_page(request: Request) -> bool:
    path = request.url.path
    if path.startswith(_MACHINE_PREFIXES):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept


def unauthenticated(request: Request) -> Problem:
    """401 with a ``WWW-Authenticate`` challenge; browsers on a page go to the login."""
    tenant = request.path_params.get("tenant")
    if tenant and request.method in ("GET", "HEAD") and _wants_page(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return SeeOther(
            "sign in first",
            headers={"Location": f"/{tenant}/staff/login?next={quote(target, safe='')}"},
        )
    challenge = 'Bearer realm="vaxport"'
    if request.scope.get("state", {}).get("auth_error"):
        challenge += ', error="invalid_token"'
    return Unauthorized(N_("authentication is required"), headers={"WWW-Authenticate": challenge})


def request_actor(request: Request) -> Actor | None:
    """The request's authenticated actor, if any."""
    actor = request.scope.get("state", {}).get("actor")
    return actor if isinstance(actor, Actor) else None


async def check_permission(request: Request, permission: str) -> None:
    """The check behind ``requires(permission)`` (installed as ``permission_check``)."""
    actor = request_actor(request)
    if actor is None:
        raise unauthenticated(request)
    tenant = request.path_params.get("tenant")
    if tenant is not None and tenant != actor.tenant_code:
        # Another tenant's objects are out of scope: as if they did not exist.
        raise NotFound(N_("not found"))
    if permission not in policy.PERMISSIONS:
        log.error("identity.unknown_permission", permission=permission)
        raise Forbidden(N_("this action is not allowed"))
    if not actor.has(permission):
        raise Forbidden(N_("your role does not allow this"))
    refuse_if_held(actor, permission)
    if request.scope["state"].get("auth_via") == "cookie":
        settings: Settings = request.app.state.ctx.settings
        await csrf.verify(request, settings)


class RecoveryHold(Problem):
    status, slug, title = 403, "recovery-hold", "Account recovery hold"


def refuse_if_held(actor: Actor, permission: str) -> None:
    """403 ``recovery-hold`` while a just-recovered account may not use ``permission``."""
    if actor.held(permission, now=clock.utcnow()):
        until = actor.recovery_hold_until
        assert until is not None
        raise RecoveryHold(
            "this account was just recovered to a new phone: family records are "
            f"available from {until.isoformat(timespec='minutes')}"
        )


def current_actor(request: Request) -> Actor:
    """The authenticated actor (401 when there is none)."""
    actor = request_actor(request)
    if actor is None:
        raise unauthenticated(request)
    return actor


async def _current_actor(request: Request) -> Actor:
    # async: FastAPI runs a plain ``def`` dependency in a worker thread, per request.
    return current_actor(request)


async def _request_actor(request: Request) -> Actor | None:
    return request_actor(request)


CurrentActor = Annotated[Actor, Depends(_current_actor)]
OptionalActor = Annotated[Actor | None, Depends(_request_actor)]


async def path_tenant(tenant: str, ctx: Ctx, request: Request) -> TenantInfo:
    """The tenant named by the path's ``{tenant}`` (404 if there is none): the one
    authentication found for this request when it is the actor's, never looked up twice."""
    known = request.scope.get("state", {}).get(_TENANT)
    if isinstance(known, TenantInfo) and known.code == tenant:
        return known
    return await get_tenant_or_404(db=ctx.db, cache=ctx.cache, code=tenant)


PathTenant = Annotated[TenantInfo, Depends(path_tenant)]


def no_store(response: Response) -> None:
    """Tokens, secrets and tickets must never sit in a cache."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"


def client_ip(request: Request) -> str | None:
    """The client's address as the server sees it (proxies resolved by the server)."""
    return request.client.host if request.client else None


def install(app: FastAPI, *, db: Database, cache: Cache, settings: Settings) -> None:
    """Authenticate every request and enforce ``requires``; call where the app adds its
    middleware, after the idempotency middleware (which reads the principal)."""
    app.state.permission_check = check_permission
    app.add_middleware(AuthenticationMiddleware, db=db, cache=cache, settings=settings)
