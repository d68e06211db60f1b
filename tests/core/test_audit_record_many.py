"""``audit.record_many``: a bulk act's entries in one round trip, as good as one by one."""

from __future__ import annotations

from typing import Any

import pytest

from tests.core.helpers import auditor, make_tenant, new_id
from vaxport.audit.service import list_entries
from vaxport.core import audit
from vaxport.core.audit.chain import seal, verify
from vaxport.core.db import Database
from vaxport.core.principal import OPERATOR


def _entry(n: int, **changes: Any) -> dict[str, Any]:
    entry = {
        "action": "facility.create",
        "object_type": "facility",
        "object_id": new_id(),
        "details": {"source": "import", "n": n},
    }
    entry.update(changes)
    return entry


async def test_entries_are_written_together_and_seal_into_a_valid_chain(
    clean_db: Database,
) -> None:
    tenant = await make_tenant(clean_db)
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        await audit.record(uow, by=OPERATOR, **_entry(0))
        ids = await audit.record_many(uow, by=OPERATOR, entries=[_entry(n) for n in range(1, 6)])
        assert await audit.record_many(uow, by=OPERATOR, entries=[]) == []
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        ids += await audit.record_many(uow, by=OPERATOR, entries=[_entry(6)])
    entries = (await list_entries(db=clean_db, actor=auditor(tenant))).items
    assert {e.id for e in entries} >= set(ids)
    assert {(e.actor_id, e.actor_role) for e in entries} == {(None, "operator")}
    assert sorted(e.details["n"] for e in entries) == list(range(7))
    assert await seal(db=clean_db, tenant_id=tenant.id) == 7
    result = await verify(db=clean_db, tenant_id=tenant.id)
    assert result.ok
    assert (result.sealed, result.unsealed) == (7, 0)


@pytest.mark.parametrize(
    "changes",
    [
        {"details": {"email": "someone@example.org"}},
        {"object_id": "jane.doe@example.org"},
        {"action": "Not A Slug"},
    ],
)
async def test_one_bad_entry_refuses_the_whole_call(
    clean_db: Database, changes: dict[str, Any]
) -> None:
    tenant = await make_tenant(clean_db)
    with pytest.raises(ValueError, match="audit"):
        async with clean_db.transaction(tenant_id=tenant.id) as uow:
            await audit.record_many(uow, by=OPERATOR, entries=[_entry(1), _entry(2, **changes)])
    assert (await list_entries(db=clean_db, actor=auditor(tenant))).items == []


async def test_entries_need_a_unit_of_work_scoped_to_a_tenant(clean_db: Database) -> None:
    async with clean_db.transaction(tenant_id=None) as uow:
        with pytest.raises(ValueError, match="scoped to a tenant"):
            await audit.record_many(uow, by=OPERATOR, entries=[_entry(1)])
