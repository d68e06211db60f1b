"""A handler module as a context would write one (imported by load_handlers in a test)."""

from __future__ import annotations

from vaxport.core.outbox import Event, HandlerContext, handler


@handler("example.thing_happened")
async def on_thing(event: Event, ctx: HandlerContext) -> None:
    return None
