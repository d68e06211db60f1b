"""HTTP routes of a person's certificates, and of revoking certificates.

Citizens read their own family's, staff with ``certificates:read`` the people in their
reach (audited); anyone else's is 404. Admins with ``certificates:revoke`` revoke a
person's certificates for confirmed fraud, and national admins every certificate of a
faulty lot's doses (the worker revokes them within seconds: 202).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from vaxport.certificates import service
from vaxport.certificates.schemas import CertificateOut, RevokeOut
from vaxport.core.http.dependencies import Ctx, requires
from vaxport.identity.service import CurrentActor, PathTenant

router = APIRouter(tags=["certificates"])

READ = requires("certificates:read")
REVOKE = requires("certificates:revoke")
LIST = "/api/v1/{tenant}/beneficiaries/{beneficiary_id}/certificates"
ITEM = LIST + "/{certificate_id}"
NOT_IN_REACH: dict[int | str, dict[str, Any]] = {
    404: {"description": "The person (or certificate) is not in your reach"}
}
SHC_FILE = "application/smart-health-card"


@router.get(
    LIST,
    dependencies=[READ],
    operation_id="list_certificates",
    summary="A person's current certificates",
    responses=NOT_IN_REACH,
)
async def list_certificates(
    tenant: PathTenant, beneficiary_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> list[CertificateOut]:
    """The SMART Health Card listing every dose, and an EU DCC per dose, with QR texts."""
    return await service.current_certificates(
        db=ctx.db, tenant=tenant, actor=actor, beneficiary_id=beneficiary_id
    )


@router.get(
    ITEM,
    dependencies=[READ],
    operation_id="get_certificate",
    summary="One of a person's certificates (current, superseded or revoked)",
    responses=NOT_IN_REACH,
)
async def get_certificate(
    tenant: PathTenant,
    beneficiary_id: uuid.UUID,
    certificate_id: uuid.UUID,
    ctx: Ctx,
    actor: CurrentActor,
) -> CertificateOut:
    """404 when the certificate is not this person's or the person not in reach."""
    return await service.get_certificate(
        db=ctx.db,
        tenant=tenant,
        actor=actor,
        beneficiary_id=beneficiary_id,
        certificate_id=certificate_id,
    )


@router.get(
    ITEM + "/file",
    dependencies=[READ],
    operation_id="download_smart_health_card",
    summary="A SMART Health Card as a .smart-health-card file",
    responses={200: {"content": {SHC_FILE: {}}}, **NOT_IN_REACH},
    response_class=Response,
)
async def download_smart_health_card(
    tenant: PathTenant,
    beneficiary_id: uuid.UUID,
    certificate_id: uuid.UUID,
    ctx: Ctx,
    actor: CurrentActor,
) -> Response:
    """The file health apps import (``{"verifiableCredential": [jws]}``)."""
    content = await service.smart_health_card_file(
        db=ctx.db,
        tenant=tenant,
        actor=actor,
        beneficiary_id=beneficiary_id,
        certificate_id=certificate_id,
    )
    return Response(
        content,
        media_type=SHC_FILE,
        headers={
            "Content-Disposition": 'attachment; filename="vaccination.smart-health-card"',
            "Cache-Control": "no-store",
        },
    )


@router.post(
    LIST + "/revoke",
    dependencies=[REVOKE],
    operation_id="revoke_certificates",
    summary="Revoke a person's certificates (confirmed fraud)",
    responses=NOT_IN_REACH,
)
async def revoke_certificates(
    tenant: PathTenant, beneficiary_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> RevokeOut:
    """Their doses so far are withheld from certificates; verification refuses the
    revoked ones within half a minute. Asking again revokes nothing more."""
    done = await service.revoke_person(
        db=ctx.db,
        tenant=tenant,
        actor=actor,
        beneficiary_id=beneficiary_id,
        public_url=ctx.settings.public_url,
    )
    return RevokeOut.model_validate(done)


@router.post(
    "/api/v1/{tenant}/lots/{lot_id}/revoke-certificates",
    dependencies=[REVOKE],
    status_code=202,
    operation_id="revoke_lot_certificates",
    summary="Revoke every certificate of a faulty lot's doses",
    responses={
        403: {"description": "Only a national admin may"},
        404: {"description": "No such lot"},
    },
)
async def revoke_lot_certificates(
    tenant: PathTenant, lot_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> RevokeOut:
    """The lot's doses are withheld now; the worker revokes and reissues each person's
    certificates within seconds (202)."""
    done = await service.revoke_lot(db=ctx.db, tenant=tenant, actor=actor, lot_id=lot_id)
    return RevokeOut.model_validate(done)
