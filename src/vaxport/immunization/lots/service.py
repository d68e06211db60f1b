"""Use cases of lots: register, list, read, hold/release and correct; and the read helper
dose recording uses (:func:`find_lot`).

Lots are tenant-wide (a lot is shipped across regions): every member of staff who
records doses reads them (``lots:read``); national and regional admins register and
change them (``lots:write``). Every change is audited in its transaction; a hold and a
release also emit ``lot.held`` / ``lot.released``.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from vaxport.core import audit
from vaxport.core.clock import utcnow
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.errors import Conflict, NotFound, ValidationFailed, field_error, invalid
from vaxport.core.i18n import N_
from vaxport.identity.service import Actor, Resource, authorize
from vaxport.immunization.lots import events, writes
from vaxport.immunization.lots.schemas import LotChange, LotIn, LotListQuery, LotOut, LotPage
from vaxport.immunization.models import Lot
from vaxport.tenancy.service import TenantInfo

BAD_CURSOR = N_("is not a cursor this list gave out: start from the first page")
LOT_NOT_FOUND = N_("lot not found")
USABLE_MAX = 50  # a centre holds a few lots of a product at a time


def to_out(lot: Lot) -> LotOut:
    """A lot as the API shows it."""
    return LotOut.model_validate(lot)


def _check_write(actor: Actor, tenant: TenantInfo) -> None:
    authorize(actor, "lots:write", Resource(tenant_id=tenant.id), what="lot")


async def find_lot(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    lot_id: uuid.UUID | None = None,
    product_id: str | None = None,
    lot_number: str | None = None,
) -> Lot | None:
    """The tenant's lot by id, or by product and lot number (normalised here); None.

    For dose recording: read in the caller's session (its transaction), no scope check
    (lots are tenant-wide) and no verdict: expiry and hold are the caller's to judge.
    """
    query = select(Lot).where(Lot.tenant_id == tenant_id)
    if lot_id is not None:
        query = query.where(Lot.id == lot_id)
        if product_id is not None:
            query = query.where(Lot.product_id == product_id)
    elif product_id is not None and lot_number is not None:
        query = query.where(
            Lot.product_id == product_id,
            Lot.lot_number == writes.normalise_lot_number(lot_number),
        )
    else:
        raise ValueError("find_lot needs lot_id, or product_id and lot_number")
    found: Lot | None = await session.scalar(query)
    return found


async def add_in(
    uow: UnitOfWork, *, tenant: TenantInfo, actor: Actor, body: LotIn, source: str = "api"
) -> Lot:
    """Register a lot in the caller's transaction; 422 on a bad field, 409 on a repeat."""
    checked = writes.check_new(
        tenant,
        product_id=body.product_id,
        lot_number=body.lot_number,
        manufacturer=body.manufacturer,
        expires_on=body.expires_on,
        doses_per_vial=body.doses_per_vial,
    )
    if isinstance(checked, list):
        raise ValidationFailed(N_("the lot cannot be registered as given"), errors=checked)
    known = await find_lot(
        uow.session, tenant.id, product_id=checked.product_id, lot_number=checked.lot_number
    )
    if known is not None:
        raise writes.exists(checked.lot_number)
    lot = writes.new_row(tenant.id, checked, by=actor.principal, now=utcnow())
    uow.session.add(lot)
    await uow.session.flush()
    await writes.audit_created(uow, lot, by=actor.principal, source=source)
    return lot


async def create(
    *, db: Database, tenant: TenantInfo, actor: Actor, body: LotIn, source: str = "api"
) -> LotOut:
    """Register a lot (national or regional admins)."""
    _check_write(actor, tenant)
    try:
        async with db.transaction(tenant_id=tenant.id) as uow:
            lot = await add_in(uow, tenant=tenant, actor=actor, body=body, source=source)
            out = to_out(lot)
    except IntegrityError as exc:
        # Registered by a concurrent request between our look and our insert.
        raise writes.exists(writes.normalise_lot_number(body.lot_number)) from exc
    return out


