"""Sending one queued message: re-check, render, mark, send, record (the worker's side).

Two short transactions around the provider call, never one held open across it:

1. *prepare*: lock the message; skip it if it is done, expired, cancelled, no longer
   relevant or opted out; wait out quiet hours; refuse it over the recipient's caps;
   render it; mark it ``sending`` under a fresh attempt id. Commit.
2. *send* through the tenant's channel, with the message id as the provider's
   idempotency key (stable across every attempt of this message).
3. *record* the outcome, only if this attempt still owns the message: ``sent``,
   ``failed`` (permanent, or out of attempts), or back to ``queued`` and
   :class:`~vaxport.core.outbox.RetryLater` (the provider's Retry-After, else backoff).

A worker killed between 2 and 3 leaves the message ``sending``; the outbox delivers the
event again and the send is repeated with the same idempotency key, so a provider that
deduplicates sends once. Providers without idempotency (Twilio, SNS) may then send twice:
the at-least-once window documented in docs/notifications.md.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from prometheus_client import Counter, Histogram
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.crypto import blind_match
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.ids import uuid7
from vaxport.core.logging import get_logger
from vaxport.core.outbox import RetryLater, backoff_seconds
from vaxport.notifications.channels import Channel, Outcome, OutgoingMessage, SendResult
from vaxport.notifications.events import MessageRef, relevance_check
from vaxport.notifications.models import (
    CANCELLED,
    DELIVERED,
    DONE,
    FAILED,
    QUEUED,
    SENDING,
    SENT,
    Message,
)
from vaxport.notifications.preferences import read_preferences
from vaxport.notifications.recipients import (
    Kind,
    has_contact_resolvers,
    normalise_or_none,
    resolve_contact,
)
from vaxport.notifications.runtime import RUNTIME
from vaxport.notifications.templates import TemplateError
from vaxport.settings import Settings
from vaxport.tenancy.service import NotificationsConfig, TenantInfo, get_tenant_by_id

log = get_logger("vaxport.notifications")

MESSAGES = Counter(
    "vaxport_notification_messages_total",
    "Messages by final or retry outcome, channel type and kind.",
    ["channel_type", "kind", "outcome"],
)
SKIPPED = Counter(
    "vaxport_notification_skipped_total",
    "Messages not sent, by reason (expired, opted_out, recipient_cap...).",
    ["reason"],
)
QUEUE_AGE = Histogram(
    "vaxport_notification_queue_age_seconds",
    "Time from a message being due to its first send attempt.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)


@dataclass(frozen=True, slots=True)
class _Attempt:
    """A message marked ``sending``, rendered and ready to go."""

    message_id: uuid.UUID
    attempt_id: uuid.UUID
    attempts: int
    expires_at: dt.datetime | None
    channel: Channel
    outgoing: OutgoingMessage


@dataclass(frozen=True, slots=True)
class _Wait:
    seconds: float


async def deliver(
    *,
    db: Database,
    cache: Cache,
    settings: Settings,
    tenant_id: uuid.UUID,
    message_id: uuid.UUID,
) -> str | None:
    """Send one message if it should go; the status it ends in (None: no such message).

    Raises :class:`RetryLater` when it must wait (quiet hours, a transient failure).
    """
    # Through the cache, outside the transaction: one query fewer per message.
    tenant = await get_tenant_by_id(db=db, cache=cache, tenant_id=tenant_id)
    step = await _prepare(db, settings, tenant, message_id)
    if step is None or isinstance(step, str):
        return step
    if isinstance(step, _Wait):
        raise RetryLater(step.seconds, "quiet hours")
    result = await step.channel.send(step.outgoing)
    return await _record(db, settings, tenant_id, step, result)


async def _prepare(
    db: Database, settings: Settings, tenant: TenantInfo, message_id: uuid.UUID
) -> _Attempt | _Wait | str | None:
    async with db.transaction(tenant_id=tenant.id) as uow:
        query = select(Message).where(Message.tenant_id == tenant.id, Message.id == message_id)
        if db.is_postgres:
            # Serialises with cancel_for_reason and with another worker's attempt.
            query = query.with_for_update()
        msg = (await uow.session.execute(query)).scalar_one_or_none()
        if msg is None:
            log.warning("notification.missing", message_id=str(message_id))
            return None
        if msg.status in DONE:
            return msg.status
        return await _decide(uow, db, settings, tenant, msg)


async def _decide(
    uow: UnitOfWork, db: Database, settings: Settings, tenant: TenantInfo, msg: Message
) -> _Attempt | _Wait | str:
    """Skip, wait, refuse or start an attempt of ``msg`` (locked, not done)."""
    now = utcnow()
    verdict = await _verdict(uow, tenant, msg, now)
    if verdict is not None:
        return _finish(msg, CANCELLED, verdict, now)
    cfg = tenant.config.notifications
    wait = _quiet_hours_wait(cfg, tenant, msg, now)
    if wait is not None:
        return wait
    if msg.status == QUEUED and await _over_cap(uow.session, db, cfg, msg, now):
        return _finish(msg, CANCELLED, "recipient_cap", now)
    try:
        rendered = RUNTIME.templates(tenant).render(
            event=msg.event,
            locale=msg.locale or tenant.config.default_locale,
            kind=_kind(msg),
            context=dict(msg.data or {}),
        )
    except TemplateError as exc:
        log.error("notification.template_failed", message_id=str(msg.id), path=exc.path)
        return _finish(msg, FAILED, "template_error", now)
    # A missing secret raises ChannelConfigError: the outbox retries with backoff and
    # dead-letters it eventually, so an operator sees it (and can re-drive it after).
    channel = (await RUNTIME.channels(tenant, settings)).for_kind(_kind(msg))
    destination = msg.to_phone if msg.kind == "sms" else msg.to_email
    assert destination is not None
    outgoing = OutgoingMessage(
        kind=_kind(msg),
        to=destination,
        dedup_key=str(msg.id),
        text=rendered.text,
        subject=rendered.subject,
        html=rendered.html,
        tenant=tenant.code,
        event=msg.event,
        locale=rendered.locale,
    )
    if msg.attempts == 0:
        QUEUE_AGE.observe(max(0.0, (now - msg.due_at).total_seconds()))
    msg.status = SENDING
    msg.attempt_id = uuid7()
    msg.attempts += 1
    msg.last_attempt_at = now
    msg.channel = channel.name
    msg.updated_at = now
    return _Attempt(msg.id, msg.attempt_id, msg.attempts, msg.expires_at, channel, outgoing)


def _kind(msg: Message) -> Kind:
    return "sms" if msg.kind == "sms" else "email"


def _finish(msg: Message, status: str, reason: str, now: dt.datetime) -> str:
    msg.status = status
    msg.status_reason = reason
    msg.data = None  # the template data (a login code...) is kept no longer than needed
    msg.updated_at = now
    if status == CANCELLED:
        SKIPPED.labels(reason).inc()
    else:
        MESSAGES.labels("none", msg.kind, status).inc()
    log.info(
        "notification.finished",
        message_id=str(msg.id),
        event_type=msg.event,
        status=status,
        reason=reason,
    )
    return status


async def _verdict(
    uow: UnitOfWork, tenant: TenantInfo, msg: Message, now: dt.datetime
) -> str | None:
    """Why the message must not go out any more (a reason code), or None."""
    if msg.expires_at is not None and now >= msg.expires_at:
        return "expired"
    if msg.reason_type is not None and msg.reason_id is not None:
        check = relevance_check(msg.event)
        ref = MessageRef(
            id=msg.id,
            tenant_id=msg.tenant_id,
            event=msg.event,
            subject_id=msg.subject_id,
            reason_type=msg.reason_type,
            reason_id=msg.reason_id,
            due_at=msg.due_at,
        )
        if check is not None and not await check(uow, ref):
            return "no_longer_relevant"
    if msg.subject_id is None or msg.status != QUEUED:
        return None
    if not msg.essential:
        prefs = await read_preferences(
            uow.session, tenant_id=msg.tenant_id, subject_id=msg.subject_id
        )
        if prefs.opt_out_non_essential:
            return "opted_out"
    if has_contact_resolvers():
        return await _refresh_destination(uow, tenant, msg)
    return None


async def _refresh_destination(uow: UnitOfWork, tenant: TenantInfo, msg: Message) -> str | None:
    """Send to the person's current contact (it may have changed since queueing)."""
    assert msg.subject_id is not None
    contact = await resolve_contact(uow, tenant_id=msg.tenant_id, subject_id=msg.subject_id)
    raw = contact.for_kind(_kind(msg)) if contact is not None else None
    current = normalise_or_none(raw, _kind(msg), region=tenant.config.phone.default_region)
    if current is None:
        return "no_destination"
    if msg.kind == "sms" and msg.to_phone != current:
        msg.to_phone = current
    elif msg.kind == "email" and msg.to_email != current:
        msg.to_email = current
    return None


