"""Response models of bulk imports (the upload itself is a CSV or XLSX body, not JSON)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from vaxport.core.schemas import ResponseModel


class ImportOut(ResponseModel):
    """An import's progress: rows read so far and what became of them."""

    id: uuid.UUID
    status: Literal["running", "done", "failed"]
    file_kind: Literal["csv", "xlsx"]
    region_code: str | None
    rows_read: int
    rows_created: int
    rows_existing: int
    rows_invalid: int
    created_at: dt.datetime
    finished_at: dt.datetime | None
