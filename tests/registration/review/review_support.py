"""Test data for the review work: people written straight into the tables, citizens with
sessions the way the one-time-code login makes them, and readers of audit and outbox."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import func, select

from tests.registration.helpers import national_id
from vaxport.core.audit.models import AuditEntry
from vaxport.core.db import Database
from vaxport.core.ids import short_code, uuid7
from vaxport.core.outbox.models import OutboxEvent
from vaxport.identity.credentials import sessions
from vaxport.identity.models import Account
from vaxport.registration.models import Beneficiary, BeneficiaryDocument, DuplicateFlag
from vaxport.registration.validation import match_key
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


async def add_person(
    db: Database,
    tenant: TenantInfo,
    *,
    account_id: uuid.UUID | None = None,
    region_code: str = "CEN-01-01",
    facility_id: uuid.UUID | None = None,
    given_name: str = "Ada",
    family_name: str | None = "Lovelace",
    birth_date: dt.date = dt.date(1985, 12, 10),
    number: str | None = None,
) -> uuid.UUID:
    """A person with one national ID; their id."""
    person_id = uuid7()
    async with db.transaction(tenant_id=tenant.id) as uow:
        person = Beneficiary(
            id=person_id,
            tenant_id=tenant.id,
            account_id=account_id,
            reference=short_code(8),
            status="active",
            birth_year=birth_date.year,
            sex="female",
            region_code=region_code,
            facility_id=facility_id,
            created_via="self" if account_id else "walk_in",
            version=1,
        )
        person.given_name = given_name
        person.family_name = family_name
        person.birth_date = birth_date
        person.match = match_key(family_name, given_name, birth_date, birth_date.year)
        uow.session.add(person)
        await uow.session.flush()
        document = BeneficiaryDocument(
            id=uuid7(), tenant_id=tenant.id, beneficiary_id=person_id, id_type="national-id"
        )
        document.number = number or national_id()
        uow.session.add(document)
    return person_id


async def add_flag(
    db: Database,
    tenant: TenantInfo,
    newer: uuid.UUID,
    older: uuid.UUID,
    *,
    region: str,
    facility_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """A possible-duplicate flag between two people."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        flag = DuplicateFlag(
            id=uuid7(),
            tenant_id=tenant.id,
            beneficiary_id=newer,
            candidate_id=older,
            reason="name_birth_region",
            status="open",
            region_code=region,
            facility_id=facility_id,
        )
        uow.session.add(flag)
    return flag.id


async def add_citizen(db: Database, tenant: TenantInfo) -> uuid.UUID:
    """A citizen account (no session: service tests act through ``actor_for``); its id."""
    account = Account(
        id=uuid7(), tenant_id=tenant.id, kind="citizen", role="citizen", token_version=1
    )
    async with db.transaction(tenant_id=tenant.id) as uow:
        uow.session.add(account)
    return account.id


async def web_session(
    db: Database, settings: Settings, tenant: TenantInfo, account_id: uuid.UUID
) -> str:
    """A browser session cookie value of an account (citizen or staff)."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        citizen = await uow.session.get(Account, account_id)
        assert citizen is not None
        login = await sessions.open_web_session(
            uow, settings=settings, account=citizen, tenant_code=tenant.code, amr=["otp"]
        )
    return login.cookie


async def audit_actions(db: Database, tenant: TenantInfo, object_id: uuid.UUID) -> list[str]:
    """The audit actions recorded about one object, oldest first."""
    async with db.read(tenant_id=tenant.id) as s:
        rows = await s.execute(
            select(AuditEntry.action)
            .where(AuditEntry.tenant_id == tenant.id, AuditEntry.object_id == str(object_id))
            .order_by(AuditEntry.occurred_at, AuditEntry.id)
        )
        return list(rows.scalars())


async def events(db: Database, tenant: TenantInfo, prefix: str) -> list[tuple[str, Any]]:
    """``(event_type, payload)`` of the tenant's outbox events starting with ``prefix``."""
    async with db.read(tenant_id=tenant.id) as s:
        rows = await s.execute(
            select(OutboxEvent.event_type, OutboxEvent.payload)
            .where(OutboxEvent.tenant_id == tenant.id, OutboxEvent.event_type.like(prefix + "%"))
            .order_by(OutboxEvent.id)
        )
        return [(t, p) for t, p in rows.all()]


async def count(db: Database, tenant: TenantInfo, model: Any) -> int:
    """Rows of ``model`` in the tenant."""
    async with db.read(tenant_id=tenant.id) as s:
        return int(
            await s.scalar(
                select(func.count()).select_from(model).where(model.tenant_id == tenant.id)
            )
            or 0
        )