def _quiet_hours_wait(
    cfg: NotificationsConfig, tenant: TenantInfo, msg: Message, now: dt.datetime
) -> _Wait | None:
    quiet = cfg.quiet_hours
    if msg.urgent or quiet is None or not quiet.applies_to(msg.event):
        return None
    release = quiet.release_at(now, tenant_timezone=tenant.config.timezone)
    if release is None:
        return None
    # Due when the window ends: the queue-age metric measures lag, not the night.
    msg.due_at = release
    msg.updated_at = now
    return _Wait((release - now).total_seconds())


async def _over_cap(
    session: AsyncSession, db: Database, cfg: NotificationsConfig, msg: Message, now: dt.datetime
) -> bool:
    """Whether this destination already had its share of non-urgent messages."""
    caps = cfg.caps
    if msg.urgent or msg.event in caps.exempt_events:
        return False
    if caps.per_hour is None and caps.per_day is None:
        return False
    kind: Literal["phone", "email"]
    if msg.kind == "sms":
        column, own, kind, value = Message.to_phone_bidx, msg.to_phone_bidx, "phone", msg.to_phone
    else:
        column, own, kind, value = Message.to_email_bidx, msg.to_email_bidx, "email", msg.to_email
    if db.is_postgres and own is not None:
        # Two workers sending to one destination count one after the other (SQLite's
        # writer lock does the same there), so the cap is exact, not merely eventual.
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:k)"),
            {"k": int.from_bytes(own[2:10], "big", signed=True)},
        )
    match = await blind_match(session, column, tenant_id=msg.tenant_id, kind=kind, value=value)
    hour_ago = now - dt.timedelta(hours=1)
    since = now - dt.timedelta(days=1) if caps.per_day else hour_ago
    last_hour = func.count().filter(Message.last_attempt_at >= hour_ago)
    query = select(last_hour, func.count()).where(
        Message.tenant_id == msg.tenant_id,
        match,
        Message.last_attempt_at >= since,
        Message.status.in_((SENDING, SENT, DELIVERED)),
        Message.urgent.is_(False),
        Message.id != msg.id,
    )
    if caps.exempt_events:
        query = query.where(Message.event.not_in(caps.exempt_events))
    row: Any = (await session.execute(query)).one()
    in_hour, in_day = int(row[0]), int(row[1])
    return bool(
        (caps.per_hour is not None and in_hour >= caps.per_hour)
        or (caps.per_day is not None and in_day >= caps.per_day)
    )


