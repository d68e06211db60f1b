"""The checks a dose meets, shared by recording (``recording.py``, and through its
``record_in`` offline sync, ``sync/``) and corrections (``corrections/``): the time
against the person's birth, the lot on the dose's day, and the schedule engine's offer
against the dose number asked and an override.

Each refusal is its own problem type (``refusals.py``); a dose number recorded already
is :class:`DoseTaken` (wrapping its 409), which sync tells apart from other refusals.
Reads a batch of recordings shares (centres' regions, lots) may be kept in a
:class:`Lookups`; the decision on each (reach, expiry, hold) is still taken per dose.
Nothing here writes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from vaxport.core.errors import Problem
from vaxport.facilities import service as facilities
from vaxport.immunization.lots.writes import normalise_lot_number
from vaxport.immunization.models import Lot
from vaxport.immunization.refusals import OVERRIDABLE, refusal, refusal_with
from vaxport.registration import service as registration
from vaxport.scheduling import service as scheduling

__all__ = [
    "DoseTaken",
    "Lookups",
    "LotLike",
    "check_birth",
    "check_found_lot",
    "check_lot",
    "check_schedule",
]

_LotKey = tuple[str, str]  # ("id", str(uuid)) or ("number", normalised number)


@dataclass(slots=True)
class Lookups:
    """Reads a batch of recordings shares (an offline sync: thousands in one request).

    Centres' regions and lots are read once per batch instead of once per dose. The lots
    kept are expunged from the session: read-only here, they outlive the batch's
    transactions and a savepoint's rollback (which would expire them).
    """

    regions: dict[uuid.UUID, str | None] = field(default_factory=dict)
    lots: dict[_LotKey, list[Lot]] = field(default_factory=dict)

    async def region(
        self, session: AsyncSession, tenant_id: uuid.UUID, facility_id: uuid.UUID
    ) -> str | None:
        """The centre's region code (None: no such centre in the tenant), read once."""
        if facility_id not in self.regions:
            self.regions[facility_id] = await facilities.facility_region_in(
                session, tenant_id, facility_id
            )
        return self.regions[facility_id]

    async def load_lots(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        *,
        ids: set[uuid.UUID],
        numbers: set[str],
    ) -> None:
        """Read the lots named by ``ids`` and (raw) ``numbers`` in one query."""
        wanted = {normalise_lot_number(n) for n in numbers}
        if not ids and not wanted:
            return
        rows = await session.scalars(
            select(Lot).where(
                Lot.tenant_id == tenant_id, or_(Lot.id.in_(ids), Lot.lot_number.in_(wanted))
            )
        )
        for key in [*(("id", str(i)) for i in ids), *(("number", n) for n in wanted)]:
            self.lots.setdefault(key, [])
        for lot in rows:
            session.expunge(lot)
            if lot.id in ids:
                self.lots["id", str(lot.id)].append(lot)
            if lot.lot_number in wanted:
                self.lots["number", lot.lot_number].append(lot)


class DoseTaken(Exception):  # noqa: N818 - a refusal, like Problem
    """The dose (person, series, number) is recorded already: found by the schedule's
    check, or by the one-recorded-dose index (``error``) when two recordings raced.

    Online it is 409 ``dose-already-recorded`` (``problem``); an offline sync sends the
    record to review instead, beside the existing dose.
    """

    def __init__(
        self,
        problem: Problem,
        *,
        person_id: uuid.UUID,
        series: str,
        dose_number: int,
        error: IntegrityError | None = None,
    ) -> None:
        super().__init__(problem.detail)
        self.problem = problem
        self.person_id = person_id
        self.series = series
        self.dose_number = dose_number
        self.error = error


def check_birth(person: registration.PersonFacts, day: dt.date) -> None:
    """Refuse a dose given before the person's birth (date, or year where only it is known)."""
    if (person.birth_date is not None and day < person.birth_date) or day.year < person.birth_year:
        raise refusal("administered-before-birth")


async def check_lot(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    product_id: str,
    lot_id: uuid.UUID | None,
    lot_number: str | None,
    day: dt.date,
    lookups: Lookups | None = None,
) -> Lot:
    """The lot the dose was drawn from: known, of the product, unexpired on ``day``, not on
    hold (the field named in a refusal is the one the lot was given by). ``lookups``: the
    lots a batch read already, and where the ones read now are kept."""
    key: _LotKey = (
        ("id", str(lot_id))
        if lot_id is not None
        else ("number", normalise_lot_number(lot_number or ""))
    )
    if lookups is not None and key in lookups.lots:
        found = lookups.lots[key]
    else:
        query = select(Lot).where(Lot.tenant_id == tenant_id)
        if lot_id is not None:
            query = query.where(Lot.id == lot_id)
        else:
            query = query.where(Lot.lot_number == key[1])
        found = list(await session.scalars(query.limit(10)))
        if lookups is not None:
            lookups.lots[key] = found
            for row in found:
                session.expunge(row)  # kept past a savepoint's rollback (a batch's)
    return check_found_lot(found, product_id=product_id, by_id=lot_id is not None, day=day)


class LotLike(Protocol):
    """What the lot checks read of a lot (a row, or the facts a statement read)."""

    @property
    def product_id(self) -> str: ...
    @property
    def expires_on(self) -> dt.date: ...
    @property
    def on_hold(self) -> bool: ...


L = TypeVar("L", bound=LotLike)


def check_found_lot(found: Sequence[L], *, product_id: str, by_id: bool, day: dt.date) -> L:
    """:func:`check_lot` on the lots the dose named, read by the caller (``by_id``: named
    by ``lot_id``, else by ``lot_number``): the one of the product, checked."""
    field = "lot_id" if by_id else "lot_number"
    lot = next((x for x in found if x.product_id == product_id), None)
    if lot is None and found:
        raise refusal("lot-other-product", field=field, lot_product=found[0].product_id)
    if lot is None:
        raise refusal("unknown-lot", field=field)
    if lot.expires_on < day:
        raise refusal("lot-expired", field=field, expires_on=lot.expires_on.isoformat())
    if lot.on_hold:
        raise refusal("lot-on-hold", field=field)
    return lot


def check_schedule(
    offer: scheduling.Offer, *, dose_number: int | None, override: bool, person_id: uuid.UUID
) -> bool:
    """Refuse what the schedule forbids for dose ``dose_number`` (None: the offer's) of
    person ``person_id``; True when ``override`` lifts a refusal it would make. A number
    recorded already is :class:`DoseTaken`."""
    if dose_number is not None and dose_number < offer.dose_number:
        raise DoseTaken(
            refusal("dose-already-recorded", dose_number=dose_number),
            person_id=person_id,
            series=offer.disease,
            dose_number=dose_number,
        )
    if dose_number is not None and dose_number > offer.dose_number:
        raise refusal("dose-number-not-next", next=offer.dose_number)
    hard = [r for r in offer.refusals if r.code not in OVERRIDABLE]
    soft = [r for r in offer.refusals if r.code in OVERRIDABLE]
    for reason in (*hard, *([] if override else soft)):
        params = reason.as_dict()
        del params["code"]
        raise refusal_with(reason.code, params)
    return bool(soft)
