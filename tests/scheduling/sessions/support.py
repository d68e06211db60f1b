"""What the session tests share: a valid publish request, logged-in staff, table readers."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from typing import Any

import httpx
from sqlalchemy import func, select

from tests.registration.conftest import Person, staff_token
from vaxport.core.audit.models import AuditEntry
from vaxport.core.db import Database
from vaxport.core.outbox.models import OutboxEvent
from vaxport.scheduling.models import Appointment, Session, Slot
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

TZ = zoneinfo.ZoneInfo("America/Toronto")  # the demo country's


def local_today() -> dt.date:
    """Today in the demo country."""
    return dt.datetime.now(TZ).date()


def soon(days: int = 3) -> dt.date:
    """A local day ``days`` from today."""
    return local_today() + dt.timedelta(days=days)


def next_weekday(weekday: int, after: int = 1) -> dt.date:
    """The first local day at least ``after`` days ahead that is ``weekday`` (0 = Monday)."""
    day = soon(after)
    return day + dt.timedelta(days=(weekday - day.weekday()) % 7)


def body(centre: uuid.UUID, /, **changes: Any) -> dict[str, Any]:
    """A valid publish request at ``centre`` (a 09:00-10:00 session in 10-minute slots)."""
    data: dict[str, Any] = {
        "facility_id": str(centre),
        "day": soon().isoformat(),
        "start_time": "09:00",
        "end_time": "10:00",
        "product_id": "covid-mrna",
        "dose_numbers": [1, 2],
        "slot_minutes": 10,
        "capacity_per_slot": 2,
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def api(tenant: TenantInfo, path: str = "") -> str:
    """The tenant's sessions API path."""
    return f"/api/v1/{tenant.code}/sessions{path}"


async def staff(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    tenant: TenantInfo,
    role: str = "facility_manager",
    **scope: Any,
) -> Person:
    """A logged-in staff member of ``role`` and scope."""
    return await staff_token(client, db, settings, tenant, role, **scope)


async def publish(
    client: httpx.AsyncClient, tenant: TenantInfo, who: Person, data: dict[str, Any]
) -> dict[str, Any]:
    """Publish through the API; the answer (a 201 is required)."""
    r = await client.post(api(tenant), json=data, headers=who.headers)
    assert r.status_code == 201, r.text
    answer: dict[str, Any] = r.json()
    return answer


async def count(db: Database, tenant: TenantInfo, model: Any, *where: Any) -> int:
    """Rows of ``model`` in the tenant (matching ``where``)."""
    async with db.read(tenant_id=tenant.id) as s:
        found = await s.scalar(
            select(func.count()).select_from(model).where(model.tenant_id == tenant.id, *where)
        )
    return int(found or 0)


async def events(db: Database, tenant: TenantInfo, prefix: str) -> list[tuple[str, Any]]:
    """``(event_type, payload)`` of the tenant's events starting with ``prefix``, in order."""
    async with db.read(tenant_id=tenant.id) as s:
        rows = await s.execute(
            select(OutboxEvent.event_type, OutboxEvent.payload)
            .where(OutboxEvent.tenant_id == tenant.id, OutboxEvent.event_type.like(prefix + "%"))
            .order_by(OutboxEvent.created_at, OutboxEvent.id)
        )
        return [(t, p) for t, p in rows.all()]


async def audit_actions(db: Database, tenant: TenantInfo, prefix: str) -> list[str]:
    """Audit actions of the tenant starting with ``prefix``, in order."""
    async with db.read(tenant_id=tenant.id) as s:
        rows = await s.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.tenant_id == tenant.id, AuditEntry.action.like(prefix + "%"))
            .order_by(AuditEntry.occurred_at, AuditEntry.id)
        )
        return list(rows)


__all__ = ["Appointment", "Person", "Session", "Slot"]
