"""Certificate pages: a citizen's family members and their current certificates (the
doses they list, the PDF for A4 paper or a phone, the ``.smart-health-card`` file, each
QR code full screen), and a staff reprint at a centre.

``/{tenant}/certificates`` lists every member of the signed-in citizen's account; the
full-screen page (``.../qr/{certificate_id}``) is the QR code alone, large on white, as
a verifier's camera reads it best, and works without script. Staff reach
``/{tenant}/staff/people/{id}/certificates`` for a person in their reach (404
otherwise) and print from there; every staff read and print is audited by the service.
The PDF is in the person's preferred language, else the page's.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from vaxport.certificates import service as certificates
from vaxport.certificates.service import PersonCertificates
from vaxport.core.http.dependencies import Ctx, requires
from vaxport.identity.service import Actor, CurrentActor, OptionalActor, PathTenant, refuse_if_held
from vaxport.registration import service as registration
from vaxport.registration.service import MemberOut
from vaxport.tenancy.service import TenantInfo
from vaxport.web.staff_common import locale_of, page, settings_of

router = APIRouter(include_in_schema=False)
CITIZEN = "/{tenant}/certificates"
STAFF = "/{tenant}/staff/people/{member_id}/certificates"
GET = ["GET", "HEAD"]
PAGE = requires("pages:read", public=True)
READ = requires("certificates:read")
FORMAT_NAMES = {"eu-dcc": "EU DCC", "shc": "SMART Health Card"}
PDF_TYPE = "application/pdf"
CARD_TYPE = "application/smart-health-card"


def _citizen(actor: Actor | None, tenant: TenantInfo) -> Actor | None:
    if actor is None or actor.kind != "citizen" or actor.tenant_code != tenant.code:
        return None
    refuse_if_held(actor, "certificates:read")  # just recovered: not the family yet
    return actor


def _name(member: MemberOut) -> str:
    return f"{member.given_name} {member.family_name or ''}".strip()


def _card(found: PersonCertificates) -> dict[str, Any]:
    """What a page shows of a person's certificates."""
    return {
        "certificates": [
            {
                "id": str(c.id),
                "format": FORMAT_NAMES.get(c.format, c.format),
                "issued_at": c.issued_at.date(),
                "expires_at": c.expires_at.date() if c.expires_at else None,
                "has_qr": bool(c.qr),
                "dose_date": found.dose_dates.get(str(c.id)),
            }
            for c in found.certificates
        ],
        "doses": sorted(found.view.doses, key=lambda d: d.date) if found.view else [],
        "has_card": any(c.format == "shc" and c.jws for c in found.certificates),
    }


def _pdf_locale(request: Request, tenant: TenantInfo, member: MemberOut) -> str:
    preferred = member.preferred_locale
    if preferred and preferred in tenant.config.locales:
        return preferred
    return locale_of(request, tenant).locale


def _download(content: bytes, media_type: str, filename: str) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={
            "content-disposition": f'attachment; filename="{filename}"',
            "cache-control": "no-store",  # a person's certificate: never kept by a cache
        },
    )


async def _pdf(
    request: Request,
    ctx: Ctx,
    tenant: TenantInfo,
    actor: Actor,
    *,
    member_id: uuid.UUID,
    layout: str,
) -> Response:
    member = await registration.get_member(
        db=ctx.db, tenant=tenant, actor=actor, beneficiary_id=member_id
    )
    content = await certificates.certificate_pdf(
        db=ctx.db,
        tenant=tenant,
        actor=actor,
        beneficiary_id=member.id,
        layout=layout,
        locale=_pdf_locale(request, tenant, member),
        public_url=settings_of(request).public_url,
    )
    return _download(content, PDF_TYPE, f"vaccination-certificate-{layout}.pdf")


