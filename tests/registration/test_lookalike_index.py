"""The look-alike lookup of a registration reads its own index whatever PostgreSQL's
statistics say: on a table never analysed (as after a restore, or before autovacuum's
first pass), the planner must not walk the region's people instead."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.registration.helpers import member
from vaxport.core.db import Database
from vaxport.core.principal import OPERATOR
from vaxport.registration.intake import NewMember, _lookalikes, add_members
from vaxport.registration.schemas import MemberIn
from vaxport.registration.validation import validate_member
from vaxport.tenancy.schemas import TenantInfo


async def test_the_lookalike_query_uses_its_index_on_a_never_analysed_table(
    clean_db: Database, tenant: TenantInfo
) -> None:
    if not clean_db.is_postgres:
        pytest.skip("query plans of PostgreSQL")
    people = [
        NewMember(
            validate_member(
                MemberIn.model_validate(member(given_name=f"Person{chr(97 + i % 26)}{i}")),
                config=tenant.config,
            )
        )
        for i in range(300)
    ]  # one region: the walk the planner must not choose
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        added = await add_members(
            uow,
            people,
            acting=OPERATOR,
            tenant_id=tenant.id,
            tenant_code=tenant.code,
            created_via="import",
        )
    newcomer = added[0].person
    assert newcomer.match_bidx is not None
    query, params = _lookalikes(tenant.id, {(newcomer.match_bidx, newcomer.region_code): [0]})
    async with clean_db.read(tenant_id=tenant.id) as s:
        analysed = await s.scalar(
            text(
                "SELECT coalesce(last_analyze, last_autoanalyze) IS NOT NULL "
                "FROM pg_stat_user_tables WHERE relname = 'beneficiaries'"
            )
        )
        assert analysed is False  # the condition under test
        compiled = query.compile(dialect=s.get_bind().dialect)
        sql = str(compiled)
        values = {**compiled.params, **params}
        conn = await s.connection()
        driver = (await conn.get_raw_connection()).driver_connection
        plan = "\n".join(
            r[0]
            for r in await driver.fetch(
                f"EXPLAIN {sql}", *[values[n] for n in compiled.positiontup]
            )
        )
    assert "ix_beneficiaries_lookalike" in plan, plan
    assert "ix_beneficiaries_tenant_id_region_code" not in plan, plan
