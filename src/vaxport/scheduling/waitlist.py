"""The waitlist: people waiting for a seat of a vaccine in an area between two days.

A place is for one person, one product, one region subtree and a range of days; one live
place per person and product. Places are served first come, first served by
:mod:`vaxport.scheduling.holds` when a seat frees up (an offer holds the seat for a
while; accepting books it, letting it lapse passes it to the next). Joining checks the
person could have the dose within the range (the schedule engine) and counts toward
``booking.limits`` like an appointment to come. Citizens see their account's places,
staff the places of the people they reach (each read audited).
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, select, true, update
from sqlalchemy.exc import IntegrityError

from vaxport.core import audit
from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database, UnitOfWork, affected
from vaxport.core.errors import Conflict, NotFound, invalid
from vaxport.core.i18n import N_
from vaxport.identity.service import CITIZEN, Actor, Resource, authorize
from vaxport.registration.service import person_facts
from vaxport.scheduling.appointments import end
from vaxport.scheduling.availability import slots_changed
from vaxport.scheduling.events import APPOINTMENT_CANCELLED
from vaxport.scheduling.fairness.eligibility import eligible, not_eligible
from vaxport.scheduling.fairness.schemas import WaitlistEntryOut, WaitlistIn, WaitlistPage
from vaxport.scheduling.models import LIVE_WAITLIST, Appointment, WaitlistEntry
from vaxport.scheduling.reach import local_today
from vaxport.tenancy.service import TenantInfo, get_product

READ = "appointments:read"
WRITE = "appointments:write"
PAGE_MAX = 100


class AlreadyWaiting(Conflict):
    """The person already has a live place for this vaccine."""

    slug = "already-waiting"
    title = N_("Already on the waitlist")


def entry_resource(entry: WaitlistEntry) -> Resource:
    """A place as ``policy.authorize`` sees it: where its person sits, their account."""
    return Resource(
        tenant_id=entry.tenant_id,
        region_code=entry.home_region_code,
        facility_id=entry.home_facility_id,
        owner_id=entry.account_id,
    )


def _scope(actor: Actor) -> ColumnElement[bool]:
    """The places ``actor`` reaches, as a WHERE clause (same rule as ``policy.can``)."""
    if actor.role == CITIZEN or actor.kind == "citizen":
        return WaitlistEntry.account_id == actor.account_id
    if actor.is_national:
        return true()
    if actor.facility_id is not None:
        return WaitlistEntry.home_facility_id == actor.facility_id
    codes = actor.region_filter_codes()
    if not codes:
        return false()
    return WaitlistEntry.home_region_code.in_(sorted(codes))


def _out(entry: WaitlistEntry, hold_expires_at: dt.datetime | None = None) -> WaitlistEntryOut:
    return WaitlistEntryOut(
        id=entry.id,
        beneficiary_id=entry.beneficiary_id,
        region_code=entry.region_code,
        from_day=entry.from_day,
        to_day=entry.to_day,
        product_id=entry.product_id,
        status=entry.status,
        appointment_id=entry.appointment_id,
        hold_expires_at=hold_expires_at if entry.status == "offered" else None,
        ended_reason=entry.ended_reason,
        created_at=entry.created_at,
    )


def _check_request(tenant: TenantInfo, body: WaitlistIn, today: dt.date) -> None:
    get_product(config=tenant.config, product_id=body.product_id)
    if body.region_code not in tenant.config.region_index:
        raise invalid("region_code", N_("unknown region"))
    if body.to_day < body.from_day:
        raise invalid("to", N_("is before the first day: choose a later day"))
    if body.to_day < today:
        raise invalid("to", N_("is in the past: choose a day to come"))
    days = tenant.config.booking.days_ahead
    if body.to_day > today + dt.timedelta(days=days):
        raise invalid("to", N_("is too far ahead: choose a day within {days} days"), days=days)


async def join(
    *,
    db: Database,
    tenant: TenantInfo,
    actor: Actor,
    body: WaitlistIn,
    now: dt.datetime | None = None,
) -> WaitlistEntryOut:
    """A place on the waitlist for a person in the actor's reach.

    Refused (422 ``not-eligible``) when the person could not have the dose on any day of
    the range, or holds as many appointments, tickets and places as ``booking.limits``
    allows; 409 ``already-waiting`` when they have a live place for this product.
    """
    now = now or utcnow()
    today = local_today(tenant, now)
    _check_request(tenant, body, today)
    async with db.transaction(tenant_id=tenant.id) as uow:
        person = await person_facts(uow.session, tenant.id, body.beneficiary_id)
        if person is None:
            raise NotFound(N_("beneficiary not found"))
        authorize(actor, WRITE, person.resource, what="beneficiary")
        if await _live_place(uow, tenant, person.id, body.product_id) is not None:
            raise AlreadyWaiting(N_("this person is already waiting for this vaccine"))
        verdict = await eligible(
            uow, tenant, person, product_id=body.product_id, day=max(body.from_day, today)
        )
        later = (
            not verdict.lasting and verdict.earliest is not None and verdict.earliest <= body.to_day
        )
        if not (verdict.ok or later):
            raise not_eligible(verdict, seat_field="product_id")
        holder = Holder(person.id, person.account_id, person.region_code, person.facility_id)
        entry_id, created = await join_in(
            uow,
            tenant,
            holder,
            region_code=body.region_code,
            product_id=body.product_id,
            from_day=max(body.from_day, today),
            to_day=body.to_day,
            requested_by=actor.account_id,
            now=now,
        )
        if not created or entry_id is None:
            raise AlreadyWaiting(N_("this person is already waiting for this vaccine"))
        await audit.record(
            uow,
            by=actor.principal,
            action="waitlist.join",
            object_type="beneficiary",
            object_id=person.id,
            details={"entry_id": str(entry_id), "product_id": body.product_id},
        )
        entry = await uow.session.get(WaitlistEntry, entry_id)
        assert entry is not None
        return _out(entry)


@dataclass(frozen=True, slots=True)
class Holder:
    """Whose place it is, as scope checks read it (the person's, or their ticket's copy)."""

    beneficiary_id: uuid.UUID
    account_id: uuid.UUID | None
    region_code: str
    facility_id: uuid.UUID | None


async def join_in(
    uow: UnitOfWork,
    tenant: TenantInfo,
    holder: Holder,
    *,
    region_code: str,
    product_id: str,
    from_day: dt.date,
    to_day: dt.date,
    requested_by: uuid.UUID | None,
    now: dt.datetime,
) -> tuple[uuid.UUID | None, bool]:
    """Add a waiting place in ``uow`` (the caller checked the person may have it):
    ``(its id, True)``, or ``(the live place already there, False)``."""
    entry = WaitlistEntry(
        tenant_id=tenant.id,
        beneficiary_id=holder.beneficiary_id,
        account_id=holder.account_id,
        home_region_code=holder.region_code,
        home_facility_id=holder.facility_id,
        requested_by=requested_by,
        region_code=region_code,
        product_id=product_id,
        from_day=from_day,
        to_day=to_day,
        status="waiting",
        offers=0,
        version=1,
        created_at=now,
        updated_at=now,
    )
    try:
        async with uow.savepoint():
            uow.session.add(entry)
    except IntegrityError:
        return await _live_place(uow, tenant, holder.beneficiary_id, product_id), False
    return entry.id, True


async def _live_place(
    uow: UnitOfWork, tenant: TenantInfo, beneficiary_id: uuid.UUID, product_id: str
) -> uuid.UUID | None:
    return await uow.session.scalar(
        select(WaitlistEntry.id).where(
            WaitlistEntry.tenant_id == tenant.id,
            WaitlistEntry.beneficiary_id == beneficiary_id,
            WaitlistEntry.product_id == product_id,
            WaitlistEntry.status.in_(LIVE_WAITLIST),
        )
    )


def _encode(last: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(last.bytes).decode().rstrip("=")


def _decode(cursor: str) -> uuid.UUID:
    try:
        return uuid.UUID(bytes=base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError) as exc:
        raise invalid("cursor", N_("is not a cursor this list gave out")) from exc


async def list_entries(
    *,
    db: Database,
    tenant: TenantInfo,
    actor: Actor,
    cursor: str | None = None,
    limit: int = 50,
) -> WaitlistPage:
    """The places in the actor's reach (a citizen's account, staff's people), oldest first."""
    limit = max(1, min(limit, PAGE_MAX))
    query = select(WaitlistEntry, Appointment.hold_expires_at).outerjoin(
        Appointment,
        (Appointment.id == WaitlistEntry.appointment_id)
        & (Appointment.tenant_id == WaitlistEntry.tenant_id),
    )
    query = query.where(WaitlistEntry.tenant_id == tenant.id, _scope(actor))
    if cursor:
        query = query.where(WaitlistEntry.id > _decode(cursor))
    query = query.order_by(WaitlistEntry.id).limit(limit + 1)
    async with db.transaction(tenant_id=tenant.id) as uow:
        rows = list((await uow.session.execute(query)).all())
        more = len(rows) > limit
        rows = rows[:limit]
        if actor.kind != "citizen" and rows:
            entries: list[audit.EntryFields] = [
                {
                    "action": "waitlist.list",
                    "object_type": "beneficiary",
                    "object_id": entry.beneficiary_id,
                    "details": {"entry_id": str(entry.id)},
                }
                for entry, _ in rows
            ]
            await audit.record_many(uow, by=actor.principal, entries=entries)
        items = [_out(entry, held) for entry, held in rows]
    return WaitlistPage(items=items, next_cursor=_encode(rows[-1][0].id) if more else None)