def _cursor(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise invalid("cursor", BAD_CURSOR) from exc


async def list_lots(
    *, db: Database, tenant: TenantInfo, actor: Actor, query: LotListQuery
) -> LotPage:
    """The tenant's lots, newest first, filtered by product, expiry, hold and flag."""
    authorize(actor, "lots:read", Resource(tenant_id=tenant.id), what="lot")
    stmt = select(Lot).where(Lot.tenant_id == tenant.id)
    if query.product_id is not None:
        stmt = stmt.where(Lot.product_id == query.product_id)
    if query.expiring_before is not None:
        stmt = stmt.where(Lot.expires_on < query.expiring_before)
    if query.on_hold is not None:
        stmt = stmt.where(Lot.on_hold.is_(query.on_hold))
    if query.flagged is not None:
        flagged = Lot.flagged_at.is_not(None) if query.flagged else Lot.flagged_at.is_(None)
        stmt = stmt.where(flagged)
    if query.cursor is not None:
        stmt = stmt.where(Lot.id < _cursor(query.cursor))
    stmt = stmt.order_by(Lot.id.desc()).limit(query.limit + 1)
    async with db.read(tenant_id=tenant.id) as session:
        rows = list(await session.scalars(stmt))
        more = len(rows) > query.limit
        items = [to_out(r) for r in rows[: query.limit]]
    return LotPage(items=items, next_cursor=str(items[-1].id) if more and items else None)


async def usable_lots(
    *, db: Database, tenant: TenantInfo, actor: Actor, product_id: str, day: dt.date
) -> list[LotOut]:
    """The lots of ``product_id`` a dose may be drawn from on ``day``: not expired, not on
    hold; the soonest to expire first (used first), at most :data:`USABLE_MAX`."""
    authorize(actor, "lots:read", Resource(tenant_id=tenant.id), what="lot")
    stmt = (
        select(Lot)
        .where(
            Lot.tenant_id == tenant.id,
            Lot.product_id == product_id,
            Lot.on_hold.is_(False),
            Lot.expires_on >= day,
        )
        .order_by(Lot.expires_on, Lot.lot_number)
        .limit(USABLE_MAX)
    )
    async with db.read(tenant_id=tenant.id) as session:
        return [to_out(r) for r in await session.scalars(stmt)]


async def get(*, db: Database, tenant: TenantInfo, actor: Actor, lot_id: uuid.UUID) -> LotOut:
    """One lot of the tenant; 404 for another tenant's."""
    authorize(actor, "lots:read", Resource(tenant_id=tenant.id), what="lot")
    async with db.read(tenant_id=tenant.id) as session:
        lot = await find_lot(session, tenant.id, lot_id=lot_id)
        if lot is None:
            raise NotFound(LOT_NOT_FOUND)
        return to_out(lot)


def _stale(lot: Lot, version: int) -> Conflict:
    return Conflict(
        N_("the lot changed since version {version}; it is at {current}"),
        params={"version": version, "current": lot.version},
        errors=[
            field_error(
                "version",
                N_("is {current}, not {version}"),
                code="stale-version",
                current=lot.version,
                version=version,
            )
        ],
        current_version=lot.version,
    )


def _check_change(body: LotChange) -> None:
    errors: list[dict[str, str]] = []
    if body.on_hold is None and body.expires_on is None and body.doses_per_vial is None:
        errors.append(field_error("on_hold", N_("give on_hold, expires_on or doses_per_vial")))
    if body.on_hold is not None and body.reason is None:
        errors.append(field_error("reason", N_("say why the lot is held or released")))
    if body.expires_on is not None:
        errors += writes.check_expiry(body.expires_on)
    if errors:
        raise ValidationFailed(N_("the lot cannot be changed as given"), errors=errors)


async def change(
    *, db: Database, tenant: TenantInfo, actor: Actor, lot_id: uuid.UUID, body: LotChange
) -> LotOut:
    """Hold or release a lot (with a reason), or correct its expiry or vial size."""
    _check_write(actor, tenant)
    _check_change(body)
    async with db.transaction(tenant_id=tenant.id) as uow:
        lot = await uow.session.scalar(
            select(Lot).where(Lot.tenant_id == tenant.id, Lot.id == lot_id).with_for_update()
        )
        if lot is None:
            raise NotFound(LOT_NOT_FOUND)
        if body.version != lot.version:
            raise _stale(lot, body.version)
        await _apply(uow, lot, actor=actor, body=body, now=utcnow())
        return to_out(lot)


async def _apply(
    uow: UnitOfWork, lot: Lot, *, actor: Actor, body: LotChange, now: dt.datetime
) -> None:
    before = writes.snapshot(lot)
    hold_changed = body.on_hold is not None and body.on_hold != lot.on_hold
    if body.on_hold is not None:
        lot.on_hold = body.on_hold
        lot.hold_reason = body.reason if body.on_hold else None
    if body.expires_on is not None:
        lot.expires_on = body.expires_on
    if body.doses_per_vial is not None:
        lot.doses_per_vial = body.doses_per_vial
    after = writes.snapshot(lot)
    changed = sorted(k for k in after if after[k] != before[k])
    if not changed:
        return  # the lot already is as asked: no new version, no entry, no event
    lot.version += 1
    lot.updated_at = now
    action = "lot.correct"
    if hold_changed:
        action = "lot.hold" if lot.on_hold else "lot.release"
    await audit.record(
        uow,
        by=actor.principal,
        action=action,
        object_type="lot",
        object_id=lot.id,
        details={
            "changed": changed,
            "before": {k: before[k] for k in changed},
            "after": {k: after[k] for k in changed},
        },
    )
    if hold_changed:
        kind = events.LOT_HELD if lot.on_hold else events.LOT_RELEASED
        await events.publish(uow, kind, lot.id, lot.product_id)
