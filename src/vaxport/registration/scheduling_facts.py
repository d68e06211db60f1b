"""What the scheduling context needs to know about a person to book for them.

Read-only, in the caller's transaction (a use case of scheduling checks a person and
writes its own rows together). Only what eligibility and scope checks use: no names, no
contacts, no ID numbers. A merged record answers with its survivor.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from vaxport.identity.service import Resource
from vaxport.registration.models import STATUS_ACTIVE
from vaxport.registration.reads import load_person


@dataclass(frozen=True, slots=True)
class PersonFacts:
    """A registered person as booking sees them: where they sit and their birth."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    account_id: uuid.UUID | None
    region_code: str
    facility_id: uuid.UUID | None
    birth_date: dt.date | None
    birth_year: int

    @property
    def resource(self) -> Resource:
        """The person for ``policy.authorize``: region, facility, managing account."""
        return Resource(
            tenant_id=self.tenant_id,
            region_code=self.region_code,
            facility_id=self.facility_id,
            owner_id=self.account_id,
        )


async def person_facts(
    session: AsyncSession, tenant_id: uuid.UUID, beneficiary_id: uuid.UUID
) -> PersonFacts | None:
    """The active person ``beneficiary_id`` (or the survivor it was merged into); None."""
    person = await load_person(session, tenant_id, beneficiary_id)
    if person is None or person.status != STATUS_ACTIVE:
        return None
    return PersonFacts(
        id=person.id,
        tenant_id=person.tenant_id,
        account_id=person.account_id,
        region_code=person.region_code,
        facility_id=person.facility_id,
        birth_date=person.birth_date,
        birth_year=person.birth_year,
    )