@router.api_route(CITIZEN, methods=GET, dependencies=[PAGE])
async def citizen_certificates(
    *, tenant: PathTenant, ctx: Ctx, actor: OptionalActor, request: Request
) -> Response:
    """Every member of the account with their current certificates."""
    me = _citizen(actor, tenant)
    if me is None:
        return RedirectResponse(f"/{tenant.code}/sign-in?next=/{tenant.code}/certificates", 303)
    members = await registration.list_members(db=ctx.db, tenant=tenant, actor=me, limit=50)
    people = []
    for member in members.items:
        found = await certificates.person_certificates(
            db=ctx.db, tenant=tenant, actor=me, beneficiary_id=member.id
        )
        people.append({"id": member.id, "name": _name(member), **_card(found)})
    return page(
        request,
        tenant,
        "citizen/certificates.html",
        nav_current="certificates",
        people=people,
        verify_url=settings_of(request).public_url.rstrip("/") + "/verify",
    )


@router.api_route(CITIZEN + "/{member_id}/pdf", methods=GET, dependencies=[READ])
async def citizen_pdf(
    *,
    tenant: PathTenant,
    member_id: uuid.UUID,
    ctx: Ctx,
    actor: CurrentActor,
    request: Request,
    layout: str = "a4",
) -> Response:
    """The member's certificate as a PDF (``layout``: ``a4`` or ``phone``)."""
    return await _pdf(request, ctx, tenant, actor, member_id=member_id, layout=layout[:16])


@router.api_route(CITIZEN + "/{member_id}/card", methods=GET, dependencies=[READ])
async def citizen_card(
    *, tenant: PathTenant, member_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> Response:
    """The member's SMART Health Card as a ``.smart-health-card`` file."""
    content = await certificates.smart_health_card_file(
        db=ctx.db, tenant=tenant, actor=actor, beneficiary_id=member_id
    )
    return _download(content, CARD_TYPE, "vaccination.smart-health-card")


@router.api_route(CITIZEN + "/{member_id}/qr/{certificate_id}", methods=GET, dependencies=[PAGE])
async def full_screen_qr(
    *,
    tenant: PathTenant,
    member_id: uuid.UUID,
    certificate_id: uuid.UUID,
    ctx: Ctx,
    actor: OptionalActor,
    request: Request,
) -> Response:
    """One certificate's QR code, as large as the screen allows, on white."""
    me = _citizen(actor, tenant)
    if me is None:
        return RedirectResponse(f"/{tenant.code}/sign-in?next=/{tenant.code}/certificates", 303)
    member = await registration.get_member(
        db=ctx.db, tenant=tenant, actor=me, beneficiary_id=member_id
    )
    found = await certificates.person_certificates(
        db=ctx.db, tenant=tenant, actor=me, beneficiary_id=member.id
    )
    certificate = found.find(str(certificate_id))
    if not certificate.qr:
        return RedirectResponse(f"/{tenant.code}/certificates", 303)
    return page(
        request,
        tenant,
        "citizen/certificate_qr.html",
        name=_name(member),
        format=FORMAT_NAMES.get(certificate.format, certificate.format),
        svg=certificates.qr_svg(certificate.qr),
    )


@router.api_route(STAFF, methods=GET, dependencies=[READ])
async def staff_certificates(
    *, tenant: PathTenant, member_id: uuid.UUID, ctx: Ctx, actor: CurrentActor, request: Request
) -> Response:
    """A person's current certificates, to print at the centre."""
    member = await registration.get_member(
        db=ctx.db, tenant=tenant, actor=actor, beneficiary_id=member_id
    )
    found = await certificates.person_certificates(
        db=ctx.db, tenant=tenant, actor=actor, beneficiary_id=member.id
    )
    return page(
        request,
        tenant,
        "staff/certificates.html",
        nav_current="people",
        person={"id": member.id, "name": _name(member), **_card(found)},
    )


@router.api_route(STAFF + "/pdf", methods=GET, dependencies=[READ])
async def staff_pdf(
    *,
    tenant: PathTenant,
    member_id: uuid.UUID,
    ctx: Ctx,
    actor: CurrentActor,
    request: Request,
    layout: str = "a4",
) -> Response:
    """Reprint: the person's certificate as a PDF (audited)."""
    return await _pdf(request, ctx, tenant, actor, member_id=member_id, layout=layout[:16])
