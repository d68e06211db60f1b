"""The development channel: a banner on stdout and a JSON line in a local file.

It lets someone trying the demo read their login code without any provider. The banner
goes straight to the terminal, outside the structured log (which never carries codes
or destinations); the file (``VAXPORT_CONSOLE_OUTBOX``, default
``<data_dir>/console-outbox.jsonl``, mode 0600) feeds the development-only
``/dev/messages`` page. Refused in production.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, TextIO

import orjson

from vaxport.core.clock import utcnow
from vaxport.core.ids import uuid7
from vaxport.notifications.channels.base import Channel, OutgoingMessage, SendResult
from vaxport.settings import Settings
from vaxport.tenancy.service import ConsoleOptions

_WRITE_LOCK = threading.Lock()
_REMEMBERED = 10_000
_TAIL_BLOCK = 64 * 1024


def console_outbox_path(settings: Settings) -> Path:
    """Where console messages are appended."""
    return settings.console_outbox or settings.data_dir / "console-outbox.jsonl"


def _append(path: Path, line: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with _WRITE_LOCK:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


def banner(entry: dict[str, Any]) -> str:
    """The terminal rendering of one message."""
    rule = "=" * 64
    lines = [
        "",
        rule,
        f" vaxport {entry['kind']} via console channel '{entry['channel']}'",
        f" to:      {entry['to']}",
        f" event:   {entry['event']} ({entry['locale']})   tenant: {entry['tenant']}",
    ]
    if entry.get("subject"):
        lines.append(f" subject: {entry['subject']}")
    lines += ["-" * 64, *(" " + x for x in str(entry["text"]).splitlines()), rule, ""]
    return "\n".join(lines) + "\n"


class ConsoleChannel(Channel):
    """Prints and records messages locally (the embedded default)."""

    type = "console"
    kinds = frozenset({"sms", "email"})

    def __init__(
        self,
        name: str,
        options: ConsoleOptions,
        *,
        outbox: Path,
        stream: TextIO | None = None,
    ) -> None:
        super().__init__(name)
        self.options = options
        self.outbox = outbox
        self._stream = stream
        # Honours dedup keys like an idempotent provider would, within this process.
        self._seen: OrderedDict[str, str] = OrderedDict()

    async def _send(self, message: OutgoingMessage) -> SendResult:
        seen = self._seen.get(message.dedup_key)
        if seen is not None:
            return SendResult.sent(seen, provider_status="duplicate")
        message_id = f"console-{uuid7()}"
        entry: dict[str, Any] = {
            "id": message_id,
            "at": utcnow().isoformat(),
            "channel": self.name,
            "kind": message.kind,
            "tenant": message.tenant,
            "event": message.event,
            "locale": message.locale,
            "to": message.to,
            "subject": message.subject,
            "text": message.text,
            "html": message.html,
            "dedup_key": message.dedup_key,
        }
        await asyncio.to_thread(_append, self.outbox, orjson.dumps(entry) + b"\n")
        if self.options.banner:
            stream = self._stream or sys.stdout
            stream.write(banner(entry))
            stream.flush()
        self._seen[message.dedup_key] = message_id
        if len(self._seen) > _REMEMBERED:
            self._seen.popitem(last=False)
        return SendResult.sent(message_id)


def read_console_outbox(path: Path, *, limit: int = 50) -> list[dict[str, Any]]:
    """The last ``limit`` recorded messages, newest first (reads only the file's tail)."""
    if limit <= 0 or not path.is_file():
        return []
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        end = fh.tell()
        data = b""
        pos = end
        while pos > 0 and data.count(b"\n") <= limit:
            step = min(_TAIL_BLOCK, pos)
            pos -= step
            fh.seek(pos)
            data = fh.read(step) + data
    lines = data.split(b"\n")
    if pos > 0:
        lines = lines[1:]  # the first line is cut in the middle
    out: list[dict[str, Any]] = []
    for raw in reversed(lines):
        if not raw.strip():
            continue
        try:
            item = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue  # a line being written right now, or damage: skip it
        if isinstance(item, dict):
            out.append(item)
        if len(out) >= limit:
            break
    return out
