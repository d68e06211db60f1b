"""Helpers of the correction tests: a dose recorded through the API, the clock moved past
the recorder's window, and the answers' problem types."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
from sqlalchemy import update

from tests.immunization.support import body, doses_url
from tests.registration.conftest import Person
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.immunization.models import Dose
from vaxport.tenancy.schemas import TenantInfo


def dose_url(tenant: TenantInfo, dose_id: Any) -> str:
    return f"{doses_url(tenant)}/{dose_id}"


async def recorded(
    client: httpx.AsyncClient, tenant: TenantInfo, who: Person, person: uuid.UUID, **over: Any
) -> dict[str, Any]:
    """A dose recorded by ``who`` through the API (its answer)."""
    r = await client.post(doses_url(tenant), json=body(person, **over), headers=who.headers)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


async def recorded_long_ago(db: Database, tenant: TenantInfo, dose_id: Any, hours: int = 2) -> None:
    """The dose was recorded ``hours`` ago (past the recorder's window of 60 minutes)."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        await uow.session.execute(
            update(Dose)
            .where(Dose.id == uuid.UUID(str(dose_id)))
            .values(created_at=utcnow() - dt.timedelta(hours=hours))
        )


def slug(r: httpx.Response) -> str:
    """The problem type's code of a refusal (checked to be problem+json)."""
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    return str(r.json()["type"].rsplit("/", 1)[-1])


def code(r: httpx.Response) -> str:
    """The first field error's code."""
    return str(r.json()["errors"][0]["code"])
