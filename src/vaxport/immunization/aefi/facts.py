"""What reporting an adverse event reads before it writes, in one statement.

The dose named (recorded, of this tenant) and its person's columns and key
(registration's :func:`~vaxport.registration.service.person_read`): for staff the dose
first and its person joined to it (reached through the dose's place, the person need not
be read at all); for a citizen the member named first and the dose beside. One SELECT,
built once per shape and sent as a prepared statement in the report's transaction
(:func:`~vaxport.core.db.fetch_in`), where the ORM took the dose, the person and their
key one query each.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Select, Table, Uuid, and_, bindparam, select

from vaxport.core.db import UnitOfWork, fetch_in
from vaxport.identity.service import Actor
from vaxport.immunization.models import Dose
from vaxport.registration import service as registration
from vaxport.tenancy.service import TenantInfo

__all__ = ["DoseFacts", "ReportFacts", "read_facts"]

DOSES = cast(Table, Dose.__table__)
_TENANT = bindparam("af_tenant", None, type_=Uuid())
_DOSE = bindparam("af_dose", None, type_=Uuid())
_COLUMNS = ("id", "beneficiary_id", "lot_id", "product_id", "region_code", "facility_id")


@dataclass(frozen=True, slots=True)
class DoseFacts:
    """The dose a report follows, as the report copies it."""

    id: uuid.UUID
    beneficiary_id: uuid.UUID
    lot_id: uuid.UUID | None
    product_id: str
    region_code: str
    facility_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class ReportFacts:
    """What the statement found: the dose (None: none such, or none named) and the
    person's values for :meth:`~registration.PersonRead.facts_in` (None: no row)."""

    dose: DoseFacts | None
    person: Sequence[Any] | None


async def read_facts(
    uow: UnitOfWork,
    *,
    tenant: TenantInfo,
    actor: Actor,
    person_read: registration.PersonRead,
    dose_id: uuid.UUID | None,
    beneficiary_id: uuid.UUID | None = None,
) -> ReportFacts:
    """The dose ``dose_id`` and its person (staff), or the person ``beneficiary_id`` and
    the dose beside (a citizen's member): one statement."""
    by_dose = beneficiary_id is None
    params = {
        **person_read.params(tenant, actor, beneficiary_id),
        "af_tenant": tenant.id,
        "af_dose": dose_id,
    }
    rows = await fetch_in(uow, _statement(person_read, by_dose), params)
    if not rows:
        return ReportFacts(None, None)
    n = len(_COLUMNS)
    row = rows[0]
    dose = DoseFacts(*row[:n]) if row[0] is not None else None
    return ReportFacts(dose, row[n:] if row[n] is not None else None)


@functools.lru_cache(maxsize=64)
def _statement(person_read: registration.PersonRead, by_dose: bool) -> Select[Any]:
    """The dose's columns, then the person's (built once per shape)."""
    d = DOSES.c
    named = and_(d.tenant_id == _TENANT, d.id == _DOSE, d.status == "recorded")
    if by_dose:
        source = DOSES.outerjoin(person_read.source, person_read.where_for(d.beneficiary_id))
        where = named
    else:
        source = person_read.source.outerjoin(DOSES, named)
        where = person_read.where
    columns = [d[c] for c in _COLUMNS]
    return select(*columns, *person_read.columns).select_from(source).where(where)
