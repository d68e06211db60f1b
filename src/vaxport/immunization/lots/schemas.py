"""Request and response shapes of the lots API."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from pydantic import Field, StringConstraints

from vaxport.core.schemas import RequestModel, ResponseModel, example

Cursor = Annotated[str, StringConstraints(min_length=1, max_length=128)]
# Checked again after normalising (trim, upper-case): see lots.writes.LOT_NUMBER.
LotNumber = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Reason = Annotated[str, StringConstraints(min_length=3, max_length=500)]
ProductId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class LotIn(RequestModel):
    """A lot to register; ``manufacturer`` defaults to the product's in the configuration."""

    model_config = example(
        {
            "product_id": "covid-mrna",
            "lot_number": "FH8020",
            "expires_on": "2027-06-30",
            "doses_per_vial": 6,
        }
    )

    product_id: ProductId
    lot_number: LotNumber
    manufacturer: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    expires_on: dt.date
    doses_per_vial: int | None = Field(default=None, ge=1, le=100)


class LotChange(RequestModel):
    """Hold or release a lot (with a reason), or correct its expiry or vial size.

    ``version`` is the lot's version as read: a lot changed since answers 409.
    """

    model_config = example({"version": 1, "on_hold": True, "reason": "Cold chain breach"})

    version: int = Field(ge=1)
    on_hold: bool | None = None
    reason: Reason | None = None
    expires_on: dt.date | None = None
    doses_per_vial: int | None = Field(default=None, ge=1, le=100)


class LotListQuery(RequestModel):
    """Filters of the lot list, and paging."""

    product_id: ProductId | None = None
    expiring_before: dt.date | None = None
    on_hold: bool | None = None
    flagged: bool | None = None
    cursor: Cursor | None = None
    limit: int = Field(default=50, ge=1, le=200)


class LotOut(ResponseModel):
    """A lot as the API shows it."""

    id: uuid.UUID
    product_id: str
    lot_number: str
    manufacturer: str
    expires_on: dt.date
    doses_per_vial: int | None
    on_hold: bool
    hold_reason: str | None
    flagged_at: dt.datetime | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class LotPage(ResponseModel):
    """One page of lots; ``next_cursor`` is null on the last page."""

    items: list[LotOut]
    next_cursor: str | None


class RecipientsQuery(RequestModel):
    """Paging of a lot's recipients."""

    cursor: Cursor | None = None
    limit: int = Field(default=50, ge=1, le=200)


class RecipientOut(ResponseModel):
    """A dose given from the lot: who received it, where and when (no other details)."""

    dose_id: uuid.UUID
    beneficiary_id: uuid.UUID
    dose_number: int
    administered_at: dt.datetime
    region_code: str
    facility_id: uuid.UUID | None


class RecipientPage(ResponseModel):
    """One page of a lot's recipients (doses still recorded, in the actor's reach)."""

    items: list[RecipientOut]
    next_cursor: str | None


class LotImportErrorOut(ResponseModel):
    """One problem of one row of an import."""

    row: int
    field: str
    reason: str


class LotImportSummary(ResponseModel):
    """What a lot import did; ``errors`` holds the first problems, the CSV report all."""

    rows: int
    created: int
    unchanged: int
    invalid: int
    error_count: int
    complete: bool
    errors: list[LotImportErrorOut]
