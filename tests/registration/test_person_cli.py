"""``vaxport person export`` / ``erase``: a subject-access request and crypto-shredding."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import insert, select, text
from typer.testing import CliRunner

from tests.identity.helpers import actor_for
from tests.registration.helpers import member, national_id
from vaxport.cli import app
from vaxport.core.cache import Cache, MemoryBackend
from vaxport.core.cli_support import run_with_db
from vaxport.core.crypto import SubjectKeyDestroyedError
from vaxport.core.db import Database
from vaxport.registration import service
from vaxport.registration.models import Beneficiary
from vaxport.registration.schemas import MemberIn
from vaxport.tenancy.service import get_tenant_or_404


def _register(url: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Register a person as a national admin; their id and the raw stored row."""

    async def run(db: Database) -> tuple[str, dict[str, Any]]:
        tenant = await get_tenant_or_404(db=db, cache=Cache(MemoryBackend()), code="demo")
        actor = actor_for(tenant, "national_admin")
        made = await service.register_member(
            db=db, tenant=tenant, actor=actor, body=MemberIn.model_validate(body)
        )
        async with db.read(tenant_id=tenant.id) as s:
            raw = (
                await s.execute(select(Beneficiary.__table__).where(Beneficiary.id == made.id))
            ).one()
        return str(made.id), dict(raw._mapping)

    return run_with_db(run, url=url)


def test_export_holds_the_persons_data_and_erase_shreds_it(
    cli: CliRunner, clean_db: Database
) -> None:
    number = national_id()
    body = member(
        given_name="Oriane",
        phone="+16135550155",
        documents=[{"id_type": "national-id", "number": number}],
    )
    pid, raw = _register(clean_db.url, body)
    _register(clean_db.url, member(given_name="oriane"))  # a look-alike: flagged with them

    out = cli.invoke(
        app,
        ["person", "export", "--tenant", "demo", "--id-type", "national-id", "--id-number", number],
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    person = data["beneficiary"]
    assert person["id"] == pid
    assert person["given_name"] == "Oriane"
    assert person["phone"] == "+16135550155"
    assert person["documents"] == [{"id_type": "national-id", "number": number}]
    assert len(data["duplicate_flags"]) == 1
    assert {e["action"] for e in data["audit"]} >= {"beneficiary.register", "beneficiary.export"}
    assert data["notification_messages"] is None  # not offered by notifications yet

    erased = cli.invoke(app, ["person", "erase", "--tenant", "demo", "--beneficiary-id", pid])
    assert erased.exit_code == 0, erased.output
    again = cli.invoke(app, ["person", "export", "--tenant", "demo", "--beneficiary-id", pid])
    assert again.exit_code == 1
    assert "not found" in again.output

    async def check(db: Database) -> None:
        tenant = await get_tenant_or_404(db=db, cache=Cache(MemoryBackend()), code="demo")
        async with db.read(tenant_id=tenant.id) as s:
            assert (
                await s.scalar(select(Beneficiary.id).where(Beneficiary.id == uuid.UUID(pid)))
                is None
            )
            keys = await s.scalar(
                text("SELECT count(*) FROM subject_keys WHERE subject_id = :p"),
                {"p": uuid.UUID(pid).hex if db.is_sqlite else pid},
            )
            assert keys == 0
            entry = (
                await s.execute(
                    text(
                        "SELECT actor_role, details FROM audit_entries "
                        "WHERE action = 'beneficiary.erase'"
                    )
                )
            ).one()
        assert entry.actor_role == "operator"
        assert "Oriane" not in str(entry.details)
        assert number not in str(entry.details)
        # A backup taken before the erasure, restored: the row is back, its data is not.
        async with db.transaction(tenant_id=tenant.id) as uow:
            await uow.session.execute(insert(Beneficiary.__table__).values(**raw))
        async with db.read(tenant_id=tenant.id) as s:
            restored = await s.scalar(select(Beneficiary).where(Beneficiary.id == uuid.UUID(pid)))
            assert restored is not None
            with pytest.raises(SubjectKeyDestroyedError):
                _ = restored.given_name

    run_with_db(check, url=clean_db.url)


def test_erase_is_refused_for_a_vaccinated_person_and_names_must_be_given(
    cli: CliRunner, clean_db: Database
) -> None:
    pid, _ = _register(clean_db.url, member())

    async def vaccinate(db: Database) -> None:
        tenant = await get_tenant_or_404(db=db, cache=Cache(MemoryBackend()), code="demo")
        async with db.transaction(tenant_id=tenant.id) as uow:
            person = await uow.session.get(Beneficiary, uuid.UUID(pid))
            assert person is not None
            from vaxport.core.clock import utcnow

            person.vaccinated_at = utcnow()

    run_with_db(vaccinate, url=clean_db.url)
    refused = cli.invoke(app, ["person", "erase", "--tenant", "demo", "--beneficiary-id", pid])
    assert refused.exit_code == 1
    assert "30 years" in refused.output
    unnamed = cli.invoke(app, ["person", "export", "--tenant", "demo"])
    assert unnamed.exit_code == 1
