"""What another context knows of a person it books or vaccinates: :class:`PersonFacts`."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from vaxport.identity.service import Resource


@dataclass(frozen=True, slots=True)
class PersonFacts:
    """A registered person as booking sees them: who manages them, where they sit, their
    birth and the risk groups and occupations they declared (decrypted: health data,
    never logged)."""

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
