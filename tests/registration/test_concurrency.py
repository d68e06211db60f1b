"""Races: the same ID registered in parallel, a family filled in parallel.

Meaningful on PostgreSQL (real parallel transactions); on SQLite writers queue, and the
same outcome must hold.
"""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import func, select

from tests.identity.helpers import actor_for
from tests.registration.helpers import member, national_id
from vaxport.core.db import Database
from vaxport.registration import service
from vaxport.registration.models import Beneficiary, BeneficiaryDocument
from vaxport.registration.schemas import MemberIn
from vaxport.tenancy.schemas import TenantInfo


async def _count(db: Database, tenant: TenantInfo, model: type) -> int:
    async with db.read(tenant_id=tenant.id) as s:
        return int(
            await s.scalar(
                select(func.count()).select_from(model).where(model.tenant_id == tenant.id)  # type: ignore[attr-defined]
            )
            or 0
        )


async def test_twenty_parallel_registrations_of_one_id_make_exactly_one_person(
    clean_db: Database, tenant: TenantInfo
) -> None:
    body = MemberIn.model_validate(
        member(documents=[{"id_type": "national-id", "number": national_id()}])
    )
    citizens = [
        actor_for(tenant, "citizen", kind="citizen", account_id=uuid.uuid4()) for _ in range(20)
    ]
    results = await asyncio.gather(
        *(
            service.register_member(db=clean_db, tenant=tenant, actor=a, body=body)
            for a in citizens
        ),
        return_exceptions=True,
    )
    created = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, service.AlreadyRegistered)]
    assert len(created) == 1, [type(r).__name__ for r in results]
    assert len(refused) == 19
    assert {r.status for r in refused} == {409}
    assert await _count(clean_db, tenant, Beneficiary) == 1
    assert await _count(clean_db, tenant, BeneficiaryDocument) == 1


async def test_ten_parallel_additions_never_overfill_a_family(
    clean_db: Database, tenant: TenantInfo
) -> None:
    limit = tenant.config.family.max_beneficiaries_per_account
    me = actor_for(tenant, "citizen", kind="citizen", account_id=uuid.uuid4())
    bodies = [
        MemberIn.model_validate(
            member(
                given_name=f"Child{i}",
                documents=[{"id_type": "national-id", "number": national_id()}],
            )
        )
        for i in range(10)
    ]
    results = await asyncio.gather(
        *(service.register_member(db=clean_db, tenant=tenant, actor=me, body=b) for b in bodies),
        return_exceptions=True,
    )
    created = [r for r in results if not isinstance(r, BaseException)]
    full = [r for r in results if isinstance(r, service.FamilyFull)]
    assert len(created) == limit, [type(r).__name__ for r in results]
    assert len(full) == 10 - limit
    assert await _count(clean_db, tenant, Beneficiary) == limit
