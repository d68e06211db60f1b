"""Names of people by id, in one query: what another context's staff list shows beside its rows.

Scheduling's list of the day at a centre shows who is booked; it holds only the people's
ids. The caller has already decided the staff member may see these people (their
appointments are at the staff member's centre) and audits the read in its own
transaction; this answers only what it was asked, decrypting nothing else.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select

from vaxport.core.crypto import CryptoError
from vaxport.core.db import Database
from vaxport.registration.models import Beneficiary

# One query's worth; callers ask for a page of a list at a time.
NAMES_MAX = 500


@dataclass(frozen=True, slots=True)
class PersonName:
    """How staff call a person, and the reference printed on their slip."""

    given_name: str
    family_name: str | None
    reference: str

    @property
    def full(self) -> str:
        """Given and family name, as a list shows them."""
        return f"{self.given_name} {self.family_name}" if self.family_name else self.given_name


async def names_of(
    *, db: Database, tenant_id: uuid.UUID, ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, PersonName]:
    """The names of the people in ``ids`` (at most :data:`NAMES_MAX`), by id.

    People not there (erased) or whose key was destroyed are left out; a merged record
    answers with its own name (the one the appointment was made under).
    """
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    if len(wanted) > NAMES_MAX:
        raise ValueError(f"ask for at most {NAMES_MAX} names at a time")
    out: dict[uuid.UUID, PersonName] = {}
    async with db.read(tenant_id=tenant_id) as session:
        rows = await session.scalars(
            select(Beneficiary).where(
                Beneficiary.tenant_id == tenant_id, Beneficiary.id.in_(wanted)
            )
        )
        for person in rows:
            try:
                given, family = person.given_name or "", person.family_name
            except CryptoError:  # erased in the meantime: nothing left to show
                continue
            out[person.id] = PersonName(given, family, person.reference)
    return out
