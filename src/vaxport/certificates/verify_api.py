"""HTTP routes: public verification, the exported trust list, a tenant's trust imports.

``POST /api/v1/verify`` takes JSON ``{"payload": ...}``, a multipart form (``image``
file or ``payload`` text) or a bare ``image/png``/``image/jpeg`` body. The route is an
upload (so the global JSON cap does not refuse a photo) and reads its own body up to
``VAXPORT_VERIFY_IMAGE_MAX_BYTES``: 413 beyond, before anything is parsed.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.datastructures import UploadFile
from starlette.responses import Response

from vaxport.certificates import service
from vaxport.certificates.schemas import (
    MAX_PAYLOAD_CHARS,
    DscImport,
    ImportOut,
    IssuerImport,
    RevocationImport,
    RevocationOut,
    TrustOut,
    VerifyRequest,
    VerifyResult,
)
from vaxport.certificates.trust import service as trust
from vaxport.certificates.trust import withdraw
from vaxport.core.errors import (
    BadRequest,
    UnsupportedMediaType,
    ValidationFailed,
    from_validation,
)
from vaxport.core.http import json_body
from vaxport.core.http.dependencies import Ctx, requires
from vaxport.core.i18n import N_
from vaxport.identity.service import CurrentActor, PathTenant

router = APIRouter(tags=["certificates"])

VERIFY = requires("certificates:verify", public=True, rate="verification", upload=True)
TRUST_LIST = requires("certificates:trust-list", public=True, rate="verification")
MANAGE = requires("trust:manage")
_IMAGE_TYPES = ("image/png", "image/jpeg")
_JSON_CAP = MAX_PAYLOAD_CHARS * 4 + 1024  # escaped JSON of the largest payload

_VERIFY_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["payload"],
                    "additionalProperties": False,
                    "properties": {
                        "payload": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": MAX_PAYLOAD_CHARS,
                        }
                    },
                },
                "example": {"payload": "HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH..."},
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "image": {"type": "string", "format": "binary"},
                        "payload": {"type": "string"},
                    },
                },
                "example": {"payload": "HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH..."},
            },
            "image/png": {"schema": {"type": "string", "format": "binary"}},
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


async def _from_form(request: Request, raw: bytes, limit: int) -> tuple[str | bytes, bool]:
    async def replay() -> dict[str, Any]:
        return {"type": "http.request", "body": raw, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(
            max_files=1, max_fields=4, max_part_size=limit
        )
    except Exception:  # noqa: BLE001 - the multipart parser raises several kinds on junk
        raise BadRequest(N_("the multipart body cannot be read")) from None
    try:
        image, text = form.get("image"), form.get("payload")
        if isinstance(image, UploadFile):
            return await image.read(), True
        if isinstance(text, str) and 0 < len(text) <= MAX_PAYLOAD_CHARS:
            return text, False
    finally:
        await form.close()
    raise ValidationFailed(
        errors=from_validation([{"loc": ("image",), "type": "missing", "msg": "missing"}])
    )


@router.post(
    "/api/v1/verify",
    dependencies=[VERIFY],
    response_model=VerifyResult,
    summary="Verify a certificate (EU DCC or SMART Health Card), as text or a photo",
    openapi_extra=_VERIFY_BODY,
)
async def verify(request: Request, ctx: Ctx) -> Response:
    """Verify a certificate against every key this installation trusts.

    Always 200 with the verdict (``valid`` false and the failed check when it fails);
    4xx only when the request itself is malformed.
    """
    limit = ctx.settings.verify_image_max_bytes
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    read = json_body.read_capped
    if media == "application/json":
        raw = await read(request, min(limit, _JSON_CAP))
        payload: str | bytes = json_body.validated(raw, VerifyRequest).payload
        image = False
    elif media == "multipart/form-data":
        payload, image = await _from_form(request, await read(request, limit), limit)
    elif media in _IMAGE_TYPES:
        payload, image = await read(request, limit), True
    else:
        raise UnsupportedMediaType(
            N_("send application/json, multipart/form-data, image/png or image/jpeg")
        )
    result = await service.verify_certificate(db=ctx.db, payload=payload, image=image)
    return Response(json.dumps(result.to_json()), media_type="application/json")


@router.get(
    "/api/v1/trust-list",
    dependencies=[TRUST_LIST],
    summary="The signed trust bundle: every trusted key and the revocation data",
)
async def trust_list(ctx: Ctx) -> Response:
    """A ``vaxport-trust-list/1`` bundle (see docs/certificates.md), signed by the
    installation's trust-list key; offline verifiers refresh it once a day."""
    doc = await service.trust_list(db=ctx.db)
    return Response(
        json.dumps(doc),
        media_type="application/json",
        headers={"Cache-Control": "public, max-age=300"},
    )