async def leave(
    *,
    db: Database,
    cache: Cache,
    tenant: TenantInfo,
    actor: Actor,
    entry_id: uuid.UUID,
) -> None:
    """Leave the waitlist (a place already over stays as it is). A seat held for the
    place is given back, and offered to the next person."""
    freed = False
    async with db.transaction(tenant_id=tenant.id) as uow:
        entry = await uow.session.scalar(
            select(WaitlistEntry).where(
                WaitlistEntry.tenant_id == tenant.id, WaitlistEntry.id == entry_id
            )
        )
        if entry is None:
            raise NotFound(N_("waitlist place not found"))
        authorize(actor, WRITE, entry_resource(entry), what="waitlist place")
        if entry.status not in LIVE_WAITLIST:
            return
        held = None
        if entry.status == "offered" and entry.appointment_id is not None:
            held = await uow.session.scalar(
                select(Appointment).where(
                    Appointment.tenant_id == tenant.id,
                    Appointment.id == entry.appointment_id,
                    Appointment.status == "held",
                )
            )
        now = utcnow()
        result = await uow.session.execute(
            update(WaitlistEntry)
            .where(WaitlistEntry.id == entry.id, WaitlistEntry.version == entry.version)
            .values(
                status="cancelled",
                ended_reason="left",
                updated_at=now,
                version=WaitlistEntry.version + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if affected(result) != 1:
            raise Conflict(N_("this waitlist place changed meanwhile: try again"))
        if held is not None:
            freed = await end(
                uow, held, "cancelled", reason="offer_declined", event=APPOINTMENT_CANCELLED
            )
        await audit.record(
            uow,
            by=actor.principal,
            action="waitlist.leave",
            object_type="beneficiary",
            object_id=entry.beneficiary_id,
            details={"entry_id": str(entry.id)},
        )
    if freed:
        await slots_changed(cache, tenant.id)
