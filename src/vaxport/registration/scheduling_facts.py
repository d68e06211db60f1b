"""What the scheduling context needs to know about a person to book for them.

Read-only, in the caller's transaction (a use case of scheduling checks a person and
writes its own rows together). Only what eligibility and scope checks use: no names, no
contacts, no ID numbers. A merged record answers with its survivor. Two ways in, one
answer: :func:`person_in_reach` for an actor's request (404 outside their reach; the
caller audits what it does), :func:`person_facts` for the worker's jobs (no actor).
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from vaxport.core.db import UnitOfWork, fetch_in
from vaxport.core.errors import NotFound
from vaxport.core.i18n import N_
from vaxport.identity.service import Actor
from vaxport.registration.facts import PersonFacts
from vaxport.registration.facts_read import person_read
from vaxport.registration.models import STATUS_ACTIVE, Beneficiary
from vaxport.registration.reach import reaches
from vaxport.registration.reads import load_person
from vaxport.tenancy.service import TenantInfo


def _facts(person: Beneficiary) -> PersonFacts:
    return PersonFacts(
        id=person.id,
        tenant_id=person.tenant_id,
        account_id=person.account_id,
        region_code=person.region_code,
        facility_id=person.facility_id,
        birth_date=person.birth_date,
        birth_year=person.birth_year,
        risk_groups=frozenset(person.risk_groups),
        occupations=frozenset(person.occupations),
    )


async def person_facts(
    session: AsyncSession, tenant_id: uuid.UUID, beneficiary_id: uuid.UUID
) -> PersonFacts | None:
    """The active person ``beneficiary_id`` (or the survivor it was merged into); None."""
    person = await load_person(session, tenant_id, beneficiary_id)
    if person is None or person.status != STATUS_ACTIVE:
        return None
    return _facts(person)


async def person_in_reach(
    uow: UnitOfWork,
    *,
    tenant: TenantInfo,
    actor: Actor,
    beneficiary_id: uuid.UUID,
    permission: str,
) -> PersonFacts:
    """The person when ``actor`` reaches them for ``permission``; 404 otherwise.

    One statement (the person, their key and the facility's booked-today reach:
    ``facts_read``); a merged record (its survivor) or a destroyed key the long way."""
    read = person_read(tenant=tenant, actor=actor, permission=permission)
    rows = await fetch_in(uow, read.alone(), read.params(tenant, actor, beneficiary_id))
    facts = await read.facts_in(uow, actor, rows[0] if rows else None)
    if facts is not None:
        return facts
    person = await load_person(uow.session, tenant.id, beneficiary_id)
    if (
        person is None
        or person.status != STATUS_ACTIVE
        or not await reaches(uow.session, actor, tenant, permission, person)
    ):
        raise NotFound(N_("beneficiary not found"))
    return _facts(person)
