"""The demo's dose records: the demo citizen's family member, given a first dose weeks ago
by the demo vaccinator, so the citizen's record page shows a dose and a next due date.

Everything goes through the use cases (registration's ``register_member`` as the
citizen, :func:`~vaxport.immunization.recording.record_dose` as the vaccinator), never
raw rows. Re-running adds nothing once the member has a dose.
"""

from __future__ import annotations

import datetime as dt
import uuid

from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.facilities import service as facilities
from vaxport.identity.service import Actor
from vaxport.immunization.lots.service import usable_lots
from vaxport.immunization.recording import record_dose
from vaxport.immunization.records import list_doses
from vaxport.immunization.schemas import DoseIn
from vaxport.registration import service as registration
from vaxport.registration.service import MemberIn
from vaxport.tenancy.service import TenantInfo, get_tenant_or_404

GIVEN_NAME, FAMILY_NAME = "Sam", "Demo"
BIRTH_DATE = dt.date(1990, 4, 12)
DAYS_AGO = 25  # inside the demo's 21-42 day interval: the second dose is due now


def _actor(tenant: TenantInfo, account_id: uuid.UUID, role: str, **scope: object) -> Actor:
    return Actor(
        account_id=account_id,
        tenant_id=tenant.id,
        tenant_code=tenant.code,
        kind="citizen" if role == "citizen" else "staff",
        role=role,
        region_code=scope.get("region_code"),  # type: ignore[arg-type]
        facility_id=scope.get("facility_id"),  # type: ignore[arg-type]
        auth_time=utcnow(),
    ).with_regions(tenant)


async def _member(
    db: Database, tenant: TenantInfo, citizen: Actor, region_code: str
) -> uuid.UUID | None:
    """The citizen's first family member, registered now when they have none."""
    members = await registration.list_members(db=db, tenant=tenant, actor=citizen, limit=10)
    if members.items:
        return members.items[0].id
    kind = next((t for t in tenant.config.id_types if t.examples), None)
    if kind is None:
        return None
    body = MemberIn(
        given_name=GIVEN_NAME,
        family_name=FAMILY_NAME,
        sex="female",
        birth_date=BIRTH_DATE,
        documents=[{"id_type": kind.code, "number": kind.examples[0]}],
        region_code=region_code,
    )
    made = await registration.register_member(db=db, tenant=tenant, actor=citizen, body=body)
    return made.id


async def record_demo_doses(
    db: Database,
    cache: Cache,
    tenant_code: str,
    url: str,
    *,
    citizen_id: uuid.UUID,
    vaccinator_id: uuid.UUID,
    region_code: str | None,
    facility_id: uuid.UUID | None,
) -> list[str]:
    """Give the demo citizen's member a first dose; the banner's lines."""
    tenant = await get_tenant_or_404(db=db, cache=cache, code=tenant_code)
    vaccinator = _actor(
        tenant, vaccinator_id, "vaccinator", region_code=region_code, facility_id=facility_id
    )
    centres = await facilities.centres_in_reach(
        db=db, tenant=tenant, within_region=region_code, only=facility_id, q=None
    )
    if not centres.items:
        return []
    centre = centres.items[0]
    citizen = _actor(tenant, citizen_id, "citizen")
    member_id = await _member(db, tenant, citizen, centre.region_code)
    if member_id is None:
        return []
    history = await list_doses(db=db, tenant=tenant, actor=citizen, beneficiary_id=member_id)
    if history.doses:
        return []
    given_at = utcnow() - dt.timedelta(days=DAYS_AGO)
    for product in (p for p in tenant.config.vaccines if p.active):
        lots = await usable_lots(
            db=db, tenant=tenant, actor=vaccinator, product_id=product.id, day=given_at.date()
        )
        if not lots:
            continue
        body = DoseIn(
            beneficiary_id=member_id,
            product_id=product.id,
            lot_id=lots[0].id,
            administered_at=given_at,
            facility_id=centre.id,
            site="left-arm",
            route="IM",
        )
        await record_dose(db=db, tenant=tenant, actor=vaccinator, body=body)
        return [
            f"  doses: dose 1 of {product.name} recorded for the demo citizen's family "
            f"({url}/{tenant_code}/family)"
        ]
    return []
