"""A centre's region corrected: its sessions to come, their slots and live appointments follow.

Sessions, slots and appointments copy their centre's ``region_code`` (scope checks and the
public search read it without a join). When the facilities context changes a centre
(``facility.changed``), :func:`follow_facility_region` reads the centre's region *now*
through facilities' front door (not from the event: a late or repeated delivery must not
move anything back) and moves what is still to come: sessions and slots from the tenant's
local today on, and appointments of those days or still live (booked, held). Past
sessions and ended appointments stay where they happened. One UPDATE per table, each
only where the region differs, so a redelivery changes nothing; once committed, cached
searches are told (``availability.slots_changed``).
"""

from __future__ import annotations

import uuid

from sqlalchemy import or_, update

from vaxport.core import audit
from vaxport.core.cache import Cache
from vaxport.core.db import Database, affected
from vaxport.core.principal import SYSTEM
from vaxport.facilities import service as facilities
from vaxport.scheduling import availability
from vaxport.scheduling.models import LIVE_STATUSES, Appointment, Session, Slot
from vaxport.scheduling.reach import local_today
from vaxport.tenancy.service import get_tenant_by_id


async def follow_facility_region(
    *, db: Database, cache: Cache, tenant_id: uuid.UUID, facility_id: uuid.UUID
) -> int:
    """Move the centre's sessions to come (and their slots and appointments) to its
    current region; how many rows moved (0: nothing differed, or no such centre)."""
    region = await facilities.facility_region(db=db, tenant_id=tenant_id, facility_id=facility_id)
    if region is None:
        return 0
    tenant = await get_tenant_by_id(db=db, cache=cache, tenant_id=tenant_id)
    today = local_today(tenant)
    moved: dict[str, int] = {}
    async with db.transaction(tenant_id=tenant_id) as uow:
        for name, table, to_come in (
            ("sessions", Session, Session.day >= today),
            ("slots", Slot, Slot.day >= today),
            (
                "appointments",
                Appointment,
                or_(Appointment.day >= today, Appointment.status.in_(LIVE_STATUSES)),
            ),
        ):
            result = await uow.session.execute(
                update(table)
                .where(
                    table.tenant_id == tenant_id,
                    table.facility_id == facility_id,
                    table.region_code != region,
                    to_come,
                )
                .values(region_code=region)
                .execution_options(synchronize_session=False)
            )
            moved[name] = affected(result)
        if any(moved.values()):
            await audit.record(
                uow,
                by=SYSTEM,
                action="session.region_followed",
                object_type="facility",
                object_id=facility_id,
                details={"region_code": region, **moved},
            )
            uow.after_commit(lambda: availability.slots_changed(cache, tenant_id))
    return sum(moved.values())
