"""Use cases other contexts call: queue a message, send a login code, cancel by reason.

:func:`notify` is what other contexts call, inside their own unit of work: it writes the
message row and its outbox event in their transaction, so a message exists if and only
if the act that asked for it commits. The worker sends it later
(:mod:`vaxport.notifications.sending`). Support and operator use cases live in
:mod:`vaxport.notifications.support`.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from vaxport.core.clock import utcnow
from vaxport.core.crypto import blind_index
from vaxport.core.db import UnitOfWork
from vaxport.core.i18n import match as match_locale
from vaxport.core.ids import uuid7
from vaxport.core.logging import get_logger
from vaxport.core.outbox import emit
from vaxport.notifications.events import SEND, MessageRef, RelevanceCheck
from vaxport.notifications.models import CANCELLED, QUEUED, Message
from vaxport.notifications.preferences import read_preferences
from vaxport.notifications.recipients import (
    Contact,
    Kind,
    choose_kind,
    infer_kind,
    normalise,
    normalise_or_none,
    resolve_contact,
)
from vaxport.notifications.runtime import RUNTIME
from vaxport.notifications.templates import EVENTS, TemplateError, normalize_locale
from vaxport.tenancy.service import TenantInfo, get_tenant_in

# The front door: what other contexts may use (the rest of notifications is internal).
__all__ = [
    "Contact",
    "MessageRef",
    "RelevanceCheck",
    "cancel_for_reason",
    "message_locale",
    "notify",
    "read_preferences",
    "send_login_code",
]

log = get_logger("vaxport.notifications")

MAX_DATA_BYTES = 8192
_DEDUP_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
_REASON_TYPE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
_CODE = re.compile(r"^[A-Za-z0-9]{4,12}$")


async def notify(
    uow: UnitOfWork,
    *,
    tenant_id: uuid.UUID,
    event: str,
    to: str | uuid.UUID,
    kind: Kind | None = None,
    data: dict[str, Any] | None = None,
    locale: str | None = None,
    dedup_key: str | None = None,
    due_at: dt.datetime | None = None,
    urgent: bool = False,
    reason: tuple[str, str | uuid.UUID] | None = None,
    expires_at: dt.datetime | None = None,
    subject_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Queue a message about ``event`` in the caller's transaction; returns its id.

    ``to`` is a destination (phone or e-mail, checked and normalised: ValidationFailed on
    field ``to``) or a person's id, whose contact comes from the registered resolvers
    and whose preferred kind applies unless ``kind`` is given. ``dedup_key`` (default:
    event + recipient + kind) is unique per tenant: asking again returns the first
    message and sends nothing more; give one naming the occurrence (``reminder:<appt>``)
    for events that legitimately repeat. It is stored in clear: no personal data in it.
    ``due_at`` schedules it; ``urgent`` bypasses quiet hours and caps; ``reason`` (type,
    id) is what :func:`cancel_for_reason` and relevance checks refer to; ``expires_at``:
    not sent after that (a login code's validity).
    """
    spec = EVENTS.get(event)
    if spec is None:
        raise ValueError(f"unknown notification event {event!r}: declare it in MESSAGE_EVENTS")
    if uow.tenant_id != tenant_id:
        raise ValueError("notify needs a unit of work scoped to the message's tenant")
    if kind not in (None, "sms", "email"):
        raise ValueError("kind must be 'sms' or 'email'")
    for when in (due_at, expires_at):
        if when is not None and when.tzinfo is None:
            raise ValueError("due_at and expires_at must be timezone-aware")
    payload = _checked_data(data)
    reason_type, reason_id = _checked_reason(reason)
    session = uow.session
    tenant = await get_tenant_in(session=session, tenant_id=tenant_id)
    region = tenant.config.phone.default_region
    destination: str | None
    if isinstance(to, uuid.UUID):
        subject: uuid.UUID | None = to
        contact = await resolve_contact(uow, tenant_id=tenant_id, subject_id=to) or Contact()
        prefs = await read_preferences(session, tenant_id=tenant_id, subject_id=to)
        chosen = choose_kind(contact, requested=kind, preferred=prefs.preferred_kind)
        destination = normalise_or_none(contact.for_kind(chosen), chosen, region=region)
        locale = locale or contact.locale
    else:
        subject = subject_id
        chosen = kind or infer_kind(to)
        destination = normalise(to, chosen, region=region)
    locale = normalize_locale(locale)[:35] if locale else None
    _check_renders(tenant, event, chosen, locale, payload)
    key = dedup_key or await _default_key(
        session,
        tenant_id=tenant_id,
        event=event,
        kind=chosen,
        subject=subject,
        destination=destination,
    )
    if not _DEDUP_KEY.match(key):
        raise ValueError("dedup_key must be 1-200 printable ASCII characters, no spaces")
    now = utcnow()
    due = max(due_at or now, now)
    quiet = tenant.config.notifications.quiet_hours
    if not urgent and quiet is not None and quiet.applies_to(event):
        due = quiet.release_at(due, tenant_timezone=tenant.config.timezone) or due
    row: dict[str, Any] = {
        "id": uuid7(),
        "tenant_id": tenant_id,
        "event": event,
        "kind": chosen,
        "subject_id": subject,
        "to_phone" if chosen == "sms" else "to_email": destination,
        "data": payload if destination else None,
        "locale": locale,
        "dedup_key": key,
        "urgent": urgent,
        "essential": spec.essential,
        "reason_type": reason_type,
        "reason_id": reason_id,
        "status": QUEUED if destination else CANCELLED,
        "status_reason": None if destination else "no_destination",
        "attempts": 0,
        "created_at": now,
        "due_at": due,
        "expires_at": expires_at,
        "updated_at": now,
    }
    message_id = await _insert_once(session, row)
    if message_id is None:
        existing = await session.scalar(
            select(Message.id).where(Message.tenant_id == tenant_id, Message.dedup_key == key)
        )
        assert existing is not None
        return existing
    if destination:
        await emit(
            uow,
            SEND,
            {"message_id": str(message_id)},
            tenant_id=tenant_id,
            available_at=due if due > now else None,
        )
    log.info(
        "notification.queued",
        message_id=str(message_id),
        event_type=event,
        kind=chosen,
        urgent=urgent,
        scheduled=due > now,
        status=row["status"],
    )
    return message_id


