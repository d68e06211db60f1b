"""Shaping people for answers, and the actor's scope as query filters and resources."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import ColumnElement, false, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from vaxport.identity.service import CITIZEN, Actor, Resource
from vaxport.registration.models import Beneficiary, BeneficiaryDocument
from vaxport.registration.schemas import DocumentOut, MemberOut


def resource(person: Beneficiary) -> Resource:
    """Where a person sits, for ``policy.authorize``: region, facility, managing account."""
    return Resource(
        tenant_id=person.tenant_id,
        region_code=person.region_code,
        facility_id=person.facility_id,
        owner_id=person.account_id,
    )


def scope_filter(actor: Actor) -> ColumnElement[bool]:
    """The people ``actor`` reaches, as a WHERE clause (same rule as ``policy.can``)."""
    if actor.role == CITIZEN or actor.kind == "citizen":
        return Beneficiary.account_id == actor.account_id
    if actor.is_national:
        return true()
    if actor.facility_id is not None:
        return Beneficiary.facility_id == actor.facility_id
    codes = actor.region_filter_codes()
    if not codes:
        return false()
    return Beneficiary.region_code.in_(sorted(codes))


async def documents_of(
    session: AsyncSession, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[BeneficiaryDocument]]:
    """The documents of each person in ``ids`` (one query)."""
    out: dict[uuid.UUID, list[BeneficiaryDocument]] = defaultdict(list)
    if not ids:
        return out
    rows = await session.scalars(
        select(BeneficiaryDocument)
        .where(
            BeneficiaryDocument.tenant_id == tenant_id,
            BeneficiaryDocument.beneficiary_id.in_(list(ids)),
        )
        .order_by(BeneficiaryDocument.created_at, BeneficiaryDocument.id)
    )
    for doc in rows:
        out[doc.beneficiary_id].append(doc)
    return out


def member_out(person: Beneficiary, documents: Sequence[BeneficiaryDocument]) -> MemberOut:
    """The allow-listed answer for one person (decrypts their fields)."""
    return MemberOut(
        id=person.id,
        reference=person.reference,
        status=person.status,
        given_name=person.given_name or "",
        family_name=person.family_name,
        sex=person.sex,
        birth_date=person.birth_date,
        birth_year=person.birth_year,
        documents=[DocumentOut(id_type=d.id_type, number=d.number or "") for d in documents],
        phone=person.phone,
        email=person.email,
        region_code=person.region_code,
        facility_id=person.facility_id,
        preferred_locale=person.preferred_locale,
        guardian_relation=person.guardian_relation,
        created_via=person.created_via,
        claimed=person.account_id is not None,
        vaccinated=person.vaccinated_at is not None,
        version=person.version,
        created_at=person.created_at,
        updated_at=person.updated_at,
    )
