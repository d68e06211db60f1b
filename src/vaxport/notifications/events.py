"""Outbox events of the notifications context, and the hooks other contexts provide.

``notifications.send`` carries only a message id; its subscriber
``notifications.send-message`` (:func:`vaxport.notifications.sending.deliver`) reads the
message, re-checks that it should still go out, renders it and sends it.

Contexts that schedule messages about something (an appointment, a dose due) provide a
relevance check for their event, which the composition root installs at start-up: called
at send time in the sending transaction, it says whether the reason still holds, so a
reminder for an appointment cancelled after it was queued is not sent even if nobody
called ``cancel_for_reason``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from vaxport.core.db import UnitOfWork
from vaxport.core.outbox import Event, HandlerContext, Subscriber

SEND = "notifications.send"


@dataclass(frozen=True, slots=True)
class MessageRef:
    """What a relevance check learns about a message (no destination, no content)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    event: str
    subject_id: uuid.UUID | None
    reason_type: str
    reason_id: str
    due_at: dt.datetime


RelevanceCheck = Callable[[UnitOfWork, MessageRef], Awaitable[bool]]
_relevance: Mapping[str, RelevanceCheck] = MappingProxyType({})


def install_relevance_checks(checks: Mapping[str, RelevanceCheck]) -> None:
    """Ask ``checks[event]`` before sending any ``event`` message that names a reason.

    A check returns False when the reason no longer holds (the message is then
    cancelled); it runs in the sending transaction, scoped to the message's tenant.
    """
    global _relevance  # noqa: PLW0603 - one slot, filled by the composition root
    _relevance = MappingProxyType(dict(checks))


def relevance_check(event: str) -> RelevanceCheck | None:
    """The check installed for ``event``, if any."""
    return _relevance.get(event)


async def send_message(event: Event, ctx: HandlerContext) -> None:
    """Send one queued message (idempotent: a message already sent is left alone)."""
    from vaxport.notifications.sending import deliver

    if event.tenant_id is None:
        return  # messages always belong to a tenant; nothing to do for a malformed event
    await deliver(
        db=ctx.db,
        cache=ctx.cache,
        settings=ctx.settings,
        tenant_id=event.tenant_id,
        message_id=uuid.UUID(str(event.payload["message_id"])),
    )


SUBSCRIBERS: tuple[Subscriber, ...] = (
    Subscriber.each("notifications.send-message", (SEND,), send_message),
)
