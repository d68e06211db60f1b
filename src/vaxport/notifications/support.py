"""Use cases for support staff and operators: delivery status, test messages, console.

Support sees where a message is (status, channel, timestamps, reason code), never its
destination or content. Operators check a channel end to end with a test message; in
development the console channel's messages are listed for the demo user.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from dataclasses import dataclass

from sqlalchemy import select

from vaxport.core import audit
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.errors import NotFound, invalid
from vaxport.core.i18n import N_
from vaxport.core.ids import uuid7
from vaxport.core.principal import OPERATOR
from vaxport.identity.service import Actor, Resource, authorize
from vaxport.notifications.channels.console import console_outbox_path, read_console_outbox
from vaxport.notifications.models import DONE, Message
from vaxport.notifications.recipients import Kind, infer_kind
from vaxport.notifications.service import notify
from vaxport.settings import Settings
from vaxport.tenancy.service import get_tenant_or_404


@dataclass(frozen=True, slots=True)
class MessageStatus:
    """Where a message is, for support staff: never its destination or content."""

    id: uuid.UUID
    event: str
    kind: str
    channel: str | None
    status: str
    reason: str | None
    attempts: int
    urgent: bool
    created_at: dt.datetime
    due_at: dt.datetime
    sent_at: dt.datetime | None
    delivered_at: dt.datetime | None
    updated_at: dt.datetime


async def get_message_or_404(
    *, db: Database, tenant_id: uuid.UUID, message_id: uuid.UUID, actor: Actor | None = None
) -> MessageStatus:
    """A message's delivery status; NotFound if there is none (or ``actor`` may not see it).

    A message is the person's it is for (citizens see their own); it has no place, so
    staff limited to a region or facility do not reach it (fail closed).
    """
    async with db.read(tenant_id=tenant_id) as session:
        row = (
            await session.execute(
                select(
                    Message.subject_id,
                    Message.id,
                    Message.event,
                    Message.kind,
                    Message.channel,
                    Message.status,
                    Message.status_reason.label("reason"),
                    Message.attempts,
                    Message.urgent,
                    Message.created_at,
                    Message.due_at,
                    Message.sent_at,
                    Message.delivered_at,
                    Message.updated_at,
                ).where(Message.tenant_id == tenant_id, Message.id == message_id)
            )
        ).one_or_none()
    if row is None:
        raise NotFound(N_("unknown message"))
    found = row._asdict()
    owner = found.pop("subject_id")
    if actor is not None:
        resource = Resource(tenant_id, owner_id=owner)
        authorize(actor, "messages:read", resource, what="message")
    return MessageStatus(**found)


async def send_test_message(
    *,
    db: Database,
    cache: Cache,
    tenant: str,
    to: str,
    kind: Kind | None = None,
    locale: str | None = None,
    actor: Actor | None = None,
) -> MessageStatus:
    """Queue a ``test_message`` to ``to`` through the tenant's channel; audited.

    ``actor``: the administrator asking (None: an operator at the command line).
    """
    found = await get_tenant_or_404(db=db, cache=cache, code=tenant)
    if actor is not None:
        authorize(actor, "notifications:test", Resource(found.id), what="tenant")
    if kind is not None and kind not in ("sms", "email"):
        raise invalid("kind", N_("must be 'sms' or 'email'"))
    async with db.transaction(tenant_id=found.id) as uow:
        message_id = await notify(
            uow,
            tenant_id=found.id,
            event="test_message",
            to=to,
            kind=kind,
            data={"tenant_name": found.name},
            locale=locale,
            dedup_key=f"test_message:{uuid7()}",
            urgent=True,
        )
        await audit.record(
            uow,
            by=actor.principal if actor is not None else OPERATOR,
            action="notifications.test_message",
            object_type="message",
            object_id=message_id,
            details={"kind": kind or infer_kind(to)},
        )
    return await get_message_or_404(db=db, tenant_id=found.id, message_id=message_id)


async def wait_for_message(
    *, db: Database, cache: Cache, tenant: str, message_id: uuid.UUID, wait_seconds: float
) -> MessageStatus:
    """The message's status once nothing more will be sent for it, or after ``wait_seconds``."""
    found = await get_tenant_or_404(db=db, cache=cache, code=tenant)
    deadline = time.monotonic() + wait_seconds
    while True:
        status = await get_message_or_404(db=db, tenant_id=found.id, message_id=message_id)
        if status.status in DONE or time.monotonic() >= deadline:
            return status
        await asyncio.sleep(0.2)


@dataclass(frozen=True, slots=True)
class ConsoleMessage:
    """A message the console channel recorded (development only)."""

    id: str
    at: str
    channel: str
    kind: str
    tenant: str
    event: str
    locale: str
    to: str
    subject: str | None
    text: str


async def list_console_messages(*, settings: Settings, limit: int = 50) -> list[ConsoleMessage]:
    """The last messages the console channel recorded, newest first."""
    entries = await asyncio.to_thread(
        read_console_outbox, console_outbox_path(settings), limit=limit
    )
    return [
        ConsoleMessage(
            id=str(e.get("id", "")),
            at=str(e.get("at", "")),
            channel=str(e.get("channel", "")),
            kind=str(e.get("kind", "")),
            tenant=str(e.get("tenant", "")),
            event=str(e.get("event", "")),
            locale=str(e.get("locale", "")),
            to=str(e.get("to", "")),
            subject=str(e["subject"]) if e.get("subject") else None,
            text=str(e.get("text", "")),
        )
        for e in entries
    ]
