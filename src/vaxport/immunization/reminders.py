"""The next-dose reminder: scheduled when a dose is recorded, withdrawn when it is given.

One outbox subscriber (:data:`SUBSCRIBERS`) follows ``dose.recorded`` and ``dose.voided``
as scheduling's messages follow appointments: it reads the person's recorded doses as
they are now, withdraws the queued reminders of the series for any dose but the one now
due (the dose just given, or, after a void, the one after it), and queues the reminder
of the dose now due (``dose_next_due``) for the morning of the schedule engine's
earliest day, in the person's language. Reminders name their dose as their reason
(``dose``, ``<person>:<series>:<number>``); the relevance check (:data:`RELEVANCE_CHECKS`,
installed by the composition root) drops at send time a reminder whose dose was recorded
meanwhile, so a reminder for a dose already given is never sent whatever the order of
events. A redelivered event queues nothing twice (the dedup key names the event's dose).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from types import MappingProxyType
from zoneinfo import ZoneInfo

from babel import UnknownLocaleError
from babel.dates import format_date
from sqlalchemy import func, select

from vaxport.core.clock import utcnow
from vaxport.core.db import UnitOfWork, serialize_on
from vaxport.core.logging import get_logger
from vaxport.core.outbox import Event, HandlerContext, Subscriber
from vaxport.immunization.events import DOSE_RECORDED, DOSE_VOIDED
from vaxport.immunization.models import Dose
from vaxport.immunization.records import engine_person, recorded_doses
from vaxport.notifications import service as notifications
from vaxport.notifications.service import MessageRef, RelevanceCheck
from vaxport.registration import service as registration
from vaxport.scheduling import service as scheduling
from vaxport.settings import Settings
from vaxport.tenancy.service import TenantInfo, get_tenant_by_id

__all__ = ["NEXT_DUE", "RELEVANCE_CHECKS", "SUBSCRIBERS", "resync_reminders"]

log = get_logger("vaxport.immunization")

NEXT_DUE = "dose_next_due"
REASON = "dose"
# Reminders go out in the morning of the day the dose is due, tenant time.
SEND_AT = dt.time(9, 0)
SEARCH_PAGE = "/{tenant}/slots"


def reason_id(person_id: uuid.UUID, series: str, number: int) -> str:
    """The reason a reminder names: this person's dose ``number`` of ``series``."""
    return f"{person_id.hex}:{series}:{number}"


def _due_at(tenant: TenantInfo, day: dt.date, now: dt.datetime) -> dt.datetime:
    at = dt.datetime.combine(day, SEND_AT, tzinfo=ZoneInfo(tenant.config.timezone))
    return max(at.astimezone(dt.UTC), now)


def _shown(day: dt.date, locale: str) -> str:
    try:
        return format_date(day, format="full", locale=locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return day.isoformat()


async def resync_reminders(
    uow: UnitOfWork,
    *,
    tenant: TenantInfo,
    settings: Settings,
    person_id: uuid.UUID,
    series: str,
    dose_number: int,
    cause: uuid.UUID,
) -> int | None:
    """Make the series' queued reminders match the person's doses now, in ``uow``, after
    dose ``dose_number`` (``cause``) was recorded or voided: the reminders of that dose
    and the next are withdrawn unless it is the dose now due, which is reminded (once per
    ``cause``) when the series has begun. The number reminded (None: nothing is due)."""
    # Two events of one person handled at once (the worker runs deliveries side by side)
    # would each queue the reminder of the dose now due: one at a time per series.
    await serialize_on(uow.session, "vaxport.dose-reminders", person_id.bytes + series.encode())
    person = await registration.person_facts(uow.session, tenant.id, person_id)
    due: scheduling.DiseaseStatus | None = None
    if person is not None:
        doses = await recorded_doses(uow, tenant.id, person.id)
        today = scheduling.local_today(tenant)
        who = engine_person(tenant.config, person)
        due = scheduling.assess(tenant.config, who, doses, today=today).diseases.get(series)
        person_id = person.id
    begun = due is not None and due.doses_given > 0 and due.next_earliest is not None
    number = due.next_dose_number if due is not None and begun else None
    for n in (dose_number, dose_number + 1):
        if n != number:
            await notifications.cancel_for_reason(
                uow,
                tenant_id=tenant.id,
                reason_type=REASON,
                reason_id=reason_id(person_id, series, n),
            )
    if due is None or number is None or due.next_earliest is None:
        return None
    key = f"{NEXT_DUE}:{reason_id(person_id, series, number)}:{cause}"
    # One reminder per dose due: events handled late (dose 1 and dose 2 both in when the
    # first is handled) each ask for it; the last one asked keeps it.
    await notifications.cancel_for_reason(
        uow,
        tenant_id=tenant.id,
        reason_type=REASON,
        reason_id=reason_id(person_id, series, number),
        keep_dedup_key=key,
    )
    locale = await notifications.message_locale(uow, tenant_id=tenant.id, subject_id=person_id)
    base = settings.public_url.rstrip("/")
    await notifications.notify(
        uow,
        tenant_id=tenant.id,
        event=NEXT_DUE,
        to=person_id,
        data={
            "dose_number": number,
            "date": _shown(due.next_earliest, locale),
            "url": base + SEARCH_PAGE.format(tenant=tenant.code),
        },
        locale=locale,
        dedup_key=key,
        due_at=_due_at(tenant, due.next_earliest, utcnow()),
        reason=(REASON, reason_id(person_id, series, number)),
    )
    log.info("immunization.reminder_scheduled", series=series, dose_number=number)
    return number


async def on_dose_event(event: Event, ctx: HandlerContext) -> None:
    """Bring the person's next-dose reminders in line with their doses."""
    if event.tenant_id is None:
        return
    tenant = await get_tenant_by_id(db=ctx.db, cache=ctx.cache, tenant_id=event.tenant_id)
    payload = event.payload
    async with ctx.db.transaction(tenant_id=tenant.id) as uow:
        await resync_reminders(
            uow,
            tenant=tenant,
            settings=ctx.settings,
            person_id=uuid.UUID(str(payload["beneficiary_id"])),
            series=str(payload["series"]),
            dose_number=int(payload["dose_number"]),
            cause=uuid.UUID(str(payload["dose_id"])),
        )


async def dose_still_due(uow: UnitOfWork, ref: MessageRef) -> bool:
    """A next-dose reminder goes out only while its dose (or a later one) is unrecorded."""
    if ref.reason_type != REASON:
        return False
    head, _, rest = ref.reason_id.partition(":")
    series, _, number = rest.rpartition(":")
    try:
        person_id, wanted = uuid.UUID(head), int(number)
    except ValueError:
        return False
    given = await uow.session.scalar(
        select(func.count())
        .select_from(Dose)
        .where(
            Dose.tenant_id == ref.tenant_id,
            Dose.beneficiary_id.in_(registration.with_merged(ref.tenant_id, person_id)),
            Dose.series == series,
            Dose.dose_number >= wanted,
            Dose.status == "recorded",
        )
    )
    return not given


RELEVANCE_CHECKS: Mapping[str, RelevanceCheck] = MappingProxyType({NEXT_DUE: dose_still_due})

SUBSCRIBERS: tuple[Subscriber, ...] = (
    Subscriber.each(
        "immunization.next-dose-reminders", (DOSE_RECORDED, DOSE_VOIDED), on_dose_event
    ),
)
