"""Helpers for dispatch tests: tenants with real channels, a real worker, message reads."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from tests.support.tenants import load_tenant
from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.outbox import PENDING, OutboxDelivery, OutboxEvent, Subscriptions, Worker
from vaxport.notifications import service, support
from vaxport.notifications.events import SUBSCRIBERS
from vaxport.notifications.models import Message
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

PHONE = "+15145550123"  # a valid Canadian mobile-format number (the demo's region)
PHONE_NATIONAL = "(514) 555-0123"
EMAIL = "amina.diallo@example.org"
TWILIO_SID = "AC" + "0123456789abcdef" * 2


def sms_http(url: str, **extra: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "url": f"{url}/send",
        "body": {"to": "{to}", "text": "{text}", "ref": "{dedup_key}"},
        "message_id_json_path": "id",
        "timeout_seconds": 2,
    }
    options.update(extra)
    return {"name": "gateway", "type": "sms-http", "options": options}


def twilio(url: str, **extra: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "url": url,
        "account_sid": TWILIO_SID,
        "auth_token_env": "TEST_TWILIO_TOKEN",
        "sender": "+15005550006",
        "timeout_seconds": 2,
    }
    options.update(extra)
    return {"name": "twilio", "type": "twilio", "options": options}


def smtp(port: int, **extra: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "plain",
        "sender": "Demoland Health <no-reply@health.example.org>",
        "timeout_seconds": 2,
    }
    options.update(extra)
    return {"name": "mail", "type": "smtp", "options": options}


def notifications(
    *channels: dict[str, Any], sms: str | None = None, email: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A ``notifications:`` section routing SMS/e-mail to the named channels."""
    routes = {k: v for k, v in (("sms", sms), ("email", email)) if v}
    return {"channels": list(channels), "routes": routes, **extra}


async def tenant_with(db: Database, section: dict[str, Any], **changes: Any) -> TenantInfo:
    """A fresh tenant (the demo country) with this notifications section."""
    return await load_tenant(db, changes={"notifications": section, **changes})


async def run_worker(db: Database, cache: Cache, settings: Settings) -> int:
    """Deliver everything due now with one real worker (notifications' subscribers only);
    how many deliveries it handled."""
    worker = Worker(
        db, cache, settings, subscriptions=Subscriptions(SUBSCRIBERS), worker_id="dispatch-test"
    )
    return await worker.run(asyncio.Event(), once=True)


async def fast_forward(db: Database) -> list[float]:
    """Make every pending outbox event and delivery due now; the delays (seconds) they had."""
    delays = await pending_delays(db)
    now = utcnow()
    async with db.transaction() as uow:
        for table in (OutboxEvent, OutboxDelivery):
            await uow.session.execute(
                update(table).where(table.state == PENDING).values(available_at=now)
            )
    return delays


async def redeliver_all(db: Database) -> None:
    """Make every delivery pending and due again, as a lost outcome or a redrive would."""
    async with db.transaction() as uow:
        await uow.session.execute(
            update(OutboxDelivery).values(
                state=PENDING, available_at=utcnow(), locked_by=None, locked_until=None
            )
        )
        await uow.session.execute(
            update(OutboxEvent).where(OutboxEvent.state == PENDING).values(available_at=utcnow())
        )


async def pending_delays(db: Database) -> list[float]:
    """Seconds until each pending outbox event or delivery is due (negative: overdue)."""
    now = utcnow()
    async with db.read() as session:
        delays = []
        for table in (OutboxEvent, OutboxDelivery):
            rows = (
                await session.execute(select(table.available_at).where(table.state == PENDING))
            ).scalars()
            delays += [(at - now).total_seconds() for at in rows]
        return delays


async def status_of(db: Database, tenant: TenantInfo, message_id: uuid.UUID) -> str:
    found = await support.get_message_or_404(db=db, tenant_id=tenant.id, message_id=message_id)
    return found.status


@dataclass(frozen=True)
class Row:
    """A message row as the database holds it (ciphertexts stay ciphertexts)."""

    status: str
    reason: str | None
    attempts: int
    channel: str | None
    provider_message_id: str | None
    data_enc: bytes | None
    to_phone: str | None
    to_email: str | None


async def row_of(db: Database, tenant: TenantInfo, message_id: uuid.UUID) -> Row:
    async with db.read(tenant_id=tenant.id) as session:
        m = (
            await session.execute(
                select(Message).where(Message.tenant_id == tenant.id, Message.id == message_id)
            )
        ).scalar_one()
        return Row(
            m.status,
            m.status_reason,
            m.attempts,
            m.channel,
            m.provider_message_id,
            m.data_enc,
            m.to_phone,
            m.to_email,
        )


async def queue(
    db: Database, tenant: TenantInfo, *, event: str = "test_message", **kwargs: Any
) -> uuid.UUID:
    """notify() in a transaction of its own, with test_message data by default."""
    kwargs.setdefault("data", {"tenant_name": "Demoland"})
    async with db.transaction(tenant_id=tenant.id) as uow:
        return await service.notify(uow, tenant_id=tenant.id, event=event, **kwargs)


def keys_seen(requests: Sequence[Any], header: str = "idempotency-key") -> list[str]:
    return [r.headers.get(header, "") for r in requests]
