"""Every route that is not public refuses anonymous callers (walking ``app.routes``)."""

from __future__ import annotations

import re
import uuid
from urllib.parse import quote

import httpx
from fastapi.routing import APIRoute

from vaxport.app import create_app
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.http.dependencies import iter_routes, route_permission
from vaxport.identity.access.policy import PERMISSIONS
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def _fill(path: str, tenant: str) -> str:
    def value(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "tenant":
            return tenant
        return str(uuid.uuid4()) if name.endswith("id") else "x"

    return _PARAM.sub(value, path)


async def test_every_non_public_route_refuses_anonymous_callers(
    settings: Settings, clean_db: Database, cache: Cache, tenant: TenantInfo
) -> None:
    # Development and bench mode: every router the app can mount is mounted.
    app = create_app(
        settings.model_copy(update={"env": "development", "bench_mode": True}),
        database=clean_db,
        cache=cache,
    )
    endpoints = [(p, r, d) for p, r, d in iter_routes(app.routes) if isinstance(r, APIRoute)]
    transport = httpx.ASGITransport(app=app)
    checked: list[str] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for path, route, deps in endpoints:
            marker = route_permission(route, deps)
            assert marker is not None, path
            permission, public = marker
            if public:
                continue
            assert permission in PERMISSIONS, f"{path} needs {permission!r}, which no role has"
            url = _fill(path, tenant.code)
            # FHIR answers its errors as OperationOutcome (docs/fhir.md).
            fhir = path.startswith("/fhir/")
            media = "application/fhir+json" if fhir else "application/problem+json"
            for method in sorted(route.methods - {"HEAD"}):
                for headers in ({}, {"Authorization": "Bearer not.a.token"}):
                    r = await client.request(method, url, headers=headers)
                    assert r.status_code == 401, (method, path, r.status_code, r.text)
                    assert r.headers["www-authenticate"].startswith('Bearer realm="vaxport"')
                    assert r.headers["content-type"] == media
                checked.append(f"{method} {path}")
    # The walk reached the included routers (or this test proves nothing).
    assert {
        "GET /api/v1/{tenant}/audit",
        "GET /api/v1/{tenant}/staff",
        "POST /api/v1/{tenant}/staff/{account_id}/disable",
        "PATCH /api/v1/{tenant}/me",
        "GET /{tenant}/staff/team",
        "POST /{tenant}/staff/team/invite",
        "GET /fhir/{tenant}/Patient/{patient_id}",
    } <= set(checked)


async def test_browsers_asking_for_a_protected_page_go_to_the_login_page(
    client: httpx.AsyncClient, tenant: TenantInfo
) -> None:
    for path in ("/staff/", "/staff/team", "/staff/team/invite"):
        r = await client.get(f"/{tenant.code}{path}?a=1", headers={"Accept": "text/html"})
        assert r.status_code == 303, path
        target = quote(f"/{tenant.code}{path}?a=1", safe="")
        assert r.headers["location"] == f"/{tenant.code}/staff/login?next={target}"
    # Posts are not redirected: they are refused.
    r = await client.post(f"/{tenant.code}/staff/team/invite", headers={"Accept": "text/html"})
    assert r.status_code == 401
