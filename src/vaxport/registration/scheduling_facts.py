"""What the scheduling context needs to know about a person to book for them.

Read-only, in the caller's transaction (a use case of scheduling checks a person and
writes its own rows together). Only what eligibility and scope checks use: no names, no
contacts, no ID numbers. A merged record answers with its survivor. Two ways in, one
answer: :func:`person_in_reach` for an actor's request (404 outside their reach; the
caller audits what it does), :func:`person_facts` for the worker's jobs (no actor).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from vaxport.core.db import UnitOfWork
from vaxport.core.errors import NotFound
from vaxport.core.i18n import N_
from vaxport.identity.service import Actor, Resource
from vaxport.registration.models import STATUS_ACTIVE, Beneficiary
from vaxport.registration.reach import reaches
from vaxport.registration.reads import load_person
from vaxport.tenancy.service import TenantInfo


@dataclass(frozen=True, slots=True)
class PersonFacts:
    """A registered person as booking sees them: who manages them, where they sit, their
    birth and declared attributes (none are recorded yet: the sets are empty)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    account_id: uuid.UUID | None
    region_code: str
    facility_id: uuid.UUID | None
    birth_date: dt.date | None
    birth_year: int
    risk_groups: frozenset[str] = frozenset()
    occupations: frozenset[str] = frozenset()

    @property
    def resource(self) -> Resource:
        """The person for ``policy.authorize``: region, facility, managing account."""
        return Resource(
            tenant_id=self.tenant_id,
            region_code=self.region_code,
            facility_id=self.facility_id,
            owner_id=self.account_id,
        )


def _facts(person: Beneficiary) -> PersonFacts:
    return PersonFacts(
        id=person.id,
        tenant_id=person.tenant_id,
        account_id=person.account_id,
        region_code=person.region_code,
        facility_id=person.facility_id,
        birth_date=person.birth_date,
        birth_year=person.birth_year,
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
    """The person when ``actor`` reaches them for ``permission``; 404 otherwise."""
    person = await load_person(uow.session, tenant.id, beneficiary_id)
    if (
        person is None
        or person.status != STATUS_ACTIVE
        or not await reaches(uow.session, actor, tenant, permission, person)
    ):
        raise NotFound(N_("beneficiary not found"))
    return _facts(person)
