"""The innermost layer of the stack: exceptions to answers, and FastAPI's file stack.

Starlette's ``ExceptionMiddleware`` (handlers -> answers, here problem+json) and FastAPI's
``AsyncExitStackMiddleware`` (closes a form's uploaded files) each cost every request a
coroutine, and the first a ``Request``, a closure and a ``send`` wrapper besides. This is
both in one: the same handler look-up and the same "response already started" rule as
Starlette's ``wrap_app_handling_exceptions``; the file stack is closed only when a route
pushed onto it (FastAPI's own handler reading a form), before the handler runs, as the
exit stack inside the exception layer did. Websockets keep Starlette's own layers.

It relies on the ``fastapi_middleware_astack`` scope key and on ``AsyncExitStack``'s
``_exit_callbacks``: ``tests/core/test_framework_internals.py`` fails naming this file when
an upgrade changes either.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AsyncExitStack
from typing import Any

from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
from starlette._utils import is_async_callable
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FILE_STACK = "fastapi_middleware_astack"


class HandledExceptionsMiddleware:
    """See the module docstring; ``handlers`` as for Starlette's ``ExceptionMiddleware``."""

    def __init__(self, app: ASGIApp, *, handlers: Mapping[Any, Any], debug: bool = False) -> None:
        self.app = app
        # Starlette's layer builds the handler tables (its own HTTPException default
        # included) and serves every scope that is not plain HTTP.
        self.other = ExceptionMiddleware(
            AsyncExitStackMiddleware(app), handlers=handlers, debug=debug
        )
        self.by_class: dict[Any, Any] = self.other._exception_handlers
        self.by_status: dict[int, Any] = self.other._status_handlers
        self.tables = (self.by_class, self.by_status)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.other(scope, receive, send)
            return
        scope["starlette.exception_handlers"] = self.tables  # read by FastAPI's handlers
        files = AsyncExitStack()
        scope[FILE_STACK] = files
        started = False

        async def sender(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            try:
                await self.app(scope, receive, sender)
            finally:
                if files._exit_callbacks:  # type: ignore[attr-defined]  # a form was read: close its files
                    await files.aclose()
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            if started:
                raise RuntimeError(
                    "Caught handled exception, but response already started."
                ) from exc
            request = Request(scope, receive, send)
            if is_async_callable(handler):
                response = await handler(request, exc)
            else:
                response = await run_in_threadpool(handler, request, exc)
            if response is not None:
                await response(scope, receive, sender)
            # Reused exception instances accumulate tracebacks across requests.
            exc.__traceback__ = None

    def _handler(self, exc: Exception) -> Any:
        if isinstance(exc, HTTPException):
            handler = self.by_status.get(exc.status_code)
            if handler is not None:
                return handler
        for cls in type(exc).__mro__:
            if cls in self.by_class:
                return self.by_class[cls]
        return None
