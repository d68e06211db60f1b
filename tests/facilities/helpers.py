"""Building facilities in tests and reading back what a use case left behind."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from vaxport.core.audit.models import AuditEntry
from vaxport.core.db import Database
from vaxport.core.outbox.models import OutboxEvent
from vaxport.facilities.models import Facility, FacilityVaccine


def body(**changes: Any) -> dict[str, Any]:
    """A valid create request for the demo country's tenant, with ``changes`` applied."""
    data: dict[str, Any] = {
        "code": "HC-001",
        "name": {"en": "Hillcrest Health Centre", "fr": "Centre de santé de Hillcrest"},
        "type": "public",
        "region_code": "NOR-01-01",
        "address": "12 Main Street, Hillcrest Town",
        "postal_code": "d1a 2b3",
        "location": {"lat": 48.45, "lon": -79.65},
        "opening_hours": {
            "weekly": {
                "mon": [
                    {"opens": "13:00", "closes": "17:00"},
                    {"opens": "08:00", "closes": "12:00"},
                ],
                "sat": [{"opens": "09:00", "closes": "13:00"}],
            },
            "exceptions": [{"date": "2026-12-25", "note": "Christmas"}],
        },
        "phone": "+1 613 555 0142",
        "email": "hillcrest@demoland.example",
        "accessibility": "Step-free entrance.",
        "vaccines": ["mmr", "covid-mrna"],
        "daily_capacity": 300,
        "stations": 4,
    }
    data.update(changes)
    return data


async def counts(db: Database, tenant_id: uuid.UUID) -> dict[str, int]:
    """How many facilities, vaccine rows, facility events and audit entries the tenant has."""
    async with db.read(tenant_id=tenant_id) as session:
        facilities = await session.scalar(
            select(func.count()).select_from(Facility).where(Facility.tenant_id == tenant_id)
        )
        vaccines = await session.scalar(
            select(func.count())
            .select_from(FacilityVaccine)
            .where(FacilityVaccine.tenant_id == tenant_id)
        )
        events = await session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.tenant_id == tenant_id, OutboxEvent.event_type.like("facility.%"))
        )
        audits = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.tenant_id == tenant_id, AuditEntry.object_type == "facility")
        )
    return {
        "facilities": facilities or 0,
        "vaccines": vaccines or 0,
        "events": events or 0,
        "audit": audits or 0,
    }


async def events(db: Database, tenant_id: uuid.UUID) -> list[tuple[str, dict[str, Any]]]:
    """The tenant's facility events, oldest first: (type, payload)."""
    async with db.read(tenant_id=tenant_id) as session:
        rows = await session.execute(
            select(OutboxEvent.event_type, OutboxEvent.payload)
            .where(OutboxEvent.tenant_id == tenant_id, OutboxEvent.event_type.like("facility.%"))
            .order_by(OutboxEvent.id)
        )
        return [(t, p) for t, p in rows]


async def audit_actions(db: Database, tenant_id: uuid.UUID) -> list[tuple[str, str | None]]:
    """The tenant's facility audit entries, oldest first: (action, object id)."""
    async with db.read(tenant_id=tenant_id) as session:
        rows = await session.execute(
            select(AuditEntry.action, AuditEntry.object_id)
            .where(AuditEntry.tenant_id == tenant_id, AuditEntry.object_type == "facility")
            .order_by(AuditEntry.id)
        )
        return [(a, o) for a, o in rows]