@router.get(
    "/api/v1/{tenant}/trust",
    dependencies=[MANAGE],
    response_model=TrustOut,
    summary="The tenant's trusted foreign signers",
)
async def list_trust(tenant: PathTenant, ctx: Ctx) -> TrustOut:
    """Every foreign DSC and SHC issuer this tenant trusts, and how many revocations."""
    found = await trust.tenant_trust(db=ctx.db, tenant_id=tenant.id)
    return TrustOut.model_validate(
        {
            "dscs": found.dscs,
            "issuers": [
                {
                    "iss": i.iss,
                    "keys": len(i.jwks.get("keys", [])),
                    "kids": [k.get("kid") for k in i.jwks.get("keys", [])],
                    "updated_at": i.updated_at,
                }
                for i in found.issuers
            ],
            "revocations": len(found.revocations),
        }
    )


@router.post(
    "/api/v1/{tenant}/trust/dscs",
    dependencies=[MANAGE],
    status_code=201,
    response_model=ImportOut,
    summary="Trust foreign EU DCC signing certificates",
)
async def import_dscs(
    tenant: PathTenant, body: DscImport, ctx: Ctx, who: CurrentActor
) -> ImportOut:
    """Add DSCs (PEM or base64 DER); ones already trusted are counted, not added."""
    out = await trust.import_dscs(
        db=ctx.db,
        tenant_id=tenant.id,
        data=body.certificate.encode(),
        country=body.country,
        by=who.principal,
        source="api",
    )
    return ImportOut.model_validate(out)


@router.post(
    "/api/v1/{tenant}/trust/shc-issuers",
    dependencies=[MANAGE],
    status_code=201,
    response_model=ImportOut,
    summary="Trust a SMART Health Cards issuer's keys",
)
async def import_issuer(
    tenant: PathTenant, body: IssuerImport, ctx: Ctx, who: CurrentActor
) -> ImportOut:
    """Add or refresh an issuer's public JWKS (private keys are refused)."""
    out = await trust.import_issuer(
        db=ctx.db, tenant_id=tenant.id, iss=body.iss, jwks=body.jwks, by=who.principal, source="api"
    )
    return ImportOut.model_validate(out)


@router.post(
    "/api/v1/{tenant}/trust/revocations",
    dependencies=[MANAGE],
    response_model=RevocationOut,
    summary="Revoke foreign certificates",
)
async def revoke(
    tenant: PathTenant, body: RevocationImport, ctx: Ctx, who: CurrentActor
) -> RevocationOut:
    """Record revoked foreign DCCs (by hash) or SHCs (by rid); verification refuses them."""
    added = await trust.revoke(
        db=ctx.db,
        tenant_id=tenant.id,
        kind=body.kind,
        kid=body.kid,
        entries=body.entries,
        iss=body.iss,
        by=who.principal,
    )
    return RevocationOut(added=added)


DccKid = Annotated[str, Path(min_length=16, max_length=16, pattern="^[0-9a-f]{16}$")]
ShcKid = Annotated[str, Path(min_length=1, max_length=withdraw.MAX_SHC_KID_CHARS)]
_WITHDRAW_ANSWERS: dict[int | str, dict[str, Any]] = {
    404: {"description": "The tenant imported no such key"},
    409: {"description": "One of this installation's own keys: retire it with vaxport keys"},
}


@router.delete(
    "/api/v1/{tenant}/trust/dscs/{kid}",
    dependencies=[MANAGE],
    status_code=204,
    responses=_WITHDRAW_ANSWERS,
    summary="Stop trusting a foreign EU DCC signing certificate",
)
async def remove_dsc(tenant: PathTenant, kid: DccKid, ctx: Ctx, who: CurrentActor) -> Response:
    """Remove the tenant's imported DSCs with this kid (hex, as the listing shows it)."""
    await withdraw.remove_dsc(db=ctx.db, tenant_id=tenant.id, kid=kid, by=who.principal)
    return Response(status_code=204)


@router.delete(
    "/api/v1/{tenant}/trust/shc-keys/{kid}",
    dependencies=[MANAGE],
    status_code=204,
    responses=_WITHDRAW_ANSWERS,
    summary="Stop trusting a SMART Health Cards issuer key",
)
async def remove_shc_key(tenant: PathTenant, kid: ShcKid, ctx: Ctx, who: CurrentActor) -> Response:
    """Remove the key from every issuer of the tenant listing it (an issuer left without
    keys is removed)."""
    await withdraw.remove_shc_key(db=ctx.db, tenant_id=tenant.id, kid=kid, by=who.principal)
    return Response(status_code=204)
