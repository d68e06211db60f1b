"""The next-dose reminder: scheduled by a dose, withdrawn when the dose is given or voided,
and never sent for a dose already recorded."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from tests.identity.helpers import actor_for
from tests.immunization.support import body
from tests.scheduling.booking.support import record_given
from tests.scheduling.messages.support import person as person_with_phone
from vaxport import wiring
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.outbox import Worker
from vaxport.immunization import service
from vaxport.immunization.models import Dose
from vaxport.immunization.reminders import dose_still_due, reason_id
from vaxport.immunization.schemas import DoseIn
from vaxport.notifications import service as notifications
from vaxport.notifications.events import MessageRef
from vaxport.notifications.models import Message
from vaxport.registration.models import Beneficiary
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


async def _work(db: Database, cache: Cache, settings: Settings) -> None:
    worker = Worker(
        db, cache, settings, subscriptions=wiring.event_subscriptions(), worker_id="doses-test"
    )
    for _ in range(3):
        if not await worker.run(asyncio.Event(), once=True):
            break


async def _messages(db: Database, tenant: TenantInfo) -> list[tuple[str, str, str, dt.datetime]]:
    async with db.read(tenant_id=tenant.id) as s:
        rows = await s.execute(
            select(Message.reason_id, Message.status, Message.event, Message.due_at)
            .where(Message.tenant_id == tenant.id, Message.reason_type == "dose")
            .order_by(Message.id)
        )
        return [tuple(r) for r in rows.all()]  # type: ignore[misc]


async def _at_centre(db: Database, tenant: TenantInfo, centre: uuid.UUID) -> uuid.UUID:
    person = await person_with_phone(db, tenant, phone="+14165550111")
    async with db.transaction(tenant_id=tenant.id) as uow:
        await uow.session.execute(
            update(Beneficiary).where(Beneficiary.id == person).values(facility_id=centre)
        )
    return person


async def test_a_dose_withdraws_its_own_reminder_and_schedules_the_next_on_its_earliest_day(
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    lot: uuid.UUID,
) -> None:
    person = await _at_centre(clean_db, tenant, centre)
    # The reminder of dose 1, queued earlier (overdue by now): the dose makes it moot.
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        await notifications.notify(
            uow,
            tenant_id=tenant.id,
            event="dose_next_due",
            to=person,
            data={"dose_number": 1, "date": "today", "url": "https://example.org"},
            dedup_key="earlier",
            due_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=2),
            reason=("dose", reason_id(person, "covid-19", 1)),
        )
    vaccinator = actor_for(tenant, "vaccinator", facility_id=centre)
    dose = await service.record_dose(
        db=clean_db, tenant=tenant, actor=vaccinator, body=DoseIn.model_validate(body(person))
    )

    await _work(clean_db, cache, settings)
    await _work(clean_db, cache, settings)  # a redelivered event queues nothing twice

    [earlier, following] = await _messages(clean_db, tenant)
    assert earlier[:2] == (reason_id(person, "covid-19", 1), "cancelled")
    assert following[:3] == (reason_id(person, "covid-19", 2), "queued", "dose_next_due")
    due_day = dose.day + dt.timedelta(days=21)
    local = following[3].astimezone(ZoneInfo(tenant.config.timezone))
    assert (local.date(), local.hour) == (due_day, 9)


async def test_a_reminder_for_a_dose_recorded_meanwhile_is_not_relevant_any_more(
    clean_db: Database, tenant: TenantInfo, centre: uuid.UUID
) -> None:
    person = await _at_centre(clean_db, tenant, centre)
    first = dt.date.today() - dt.timedelta(days=30)
    await record_given(clean_db, tenant, centre, person, product_id="covid-mrna", day=first)

    def ref(number: int) -> MessageRef:
        return MessageRef(
            id=uuid.uuid4(),
            tenant_id=tenant.id,
            event="dose_next_due",
            subject_id=person,
            reason_type="dose",
            reason_id=reason_id(person, "covid-19", number),
            due_at=dt.datetime.now(dt.UTC),
        )

    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        assert await dose_still_due(uow, ref(1)) is False
        assert await dose_still_due(uow, ref(2)) is True
        assert await dose_still_due(uow, ref(3)) is True


async def test_voiding_a_dose_withdraws_the_reminder_it_scheduled(
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    lot: uuid.UUID,
) -> None:
    person = await _at_centre(clean_db, tenant, centre)
    vaccinator = actor_for(tenant, "vaccinator", facility_id=centre)
    dose = await service.record_dose(
        db=clean_db, tenant=tenant, actor=vaccinator, body=DoseIn.model_validate(body(person))
    )
    await _work(clean_db, cache, settings)
    assert [m[1] for m in await _messages(clean_db, tenant)] == ["queued"]

    # Voiding is its own use case (another part): its row change, then the reversal.
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        await uow.session.execute(update(Dose).where(Dose.id == dose.id).values(status="voided"))
        number = await service.resync_reminders(
            uow,
            tenant=tenant,
            settings=settings,
            person_id=person,
            series="covid-19",
            dose_number=1,
            cause=dose.id,
        )

    assert number is None  # no dose left in the series: nothing to remind
    assert [m[1] for m in await _messages(clean_db, tenant)] == ["cancelled"]


async def test_two_doses_handled_late_leave_one_reminder_for_the_dose_now_due(
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    lot: uuid.UUID,
) -> None:
    """The worker meets dose 1's event only after dose 2 is in: both events ask for the
    reminder of the dose now due; one stays queued."""
    person = await _at_centre(clean_db, tenant, centre)
    vaccinator = actor_for(tenant, "vaccinator", facility_id=centre)
    first = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    for when in (first, None):
        extra = {} if when is None else {"administered_at": when.isoformat()}
        await service.record_dose(
            db=clean_db,
            tenant=tenant,
            actor=vaccinator,
            body=DoseIn.model_validate(body(person, **extra)),
        )

    await _work(clean_db, cache, settings)
    await _work(clean_db, cache, settings)

    queued = [m for m in await _messages(clean_db, tenant) if m[1] == "queued"]
    assert len(queued) <= 1, queued
    assert all(m[0] != reason_id(person, "covid-19", 2) for m in queued)
