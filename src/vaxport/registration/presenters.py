"""Shaping people for answers, and the actor's scope as query filters and resources."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, false, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from vaxport.identity.service import CITIZEN, Actor, Resource
from vaxport.registration.declared import codes_of
from vaxport.registration.models import Beneficiary, BeneficiaryDocument
from vaxport.registration.schemas import CreatedMemberOut, DocumentOut, MemberOut

Out = TypeVar("Out", bound=MemberOut)


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
    return _shown(
        MemberOut, lambda name: getattr(person, name), [(d.id_type, d.number) for d in documents]
    )


def registered_out(
    person: SimpleNamespace, documents: Sequence[SimpleNamespace], claim_code: str | None
) -> CreatedMemberOut:
    """The answer to a registration, from the plain rows the person was written with
    (nothing read back or decrypted): what :func:`member_out` shows of the stored row,
    and the slip's ``claim_code``."""
    return _shown(
        CreatedMemberOut,
        vars(person).__getitem__,
        [(d.id_type, d.number) for d in documents],
        claim_code=claim_code,
    )


def _shown(
    shape: type[Out],
    get: Callable[[str], Any],
    documents: list[tuple[str, str | None]],
    **extra: Any,
) -> Out:
    declared = get("declared")
    return shape(
        id=get("id"),
        reference=get("reference"),
        status=get("status"),
        given_name=get("given_name") or "",
        family_name=get("family_name"),
        sex=get("sex"),
        birth_date=get("birth_date"),
        birth_year=get("birth_year"),
        documents=[DocumentOut(id_type=t, number=n or "") for t, n in documents],
        phone=get("phone"),
        email=get("email"),
        region_code=get("region_code"),
        facility_id=get("facility_id"),
        preferred_locale=get("preferred_locale"),
        guardian_relation=get("guardian_relation"),
        risk_groups=list(codes_of(declared, "risk_groups")),
        occupations=list(codes_of(declared, "occupations")),
        created_via=get("created_via"),
        claimed=get("account_id") is not None,
        vaccinated=get("vaccinated_at") is not None,
        version=get("version"),
        created_at=get("created_at"),
        updated_at=get("updated_at"),
        **extra,
    )
