"""The demo's week of sessions: at the demo centres, from tomorrow, several vaccines,
published once however often the demo starts."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from tests.scheduling.sessions.support import Session, Slot, count, local_today
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.facilities.demo import load_demo_facilities
from vaxport.scheduling.sessions.demo import load_demo_sessions
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


async def test_the_demo_publishes_a_week_of_sessions_once(
    clean_db: Database, cache: Cache, settings: Settings, tenant: TenantInfo
) -> None:
    await load_demo_facilities(clean_db, cache, settings, tenant.code, "http://x")

    [line] = await load_demo_sessions(clean_db, cache, settings, tenant.code, "http://x")

    sessions = await count(clean_db, tenant, Session)
    assert sessions > 500
    assert f"{sessions} new sessions" in line
    async with clean_db.read(tenant_id=tenant.id) as s:
        days = set(await s.scalars(select(Session.day).distinct()))
        products = set(await s.scalars(select(Session.product_id).distinct()))
        mismatched = await s.scalar(
            select(func.count())
            .select_from(Session)
            .where(
                Session.capacity
                != select(func.sum(Slot.capacity))
                .where(Slot.session_id == Session.id)
                .scalar_subquery()
            )
        )
    tomorrow = local_today() + dt.timedelta(days=1)
    assert min(days) >= tomorrow
    assert max(days) <= tomorrow + dt.timedelta(days=6)
    assert {"covid-mrna", "covid-protein", "mmr"} <= products
    assert mismatched == 0

    [again] = await load_demo_sessions(clean_db, cache, settings, tenant.code, "http://x")
    assert "0 new sessions" in again
    assert await count(clean_db, tenant, Session) == sessions
