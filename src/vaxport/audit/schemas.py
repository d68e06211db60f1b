"""Request and response models of the audit API."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import AwareDatetime, Field

from vaxport.core.schemas import RequestModel, ResponseModel

_SLUG = r"^[a-z][a-z0-9_.:-]{0,63}$"


class AuditQuery(RequestModel):
    """Filters and paging of ``GET /api/v1/{tenant}/audit`` (unknown parameters: 422)."""

    actor_id: uuid.UUID | None = None
    object_type: str | None = Field(default=None, pattern=_SLUG)
    object_id: str | None = Field(default=None, min_length=1, max_length=128)
    action: str | None = Field(default=None, pattern=_SLUG)
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    cursor: str | None = Field(default=None, min_length=1, max_length=256)
    limit: int = Field(default=50, ge=1, le=200)


class AuditEntryOut(ResponseModel):
    """One audit entry."""

    id: uuid.UUID
    occurred_at: dt.datetime
    actor_id: uuid.UUID | None
    actor_role: str
    action: str
    object_type: str
    object_id: str | None
    outcome: str
    request_id: str | None
    client_ip_hash: str | None
    details: dict[str, Any]
    entry_hash: str
    chain_position: int | None


class AuditPageOut(ResponseModel):
    """A page of entries, newest first; pass ``next_cursor`` back as ``cursor``."""

    items: list[AuditEntryOut]
    next_cursor: str | None
