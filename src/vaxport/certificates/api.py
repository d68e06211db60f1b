"""HTTP routes of the certificates context: the SMART Health Card issuer's public keys and
revocation lists."""

from __future__ import annotations

import orjson
from fastapi import APIRouter
from starlette.responses import Response

from vaxport.certificates import service
from vaxport.core.http.dependencies import Ctx, requires

router = APIRouter(tags=["certificates"])

# Verifiers fetch the keys from apps and web pages of any origin: the SMART Health Cards
# spec requires CORS on the JWKS, whatever VAXPORT_CORS_ORIGINS allows for the API.
# Public and the same for everyone: shared caches may keep it for a while (a new key
# is published before it signs anything: the verifier refetches on an unknown kid).
PUBLIC_KEY_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Cache-Control": "public, max-age=300",
}


@router.get(
    "/shc/{tenant}/.well-known/jwks.json",
    dependencies=[requires("certificate-keys:read", public=True)],
    summary="The tenant's SMART Health Card issuer keys (JWKS)",
)
async def shc_jwks(tenant: str, ctx: Ctx) -> Response:
    """Active and still-published SHC issuer keys (ES256, P-256); never a token key."""
    document = await service.get_shc_jwks(db=ctx.db, cache=ctx.cache, code=tenant)
    return Response(
        orjson.dumps(document), media_type="application/json", headers=PUBLIC_KEY_HEADERS
    )


@router.get(
    "/shc/{tenant}/.well-known/crl/{kid}.json",
    dependencies=[requires("certificate-keys:read", public=True)],
    summary="The revocation list of one of the tenant's SMART Health Card issuer keys",
    responses={404: {"description": "No such tenant or key"}},
)
async def shc_crl(tenant: str, kid: str, ctx: Ctx) -> Response:
    """``{kid, method: "rid", ctr, rids}`` (SMART Health Cards revocation); ``ctr`` is the
    key's ``crlVersion`` in the JWKS. Short caching: revocations apply within minutes."""
    document = await service.get_shc_crl(db=ctx.db, cache=ctx.cache, code=tenant, kid=kid)
    return Response(
        orjson.dumps(document),
        media_type="application/json",
        headers={**PUBLIC_KEY_HEADERS, "Cache-Control": "public, max-age=60"},
    )
