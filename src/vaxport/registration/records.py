"""A person's record for another context that exchanges it (immunization's FHIR Patient,
the certificates the worker issues: :func:`holder_record`).

Read in the caller's transaction, so the caller's audit entry is written with the read
it describes (one entry per read, not one here and one there). Only what a record
exchanged with another system carries: names, sex, birth, the slip's reference and, when
the reader may see them as registration shows them to staff (``beneficiaries:read`` in
reach), phone and e-mail; never ID numbers. A merged record answers with its survivor,
and ``record_ids`` lists the survivor's id and every record merged into it, whose own
facts (doses) still carry their old ids.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vaxport.core.db import UnitOfWork
from vaxport.core.errors import NotFound
from vaxport.core.i18n import N_
from vaxport.identity.service import Actor
from vaxport.registration.models import STATUS_ACTIVE, Beneficiary
from vaxport.registration.reach import reaches
from vaxport.registration.reads import MERGE_HOPS, READ, load_person
from vaxport.tenancy.service import TenantInfo


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """A registered person as exchanged with other systems (see the module's docstring)."""

    id: uuid.UUID
    record_ids: tuple[uuid.UUID, ...]
    reference: str
    given_name: str
    family_name: str | None
    sex: str
    birth_date: dt.date | None
    birth_year: int
    phone: str | None
    email: str | None
    updated_at: dt.datetime


async def _merged_into(
    uow: UnitOfWork, tenant_id: uuid.UUID, survivor: uuid.UUID
) -> list[uuid.UUID]:
    """The survivor's id and the records merged into it, as far as a merge chain goes."""
    found, frontier = [survivor], [survivor]
    for _ in range(MERGE_HOPS):
        rows = await uow.session.scalars(
            select(Beneficiary.id).where(
                Beneficiary.tenant_id == tenant_id, Beneficiary.merged_into_id.in_(frontier)
            )
        )
        frontier = [i for i in rows if i not in found]
        if not frontier:
            break
        found += frontier
    return found


async def holder_record(
    session: AsyncSession, tenant_id: uuid.UUID, beneficiary_id: uuid.UUID
) -> PersonRecord | None:
    """The active person ``beneficiary_id`` (or its survivor) for a certificate the worker
    issues: no actor, no contacts (the caller prints only names and birth); None when
    there is no such active person (erased)."""
    person = await load_person(session, tenant_id, beneficiary_id)
    if person is None or person.status != STATUS_ACTIVE:
        return None
    return PersonRecord(
        id=person.id,
        record_ids=(person.id,),
        reference=person.reference,
        given_name=person.given_name or "",
        family_name=person.family_name,
        sex=person.sex,
        birth_date=person.birth_date,
        birth_year=person.birth_year,
        phone=None,
        email=None,
        updated_at=person.updated_at,
    )


async def person_record(
    uow: UnitOfWork,
    *,
    tenant: TenantInfo,
    actor: Actor,
    beneficiary_id: uuid.UUID,
    permission: str,
) -> PersonRecord:
    """The person when ``actor`` reaches them for ``permission``; 404 otherwise.

    The caller audits the read (in ``uow``): this writes nothing.
    """
    person = await load_person(uow.session, tenant.id, beneficiary_id)
    if (
        person is None
        or person.status != STATUS_ACTIVE
        or not await reaches(uow.session, actor, tenant, permission, person)
    ):
        raise NotFound(N_("beneficiary not found"))
    contacts = permission == READ or await reaches(uow.session, actor, tenant, READ, person)
    return PersonRecord(
        id=person.id,
        record_ids=tuple(await _merged_into(uow, tenant.id, person.id)),
        reference=person.reference,
        given_name=person.given_name or "",
        family_name=person.family_name,
        sex=person.sex,
        birth_date=person.birth_date,
        birth_year=person.birth_year,
        phone=person.phone if contacts else None,
        email=person.email if contacts else None,
        updated_at=person.updated_at,
    )
