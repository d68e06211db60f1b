"""Request and response models of dose records: ``/api/v1/{tenant}/doses``."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from vaxport.core.schemas import RequestModel, ResponseModel, example

Route = Literal["IM", "SC", "ID", "PO", "IN"]  # models.ROUTES
Site = Literal["left-arm", "right-arm", "left-thigh", "right-thigh", "mouth", "nose", "other"]
Code = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class OverrideIn(RequestModel):
    """A dose given outside the schedule's interval on purpose, and why (kept encrypted)."""

    reason: Annotated[str, StringConstraints(min_length=3, max_length=500)]


class DoseFields(RequestModel):
    """What a dose record says besides whom it was given to (an offline sync names the
    person by id or by its walk-in record; :class:`DoseIn` by id)."""

    product_id: Code
    lot_number: Code | None = None
    lot_id: uuid.UUID | None = None
    dose_number: int | None = Field(default=None, ge=1, le=50)
    administered_at: AwareDatetime | None = None
    facility_id: uuid.UUID | None = None
    site: Site | None = None
    route: Route | None = None
    notes: Annotated[str, StringConstraints(max_length=2000)] | None = None
    appointment_id: uuid.UUID | None = None
    booking_code: Annotated[str, StringConstraints(min_length=4, max_length=32)] | None = None
    override: OverrideIn | None = None


class DoseIn(DoseFields):
    """A dose given: to whom, what (product and lot), which dose, when, where and how.

    ``dose_number`` defaults to the schedule's next; ``administered_at`` to now;
    ``facility_id`` to the vaccinator's own centre. Give the lot by ``lot_number`` (as
    printed) or ``lot_id``, and the appointment (if any) by ``appointment_id`` or
    ``booking_code``.
    """

    model_config = example(
        {
            "beneficiary_id": "0190b5d2-7c1e-7a4b-9f2e-3d4c5b6a7e8f",
            "product_id": "covid-mrna",
            "lot_number": "EX1234",
            "site": "left-arm",
            "route": "IM",
        }
    )

    beneficiary_id: uuid.UUID


class DoseOut(ResponseModel):
    """One dose record (notes and an override's reason only to staff who may read doses)."""

    id: uuid.UUID
    beneficiary_id: uuid.UUID
    product_id: str
    series: str
    dose_number: int
    lot_id: uuid.UUID | None
    lot_number: str | None = None
    administered_at: dt.datetime
    day: dt.date
    facility_id: uuid.UUID | None
    region_code: str
    vaccinator_id: uuid.UUID | None
    site: str | None
    route: str | None
    notes: str | None = None
    appointment_id: uuid.UUID | None
    overridden: bool
    override_reason: str | None = None
    status: str
    source: str
    version: int
    created_at: dt.datetime


class SeriesOut(ResponseModel):
    """Where the person stands for one disease: doses given, and the next dose's window
    (``earliest``/``latest``), or ``complete`` when no further dose is due."""

    series: str
    doses_given: int
    primary_complete: bool
    complete: bool
    next_dose_number: int | None
    next_earliest: dt.date | None
    next_latest: dt.date | None
    overdue: bool


class DoseHistoryOut(ResponseModel):
    """A person's recorded doses (oldest first, voided ones included) and their series."""

    beneficiary_id: uuid.UUID
    doses: list[DoseOut]
    series: list[SeriesOut]
