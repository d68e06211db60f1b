"""What recording a dose reads before it writes, in one statement (one for a batch).

The person (registration's columns and their key, :func:`registration.person_read`),
the centre's region (facilities' :func:`facilities.region_of`), the lot (by id or
number, the one of the dose's product first) and the person's recorded doses, those
merged into them included: one SELECT, built once per shape and sent as a prepared
statement in the dose's transaction (:func:`~vaxport.core.db.fetch_in`). One row per
recorded dose (one row without a dose; none without the person). It replaces four or
five ORM queries (person, key, centre, lot, history), each a round trip and most of a
millisecond of CPU.

An offline sync's batch reads the same for all its doses in one statement on PostgreSQL
(:func:`read_many`): the doses' values as arrays (``unnest``), and per dose the same
statement as a LATERAL subquery whose parameters are that dose's columns. Elsewhere
(SQLite) each dose is read alone.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    Integer,
    Select,
    String,
    Table,
    Uuid,
    and_,
    bindparam,
    case,
    column,
    func,
    select,
    true,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import FromClause

from vaxport.core.db import UnitOfWork, fetch_in
from vaxport.core.errors import NotFound
from vaxport.facilities import service as facilities
from vaxport.identity.service import Actor
from vaxport.immunization.lots.writes import normalise_lot_number
from vaxport.immunization.models import Dose, Lot
from vaxport.immunization.schemas import DoseIn
from vaxport.registration import service as registration
from vaxport.scheduling import service as scheduling
from vaxport.tenancy.service import TenantInfo

__all__ = ["LotFacts", "RecordingFacts", "read_facts", "read_many"]

LOTS = cast(Table, Lot.__table__)
DOSES = cast(Table, Dose.__table__)
RECORDED = "recorded"
_TENANT = bindparam("rd_tenant", None, type_=Uuid())
_PERSON = bindparam("rd_person", None, type_=Uuid())
_FACILITY = bindparam("rd_facility", None, type_=Uuid())
_PRODUCT = bindparam("rd_product", None, type_=LOTS.c.product_id.type)
_LOT_ID = bindparam("rd_lot_id", None, type_=Uuid())
_LOT_NUMBER = bindparam("rd_lot_number", None, type_=LOTS.c.lot_number.type)
_APPOINTMENT_ID = bindparam("rd_appointment_id", None, type_=Uuid())
_BOOKING_CODE = bindparam("rd_booking_code", None, type_=String())


@dataclass(frozen=True, slots=True)
class LotFacts:
    """The lot a dose is drawn from, as recording checks it."""

    id: uuid.UUID
    product_id: str
    lot_number: str
    expires_on: dt.date
    on_hold: bool

    @classmethod
    def of(cls, lot: Lot) -> LotFacts:
        return cls(lot.id, lot.product_id, lot.lot_number, lot.expires_on, lot.on_hold)


@dataclass(frozen=True, slots=True)
class RecordingFacts:
    """What the statement found. ``person`` None: registration's full read must answer
    (a merged record...), and then the rest is read the long way too."""

    person: registration.PersonFacts | None
    region: str | None
    lot: LotFacts | None
    doses: tuple[scheduling.Dose, ...]
    # The appointment named (by id or booking code; None: no such one), when one was.
    appointment: scheduling.AppointmentFacts | None = None


async def read_facts(
    uow: UnitOfWork,
    *,
    tenant: TenantInfo,
    actor: Actor,
    body: DoseIn,
    facility_id: uuid.UUID | None,
    permission: str,
) -> RecordingFacts:
    """The person (404 when out of ``actor``'s reach), the centre's region, the lot and
    the history, read in one statement."""
    person_read = registration.person_read(tenant=tenant, actor=actor, permission=permission)
    by_id = body.lot_id is not None
    appointment = "id" if body.appointment_id else "code" if body.booking_code else None
    query = _statement(person_read, by_id, appointment)
    params = {
        **person_read.params(tenant, actor, body.beneficiary_id),
        "rd_tenant": tenant.id,
        "rd_person": body.beneficiary_id,
        "rd_facility": facility_id,
        "rd_product": body.product_id,
    }
    if by_id:
        params["rd_lot_id"] = body.lot_id
    else:
        params["rd_lot_number"] = normalise_lot_number(body.lot_number or "")
    if appointment == "id":
        params["rd_appointment_id"] = body.appointment_id
    elif appointment == "code":
        params["rd_booking_code"] = scheduling.booking_code_of(body.booking_code or "")
    rows = await fetch_in(uow, query, params)
    return await _facts(uow, person_read, actor, rows, with_appointment=appointment is not None)


async def _facts(
    uow: UnitOfWork,
    person_read: registration.PersonRead,
    actor: Actor,
    rows: Sequence[Sequence[Any]],
    *,
    with_appointment: bool = False,
) -> RecordingFacts:
    """One dose's facts from its rows of the statement (none: 404)."""
    n = len(person_read.columns)
    person = await person_read.facts_in(uow, actor, rows[0][:n] if rows else None)
    first = rows[0]
    lot_id, product, number, expires_on, on_hold = first[n + 1 : n + 6]
    lot = LotFacts(lot_id, product, number, expires_on, on_hold) if lot_id is not None else None
    doses = tuple(
        scheduling.Dose(r[n + 6], r[n + 7], r[n + 8]) for r in rows if r[n + 6] is not None
    )
    appointment = scheduling.appointment_facts(first[n + 9 : n + 14]) if with_appointment else None
    return RecordingFacts(
        person=person, region=first[n], lot=lot, doses=doses, appointment=appointment
    )


async def read_many(
    uow: UnitOfWork,
    *,
    tenant: TenantInfo,
    actor: Actor,
    wanted: Sequence[tuple[DoseIn, uuid.UUID | None]],
    permission: str,
) -> list[RecordingFacts | NotFound]:
    """:func:`read_facts` for each ``(dose, centre)`` of a batch, in order (a person out of
    reach: their :class:`NotFound`): one statement per lot shape on PostgreSQL."""
    out: list[RecordingFacts | NotFound | None] = [None] * len(wanted)
    if uow.dialect.name != "postgresql":
        for i, (body, facility_id) in enumerate(wanted):
            try:
                out[i] = await read_facts(
                    uow, tenant=tenant, actor=actor, body=body, facility_id=facility_id,
                    permission=permission,
                )  # fmt: skip
            except NotFound as exc:
                out[i] = exc
        return [x for x in out if x is not None]
    person_read = registration.person_read(tenant=tenant, actor=actor, permission=permission)
    for by_id in (False, True):
        mine = [i for i, (b, _) in enumerate(wanted) if (b.lot_id is not None) == by_id]
        if not mine:
            continue
        params = {
            **person_read.params(tenant, actor, wanted[mine[0]][0].beneficiary_id),
            "rd_tenant": tenant.id,
            "rb_index": mine,
            "rb_person": [wanted[i][0].beneficiary_id for i in mine],
            "rb_facility": [wanted[i][1] for i in mine],
            "rb_product": [wanted[i][0].product_id for i in mine],
            "rb_lot": [_lot_key(wanted[i][0], by_id) for i in mine],
        }
        rows: dict[int, list[tuple[Any, ...]]] = {i: [] for i in mine}
        for row in await fetch_in(uow, _batch_statement(person_read, by_id), params):
            rows[row[0]].append(row[1:])
        for i in mine:
            try:
                out[i] = await _facts(uow, person_read, actor, rows[i])
            except NotFound as exc:
                out[i] = exc
    return [x for x in out if x is not None]


def _lot_key(body: DoseIn, by_id: bool) -> Any:
    return body.lot_id if by_id else normalise_lot_number(body.lot_number or "")


@functools.lru_cache(maxsize=128)
def _batch_statement(person_read: registration.PersonRead, by_id: bool) -> Select[Any]:
    """The batch's statement: per row of the doses' arrays, :func:`_statement`'s as a
    LATERAL subquery over that row's values (built once per shape)."""
    lot_type = ARRAY(Uuid()) if by_id else ARRAY(String())
    given = (
        func.unnest(
            sql_cast(bindparam("rb_index", None), ARRAY(Integer())),
            sql_cast(bindparam("rb_person", None), ARRAY(Uuid())),
            sql_cast(bindparam("rb_facility", None), ARRAY(Uuid())),
            sql_cast(bindparam("rb_product", None), ARRAY(String())),
            sql_cast(bindparam("rb_lot", None), lot_type),
        )
        .table_valued(
            column("i", Integer()),
            column("person", Uuid()),
            column("facility", Uuid()),
            column("product", String()),
            column("lot", Uuid() if by_id else String()),
        )
        .render_derived(name="rb")
    )
    one = _shaped(
        person_read, by_id, person=given.c.person, facility=given.c.facility,
        product=given.c.product, lot=given.c.lot, within=given,
    ).lateral("rd")  # fmt: skip
    return select(given.c.i, *one.c).select_from(given.join(one, true())).order_by(given.c.i)


@functools.lru_cache(maxsize=512)
def _statement(
    person_read: registration.PersonRead, by_id: bool, appointment: str | None = None
) -> Select[Any]:
    """The statement for one shape of request (built once: its compiled form is reused);
    ``appointment`` (``"id"``, ``"code"``): the appointment named, read beside (its
    columns last, the same on every row)."""
    lot = _LOT_ID if by_id else _LOT_NUMBER
    query = _shaped(
        person_read, by_id, person=_PERSON, facility=_FACILITY, product=_PRODUCT, lot=lot
    )
    if appointment is None:
        return query
    value = _APPOINTMENT_ID if appointment == "id" else _BOOKING_CODE
    named = scheduling.appointment_read(_TENANT, appointment, value)
    source = query.get_final_froms()[0].outerjoin(named, true())
    return query.add_columns(*named.c).select_from(source)


def _shaped(
    person_read: registration.PersonRead,
    by_id: bool,
    *,
    person: ColumnElement[Any],
    facility: ColumnElement[Any],
    product: ColumnElement[Any],
    lot: ColumnElement[Any],
    within: FromClause | None = None,
) -> Select[Any]:
    """The statement over the dose's values: the request's parameters (one dose), or
    the columns of a batch's row of ``within`` (its subqueries correlated to it)."""
    lots, dose = LOTS.c, DOSES.c
    which: ColumnElement[bool] = lots.id == lot if by_id else lots.lot_number == lot
    # The lot of the dose's product when there is one, else another (the refusal names it).
    chosen = (
        select(lots.id)
        .where(lots.tenant_id == _TENANT, which)
        .order_by(case((lots.product_id == product, 0), else_=1), lots.id)
        .limit(1)
        .scalar_subquery()
    )
    region = facilities.region_of(_TENANT, facility)
    if within is not None:  # the batch's row, two levels up: named, not guessed
        chosen, region = chosen.correlate(within), region.correlate(within)
    recorded = and_(
        dose.tenant_id == _TENANT,
        dose.beneficiary_id.in_(registration.with_merged(_TENANT, person, within=within)),
        dose.status == RECORDED,
    )
    source = person_read.source.outerjoin(LOTS, lots.id == chosen).outerjoin(DOSES, recorded)
    return (
        select(
            *person_read.columns,
            region.label("centre_region"),
            lots.id,
            lots.product_id,
            lots.lot_number,
            lots.expires_on,
            lots.on_hold,
            dose.product_id,
            dose.day,
            dose.dose_number,
        )
        .select_from(source)
        .where(person_read.where if person is _PERSON else person_read.where_for(person))
    )
