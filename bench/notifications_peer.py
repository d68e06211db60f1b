"""A minimal SMS gateway stand-in for the notifications throughput script (ASGI)."""

from __future__ import annotations

import itertools
from typing import Any

_ids = itertools.count(1)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        msg = await receive()
        more = msg.get("more_body", False)
    body = b'{"messages":[{"id":"gw-%d","status":"queued"}]}' % next(_ids)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})
