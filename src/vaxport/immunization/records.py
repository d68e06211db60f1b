"""Reading dose records: a person's history (with the records merged into them), one
dose, the schedule's next due date per series, and the subject-access export's section.

Staff with ``doses:read`` see the people in their reach (registration decides: their
jurisdiction, and for facility staff the people booked at their centre today); a citizen
sees the members of their own account. Anyone else's, or another tenant's, is 404. Staff
reads of a person's doses are audited like every read of personal data.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Uuid, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from vaxport.core import audit
from vaxport.core.db import Database, UnitOfWork, fetch_in
from vaxport.core.errors import NotFound
from vaxport.core.i18n import N_
from vaxport.identity.service import Actor
from vaxport.immunization.models import Dose, Lot
from vaxport.immunization.schemas import DoseHistoryOut, DoseOut, SeriesOut
from vaxport.registration import service as registration
from vaxport.scheduling import service as scheduling
from vaxport.tenancy.service import TenantConfig, TenantInfo

__all__ = [
    "CertifiedDose",
    "certified_doses",
    "dose_out",
    "doses_of_lot",
    "engine_person",
    "export_section",
    "get_dose",
    "history",
    "list_doses",
    "recorded_doses",
    "series_of",
]

READ = "doses:read"
NO_DOSE = N_("dose not found")
RECORDED = "recorded"


async def _rows(
    session: AsyncSession, tenant_id: uuid.UUID, person_id: uuid.UUID, *, voided: bool
) -> Sequence[Dose]:
    """The dose rows of the person and of the records merged into them, oldest first."""
    query = select(Dose).where(
        Dose.tenant_id == tenant_id,
        Dose.beneficiary_id.in_(registration.with_merged(tenant_id, person_id)),
    )
    if not voided:
        query = query.where(Dose.status == RECORDED)
    return (await session.scalars(query.order_by(Dose.day, Dose.dose_number, Dose.id))).all()


_DOSE_TENANT = bindparam("rd_tenant", None, type_=Uuid())
_DOSE_PERSON = bindparam("rd_person", None, type_=Uuid())
# Built once: fetch_in compiles it once per process and sends it off the ORM.
_RECORDED: Any = select(Dose.product_id, Dose.day, Dose.dose_number).where(
    Dose.tenant_id == _DOSE_TENANT,
    Dose.beneficiary_id.in_(registration.with_merged(_DOSE_TENANT, _DOSE_PERSON)),
    Dose.status == RECORDED,
)


async def recorded_doses(
    uow: UnitOfWork, tenant_id: uuid.UUID, person_id: uuid.UUID
) -> tuple[scheduling.Dose, ...]:
    """The person's recorded (not voided) doses as the schedule engine counts them:
    scheduling's dose source (``wiring``), and recording's history check. One query."""
    rows = await fetch_in(uow, _RECORDED, {"rd_tenant": tenant_id, "rd_person": person_id})
    return tuple(scheduling.Dose(product, day, number) for product, day, number in rows)


@dataclass(frozen=True, slots=True)
class CertifiedDose:
    """A recorded dose as a certificate states it (ids, product, date, lot number, the
    centre that gave it)."""

    id: uuid.UUID
    beneficiary_id: uuid.UUID
    product_id: str
    series: str
    dose_number: int
    day: dt.date
    lot_number: str | None
    facility_id: uuid.UUID | None = None


async def certified_doses(
    session: AsyncSession, tenant_id: uuid.UUID, person_id: uuid.UUID
) -> list[CertifiedDose]:
    """The person's recorded doses (with the records merged into them), oldest first:
    what the certificates context issues from (the worker's read: no actor, no audit)."""
    rows = await _rows(session, tenant_id, person_id, voided=False)
    lots = await _lot_numbers(session, tenant_id, rows)
    return [
        CertifiedDose(
            id=r.id,
            beneficiary_id=r.beneficiary_id,
            product_id=r.product_id,
            series=r.series,
            dose_number=r.dose_number,
            day=r.day,
            lot_number=lots.get(r.lot_id) if r.lot_id else None,
            facility_id=r.facility_id,
        )
        for r in rows
    ]


async def doses_of_lot(
    session: AsyncSession, tenant_id: uuid.UUID, lot_id: uuid.UUID
) -> list[tuple[uuid.UUID, uuid.UUID]] | None:
    """(dose id, person id) of every recorded dose drawn from the lot; None: no such lot."""
    found = await session.scalar(select(Lot.id).where(Lot.tenant_id == tenant_id, Lot.id == lot_id))
    if found is None:
        return None
    rows = await session.execute(
        select(Dose.id, Dose.beneficiary_id)
        .where(Dose.tenant_id == tenant_id, Dose.lot_id == lot_id, Dose.status == RECORDED)
        .order_by(Dose.id)
    )
    return [(r[0], r[1]) for r in rows.all()]


def engine_person(config: TenantConfig, person: registration.PersonFacts) -> scheduling.Person:
    """The engine's view of the person (a birth year alone where the tenant records one)."""
    by_date = config.birth_precision == "date" and person.birth_date is not None
    return scheduling.Person(
        birth_date=person.birth_date if by_date else None,
        birth_year=person.birth_year,
        risk_groups=person.risk_groups,
        occupations=person.occupations,
    )


def series_of(
    config: TenantConfig,
    person: registration.PersonFacts,
    doses: Sequence[scheduling.Dose],
    today: dt.date,
) -> list[SeriesOut]:
    """Per disease of the catalogue: doses given and the next dose's window, or complete."""
    assessed = scheduling.assess(config, engine_person(config, person), doses, today=today)
    out = []
    for disease, status in assessed.diseases.items():
        complete = status.next_earliest is None and status.primary_complete
        out.append(
            SeriesOut(
                series=disease,
                doses_given=status.doses_given,
                primary_complete=status.primary_complete,
                complete=complete,
                next_dose_number=None if complete else status.next_dose_number,
                next_earliest=None if complete else status.next_earliest,
                next_latest=None if complete else status.next_latest,
                overdue=status.overdue,
            )
        )
    return out


def dose_out(row: Dose, lot_number: str | None, *, personal: bool) -> DoseOut:
    """A dose as answered (``personal``: with its notes and override reason)."""
    out = DoseOut.model_validate(row)
    out.lot_number = lot_number
    out.notes = row.notes if personal else None
    out.override_reason = row.override_reason if personal else None
    return out


def _out(row: Dose, lots: dict[uuid.UUID, str], *, personal: bool) -> DoseOut:
    return dose_out(row, lots.get(row.lot_id) if row.lot_id else None, personal=personal)


async def _lot_numbers(
    session: AsyncSession, tenant_id: uuid.UUID, rows: Sequence[Dose]
) -> dict[uuid.UUID, str]:
    ids = {r.lot_id for r in rows if r.lot_id is not None}
    if not ids:
        return {}
    found = await session.execute(
        select(Lot.id, Lot.lot_number).where(Lot.tenant_id == tenant_id, Lot.id.in_(ids))
    )
    return {row[0]: row[1] for row in found.all()}


async def _audit_read(uow: UnitOfWork, actor: Actor, person_id: uuid.UUID, **details: Any) -> None:
    if actor.kind == "citizen":
        return
    await audit.record(
        uow,
        by=actor.principal,
        action="dose.read",
        object_type="beneficiary",
        object_id=person_id,
        details=details or None,
    )


async def list_doses(
    *, db: Database, tenant: TenantInfo, actor: Actor, beneficiary_id: uuid.UUID
) -> DoseHistoryOut:
    """A person's doses and their series, for an actor who reaches them (else 404)."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        person = await registration.person_in_reach(
            uow, tenant=tenant, actor=actor, beneficiary_id=beneficiary_id, permission=READ
        )
        rows = await _rows(uow.session, tenant.id, person.id, voided=True)
        lots = await _lot_numbers(uow.session, tenant.id, rows)
        await _audit_read(uow, actor, person.id, doses=len(rows))
        personal = actor.kind != "citizen"
        doses = [_out(r, lots, personal=personal) for r in rows]
        given = [
            scheduling.Dose(r.product_id, r.day, r.dose_number)
            for r in rows
            if r.status == RECORDED
        ]
        today = scheduling.local_today(tenant)
        return DoseHistoryOut(
            beneficiary_id=person.id,
            doses=doses,
            series=series_of(tenant.config, person, given, today),
        )


async def get_dose(
    *, db: Database, tenant: TenantInfo, actor: Actor, dose_id: uuid.UUID
) -> DoseOut:
    """One dose record, for an actor who reaches its person (else 404)."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        row = await uow.session.scalar(
            select(Dose).where(Dose.tenant_id == tenant.id, Dose.id == dose_id)
        )
        if row is None:
            raise NotFound(NO_DOSE)
        try:
            person = await registration.person_in_reach(
                uow, tenant=tenant, actor=actor, beneficiary_id=row.beneficiary_id, permission=READ
            )
        except NotFound:
            raise NotFound(NO_DOSE) from None
        lots = await _lot_numbers(uow.session, tenant.id, [row])
        await _audit_read(uow, actor, person.id, dose_id=str(row.id))
        return _out(row, lots, personal=actor.kind != "citizen")


async def history(
    session: AsyncSession, tenant_id: uuid.UUID, person_id: uuid.UUID
) -> list[dict[str, Any]]:
    """The person's dose records as JSON-ready data (the subject-access export's section)."""
    rows = await _rows(session, tenant_id, person_id, voided=True)
    lots = await _lot_numbers(session, tenant_id, rows)
    return [_out(r, lots, personal=True).model_dump(mode="json") for r in rows]


export_section = history
