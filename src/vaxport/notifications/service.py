"""Use cases of the notifications context that need no dispatcher."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from vaxport.notifications.channels.console import console_outbox_path, read_console_outbox
from vaxport.settings import Settings


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
