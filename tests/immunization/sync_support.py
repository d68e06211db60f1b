"""Offline sync test data: records as a device sends them, and the upload."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx

from tests.registration.helpers import member
from tests.scheduling.conftest import REGION
from vaxport.tenancy.schemas import TenantInfo


def sync_url(tenant: TenantInfo) -> str:
    return f"/api/v1/{tenant.code}/sync/batches"


def conflicts_url(tenant: TenantInfo) -> str:
    return f"/api/v1/{tenant.code}/sync/conflicts"


def ago(minutes: int = 30) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes)).isoformat()


def walk_in(client_id: uuid.UUID | None = None, **person: Any) -> dict[str, Any]:
    """A walk-in registered on the device in :data:`REGION` half an hour ago."""
    return {
        "kind": "walk_in",
        "client_id": str(client_id or uuid.uuid4()),
        "device_time": ago(30),
        "person": member(region_code=REGION, **person),
    }


def dose(
    *,
    person: uuid.UUID | None = None,
    walk_in_id: uuid.UUID | str | None = None,
    client_id: uuid.UUID | None = None,
    **over: Any,
) -> dict[str, Any]:
    """Dose 1 of covid-mrna from lot EX1234, given 25 minutes ago, for a person or a
    walk-in of the batch."""
    record: dict[str, Any] = {
        "kind": "dose",
        "client_id": str(client_id or uuid.uuid4()),
        "device_time": ago(25),
        "product_id": "covid-mrna",
        "lot_number": "EX1234",
        "administered_at": ago(25),
        "site": "left-arm",
        "route": "IM",
    }
    if person is not None:
        record["beneficiary_id"] = str(person)
    if walk_in_id is not None:
        record["person_client_id"] = str(walk_in_id)
    return record | over


async def upload(
    client: httpx.AsyncClient,
    tenant: TenantInfo,
    headers: dict[str, str],
    records: list[dict[str, Any]],
    device: str = "tablet-1",
) -> dict[str, Any]:
    r = await client.post(
        sync_url(tenant), json={"device_id": device, "records": records}, headers=headers
    )
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out