async def _record(
    db: Database, settings: Settings, tenant_id: uuid.UUID, step: _Attempt, result: SendResult
) -> str:
    now = utcnow()
    values: dict[str, Any] = {"updated_at": now, "status_reason": result.reason}
    retry_in: float | None = None
    if result.outcome is Outcome.SENT:
        values.update(
            status=SENT,
            status_reason=None,
            provider_message_id=result.provider_message_id,
            sent_at=now,
            data_enc=None,
        )
    elif result.outcome is Outcome.PERMANENT or step.attempts >= settings.outbox_max_attempts:
        values.update(status=FAILED, data_enc=None)
    else:
        retry_in = (
            result.retry_after
            if result.retry_after is not None
            else backoff_seconds(
                step.attempts,
                base=settings.outbox_backoff_base_seconds,
                cap=settings.outbox_backoff_max_seconds,
            )
        )
        if step.expires_at is not None and now + dt.timedelta(seconds=retry_in) >= step.expires_at:
            values.update(status=CANCELLED, status_reason="expired", data_enc=None)
            retry_in = None
        else:
            values.update(status=QUEUED)
    ours = (
        Message.tenant_id == tenant_id,
        Message.id == step.message_id,
        Message.attempt_id == step.attempt_id,
    )
    async with db.transaction(tenant_id=tenant_id) as uow:
        result_rows: Any = await uow.session.execute(
            update(Message)
            .where(*ours, Message.status == SENDING)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result_rows.rowcount == 0 and result.outcome is Outcome.SENT:
            # The provider's delivery report beat us to it (it found the message by our
            # reference): keep its verdict, add what only the send knows.
            result_rows = await uow.session.execute(
                update(Message)
                .where(*ours, Message.status.in_((DELIVERED, FAILED)), Message.sent_at.is_(None))
                .values(sent_at=now, provider_message_id=result.provider_message_id)
                .execution_options(synchronize_session=False)
            )
            if result_rows.rowcount:
                MESSAGES.labels(step.channel.type, step.outgoing.kind, SENT).inc()
                return SENT
    status = str(values["status"])
    if result_rows.rowcount == 0:
        # Another attempt took the message over (our lease lapsed): its outcome stands.
        log.warning("notification.attempt_superseded", message_id=str(step.message_id))
        return SENDING
    outcome = "retry" if retry_in is not None else status
    MESSAGES.labels(step.channel.type, step.outgoing.kind, outcome).inc()
    if retry_in is not None:
        raise RetryLater(retry_in, f"provider: {result.reason}")
    return status
