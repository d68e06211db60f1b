"""Request and response shapes of adverse event reports."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from vaxport.core.schemas import RequestModel, ResponseModel, example

Criterion = Literal[
    "death",
    "life-threatening",
    "hospitalisation",
    "disability",
    "congenital-anomaly",
    "medically-important",
]
Outcome = Literal[
    "recovered",
    "recovering",
    "not-recovered",
    "recovered-with-sequelae",
    "fatal",
    "unknown",
]
Status = Literal["reported", "triaged", "closed"]
SymptomCode = Annotated[str, StringConstraints(min_length=1, max_length=32)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=4000)]
Cursor = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class AefiIn(RequestModel):
    """An adverse event after a dose: coded symptoms, onset, seriousness, outcome.

    ``serious`` is true exactly when at least one WHO criterion is named. Staff name the
    dose (``dose_id``, required); a citizen may name one of their member's doses.
    """

    model_config = example(
        {
            "dose_id": "0190f7a2-8a5c-7c3e-9f1a-2b3c4d5e6f70",
            "symptoms": ["10037660", "10019211"],
            "onset_at": "2026-12-07T18:30:00Z",
            "serious": False,
            "outcome": "recovering",
        }
    )

    dose_id: uuid.UUID | None = None
    symptoms: list[SymptomCode] = Field(min_length=1, max_length=30)
    onset_at: AwareDatetime
    serious: bool = False
    criteria: list[Criterion] = Field(default_factory=list, max_length=6)
    outcome: Outcome = "unknown"
    narrative: Text | None = None


class TriageIn(RequestModel):
    """Staff's assessment: seriousness, outcome and a note; ``close`` ends the report.

    ``version`` is the report's version as read: a report changed since answers 409.
    """

    model_config = example(
        {"version": 1, "serious": True, "criteria": ["hospitalisation"], "outcome": "recovering"}
    )

    version: int = Field(ge=1)
    serious: bool | None = None
    criteria: list[Criterion] | None = Field(default=None, max_length=6)
    outcome: Outcome | None = None
    note: Text | None = None
    close: bool = False


class AefiListQuery(RequestModel):
    """Filters of the staff list, and paging."""

    lot_id: uuid.UUID | None = None
    beneficiary_id: uuid.UUID | None = None
    status: Status | None = None
    serious: bool | None = None
    cursor: Cursor | None = None
    limit: int = Field(default=50, ge=1, le=200)


class AefiSummary(ResponseModel):
    """A report in a list: no symptoms, no narrative (open it to read them)."""

    id: uuid.UUID
    beneficiary_id: uuid.UUID
    dose_id: uuid.UUID | None
    lot_id: uuid.UUID | None
    product_id: str | None
    region_code: str
    facility_id: uuid.UUID | None
    reporter_kind: str
    onset_at: dt.datetime
    serious: bool
    criteria: list[str]
    outcome: str
    status: str
    version: int
    created_at: dt.datetime


class AefiOut(AefiSummary):
    """A report in full (health data: read in reach, audited for staff)."""

    symptoms: list[str]
    narrative: str | None
    triage_note: str | None
    triaged_at: dt.datetime | None


class AefiPage(ResponseModel):
    """One page of reports; ``next_cursor`` is null on the last page."""

    items: list[AefiSummary]
    next_cursor: str | None
