"""Request and response models of corrections: ``PATCH .../doses/{dose_id}``, its void,
the two-person void's requests and the dose's revisions."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from vaxport.core.schemas import RequestModel, ResponseModel, example
from vaxport.immunization.schemas import Code, DoseOut, OverrideIn, Route, Site

Reason = Annotated[str, StringConstraints(min_length=3, max_length=500)]

# What a correction may change; what a revision's ``before`` holds (with status).
CORRECTABLE = (
    "product_id",
    "lot_number",
    "lot_id",
    "administered_at",
    "dose_number",
    "site",
    "route",
    "notes",
)
# Fields a correction may set to null (the rest need a value).
CLEARABLE = frozenset({"site", "route", "notes"})


class DoseCorrection(RequestModel):
    """What was recorded wrong, the dose's ``version`` as read, and (from a supervisor,
    required) why. Only the fields given change; ``site``, ``route`` and ``notes`` may be
    null to clear them. ``override`` as when recording, for a corrected dose the schedule
    would refuse for its timing or the person's age or group."""

    model_config = example({"version": 1, "lot_number": "EX1235", "reason": "wrong vial read"})

    version: int = Field(ge=1)
    reason: Reason | None = None
    product_id: Code | None = None
    lot_number: Code | None = None
    lot_id: uuid.UUID | None = None
    administered_at: AwareDatetime | None = None
    dose_number: int | None = Field(default=None, ge=1, le=50)
    site: Site | None = None
    route: Route | None = None
    notes: Annotated[str, StringConstraints(max_length=2000)] | None = None
    override: OverrideIn | None = None


class VoidIn(RequestModel):
    """Void the dose at ``version``: it was not given (or recorded for the wrong person)."""

    model_config = example({"version": 1, "reason": "recorded for the wrong person"})

    version: int = Field(ge=1)
    reason: Reason


class VoidRequestOut(ResponseModel):
    """A two-person void: asked by one, approved by another (``pending``, ``approved``,
    or ``superseded`` by a later request on a changed dose)."""

    id: uuid.UUID
    dose_id: uuid.UUID
    version: int
    status: str
    reason: str | None = None
    requested_by: uuid.UUID
    requested_at: dt.datetime
    approved_by: uuid.UUID | None
    approved_at: dt.datetime | None


class VoidOut(ResponseModel):
    """The answer to a void: ``voided`` (200, the dose as it is now), or
    ``approval-required`` (202: the dose has a certificate; ``request`` waits for another
    person with ``doses:void-approve``)."""

    outcome: Literal["voided", "approval-required"]
    dose: DoseOut
    request: VoidRequestOut | None = None


class RevisionOut(ResponseModel):
    """The dose as it was at ``version``, and the change that ended that version."""

    version: int
    action: str
    before: dict[str, Any]
    before_personal: dict[str, Any] | None = None
    reason: str | None = None
    changed_by: uuid.UUID | None
    approved_by: uuid.UUID | None
    changed_at: dt.datetime


class RevisionsOut(ResponseModel):
    """A dose's history: its current version and the versions before it, oldest first."""

    dose_id: uuid.UUID
    version: int
    status: str
    revisions: list[RevisionOut]
