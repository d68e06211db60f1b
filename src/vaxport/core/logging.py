"""Structured logging (structlog): JSON lines carrying the request id.

Every line goes through the same processor chain, stdlib records included, so that
cross-cutting processors (request id, personal-data scrubbing) see every event.
"""

from __future__ import annotations

import contextvars
import logging
import sys
from typing import IO, Any

import structlog

from vaxport.core.scrub import scrub_event

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "vaxport_request_id", default=None
)


def _add_request_id(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    rid = request_id_var.get()
    if rid is not None:
        event.setdefault("request_id", rid)
    return event


def configure_logging(
    *, level: str = "INFO", json: bool = True, stream: IO[str] | None = None
) -> None:
    """Configure structlog and the stdlib root logger to emit one JSON object per line."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        _add_request_id,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        # Last before rendering: sees the formatted traceback and every stdlib record.
        scrub_event,
    ]
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request URL at INFO; provider URLs can carry destinations.
    for noisy in ("uvicorn.access", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str | None = None) -> Any:
    """A structlog logger bound to ``name``."""
    return structlog.get_logger(name)