async def message_locale(uow: UnitOfWork, *, tenant_id: uuid.UUID, subject_id: uuid.UUID) -> str:
    """The tenant language a message to person ``subject_id`` is written in.

    Their own language when the tenant has it (or the same language in another region),
    through the tenant's ``language_fallbacks``, else the tenant's default. A caller that
    formats values for the message (dates, a place's name) uses it and passes it to
    :func:`notify` as ``locale``, so the text and its values agree.
    """
    tenant = await get_tenant_in(session=uow.session, tenant_id=tenant_id)
    config = tenant.config
    contact = await resolve_contact(uow, tenant_id=tenant_id, subject_id=subject_id)
    wanted = contact.locale if contact is not None else None
    chosen = match_locale(wanted, config.locales) if wanted else None
    chosen = chosen or config.default_locale
    return config.fallbacks.get(chosen, chosen)


def _checked_data(data: dict[str, Any] | None) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise TypeError("notification data must be a dict")
    raw = orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)
    if len(raw) > MAX_DATA_BYTES:
        raise ValueError(f"notification data exceeds {MAX_DATA_BYTES} bytes")
    checked: dict[str, Any] = orjson.loads(raw)
    return checked


def _checked_reason(reason: tuple[str, str | uuid.UUID] | None) -> tuple[str | None, str | None]:
    if reason is None:
        return None, None
    reason_type, reason_id = reason[0], str(reason[1])
    if not _REASON_TYPE.match(reason_type) or not 0 < len(reason_id) <= 64:
        raise ValueError("reason is (type slug, id of at most 64 characters)")
    return reason_type, reason_id


def _check_renders(
    tenant: TenantInfo, event: str, kind: Kind, locale: str | None, data: dict[str, Any]
) -> None:
    # Fails in the caller's own tests when it forgets a variable, not at 3 a.m. in a worker.
    try:
        RUNTIME.templates(tenant).render(
            event=event,
            locale=locale or tenant.config.default_locale,
            kind=kind,
            context=data,
        )
    except TemplateError as exc:
        raise ValueError(f"{event} cannot be rendered with this data: {exc}") from None


async def _default_key(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    event: str,
    kind: Kind,
    subject: uuid.UUID | None,
    destination: str | None,
) -> str:
    if subject is not None:
        return f"{event}:{kind}:s:{subject}"
    assert destination is not None
    # A keyed hash, never the destination itself: the key is stored in clear.
    bidx = await blind_index(
        session,
        tenant_id=tenant_id,
        kind="phone" if kind == "sms" else "email",
        value=destination,
    )
    return f"{event}:{kind}:d:{bidx.hex()}"


async def _insert_once(session: AsyncSession, row: dict[str, Any]) -> uuid.UUID | None:
    """Insert ``row`` unless its dedup key exists; the new id or None (race-safe)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    # An ORM bulk insert, so the crypto layer seals the personal fields of the row.
    stmt = (
        insert(Message)
        .on_conflict_do_nothing(index_elements=["tenant_id", "dedup_key"])
        .returning(Message.id)
    )
    inserted: uuid.UUID | None = (await session.execute(stmt, [row])).scalar_one_or_none()
    return inserted


async def send_login_code(
    uow: UnitOfWork,
    *,
    tenant_id: uuid.UUID,
    destination: str,
    kind: Kind,
    code: str,
    locale: str | None,
    minutes: int,
) -> uuid.UUID:
    """Queue a one-time login code: urgent (no quiet hours, no caps), essential, and not
    sent any more once it has expired."""
    if not _CODE.match(code):
        raise ValueError("a login code is 4-12 letters or digits")
    if not 1 <= minutes <= 1440:
        raise ValueError("minutes must be between 1 and 1440")
    return await notify(
        uow,
        tenant_id=tenant_id,
        event="login_code",
        to=destination,
        kind=kind,
        data={"code": code, "minutes": minutes},
        locale=locale,
        dedup_key=f"login_code:{uuid7()}",
        urgent=True,
        expires_at=utcnow() + dt.timedelta(minutes=minutes),
    )


async def send_recovery_notice(
    uow: UnitOfWork,
    *,
    tenant_id: uuid.UUID,
    destination: str,
    kind: Kind,
    undo_url: str,
    undo_code: str,
    hold_hours: int,
    locale: str | None,
    recovery_id: uuid.UUID,
) -> uuid.UUID:
    """Tell an account's old phone or e-mail that it moved to a new phone, with the undo:
    urgent (no quiet hours, no caps) and essential (sent despite an opt-out)."""
    return await notify(
        uow,
        tenant_id=tenant_id,
        event="account_recovered",
        to=destination,
        kind=kind,
        data={"undo_url": undo_url, "undo_code": undo_code, "hold_hours": hold_hours},
        locale=locale,
        dedup_key=f"account_recovered:{recovery_id}:{kind}",
        urgent=True,
    )


async def send_staff_invitation(
    uow: UnitOfWork,
    *,
    tenant_id: uuid.UUID,
    destination: str,
    activation_url: str,
    username: str,
    expires_at: dt.datetime,
    reset: bool,
    account_id: uuid.UUID,
) -> uuid.UUID:
    """E-mail a staff member the link that sets their password: urgent, essential, and
    not sent once the link has expired. Each link is its own message (a reset re-sends)."""
    return await notify(
        uow,
        tenant_id=tenant_id,
        event="staff_invitation",
        to=destination,
        kind="email",
        data={
            "activation_url": activation_url,
            "username": username,
            "expires": expires_at.strftime("%Y-%m-%d %H:%M"),
            "reset": reset,
        },
        dedup_key=f"staff_invitation:{account_id}:{uuid7()}",
        urgent=True,
        expires_at=expires_at,
    )


async def cancel_for_reason(
    uow: UnitOfWork,
    *,
    tenant_id: uuid.UUID,
    reason_type: str,
    reason_id: str | uuid.UUID,
    keep_dedup_key: str | None = None,
) -> int:
    """Cancel the messages still waiting about (type, id); how many were cancelled.

    ``keep_dedup_key``: the one about to be (re)queued under that key stays, so a
    redelivered event does not withdraw its own message. A message already being sent
    cannot be called back; it goes out.
    """
    if uow.tenant_id != tenant_id:
        raise ValueError("cancel_for_reason needs a unit of work scoped to the tenant")
    now = utcnow()
    result: Any = await uow.session.execute(
        update(Message)
        .where(
            Message.tenant_id == tenant_id,
            Message.reason_type == reason_type,
            Message.reason_id == str(reason_id),
            Message.status == QUEUED,
            *(() if keep_dedup_key is None else (Message.dedup_key != keep_dedup_key,)),
        )
        .values(status=CANCELLED, status_reason="withdrawn", data_enc=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)
