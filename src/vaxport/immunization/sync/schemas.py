"""Request and response models of offline sync: ``/api/v1/{tenant}/sync/...``.

A batch is read record by record (one bad record is answered alone, never failing the
batch): the envelope is checked first, then each record against :data:`SyncRecord`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, StringConstraints, TypeAdapter

from vaxport.core.schemas import RequestModel, ResponseModel, example
from vaxport.immunization.schemas import DoseFields
from vaxport.registration.service import WalkInIn

MAX_RECORDS = 5_000
DeviceId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Outcome = Literal["accepted", "duplicate", "rejected", "conflict"]
Resolution = Literal["keep-existing", "record-as-next", "discard"]


class WalkInRecord(RequestModel):
    """A person registered on the device; ``client_id`` becomes their id."""

    kind: Literal["walk_in"]
    client_id: uuid.UUID
    device_time: AwareDatetime
    person: WalkInIn


class DoseRecord(DoseFields):
    """A dose recorded on the device, for a registered person (``beneficiary_id``) or a
    walk-in of the same batch (``person_client_id``); ``client_id`` becomes its id."""

    kind: Literal["dose"]
    client_id: uuid.UUID
    device_time: AwareDatetime
    beneficiary_id: uuid.UUID | None = None
    person_client_id: uuid.UUID | None = None


SyncRecord = Annotated[WalkInRecord | DoseRecord, Field(discriminator="kind")]
RECORD: TypeAdapter[WalkInRecord | DoseRecord] = TypeAdapter(SyncRecord)


class SyncEnvelope(RequestModel):
    """The batch as first read: its records are checked one by one afterwards."""

    device_id: DeviceId
    records: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_RECORDS)


class SyncBatchIn(RequestModel):
    """What a device sends (the documented shape of the body; see :class:`SyncEnvelope`)."""

    model_config = example(
        {
            "device_id": "tablet-hc1-03",
            "records": [
                {
                    "kind": "walk_in",
                    "client_id": "5b0c7c1e-2f7a-4a3e-9d51-0d9f1f3c2a11",
                    "device_time": "2026-12-07T09:14:00+01:00",
                    "person": {
                        "given_name": "Jonas",
                        "family_name": "Okafor",
                        "sex": "male",
                        "birth_date": "1985-06-30",
                        "documents": [{"id_type": "national-id", "number": "850 630 117 2"}],
                        "region_code": "NOR-01-01",
                    },
                },
                {
                    "kind": "dose",
                    "client_id": "9e4f3a2b-1c0d-4e5f-8a7b-6c5d4e3f2a10",
                    "device_time": "2026-12-07T09:20:00+01:00",
                    "person_client_id": "5b0c7c1e-2f7a-4a3e-9d51-0d9f1f3c2a11",
                    "product_id": "covid-mrna",
                    "lot_number": "EX1234",
                    "administered_at": "2026-12-07T09:18:00+01:00",
                    "site": "left-arm",
                    "route": "IM",
                },
            ],
        }
    )

    device_id: DeviceId
    records: list[SyncRecord] = Field(min_length=1, max_length=MAX_RECORDS)


class RecordError(ResponseModel):
    """Why a record was not applied: the problem's type, the field and the reason."""

    type: str
    status: int
    code: str
    field: str
    reason: str


class RecordResult(ResponseModel):
    """The answer for one record, in the order sent.

    ``accepted``: written now (``id``: the person's or the dose's, the record's
    ``client_id``); ``duplicate``: written by an earlier upload; ``rejected``: not
    written (``error``); ``conflict``: the dose was recorded meanwhile (``existing_id``)
    and the record waits for review (``conflict_id``).
    """

    index: int
    client_id: uuid.UUID | None
    kind: str | None
    outcome: Outcome
    id: uuid.UUID | None = None
    beneficiary_id: uuid.UUID | None = None
    dose_number: int | None = None
    existing_id: uuid.UUID | None = None
    conflict_id: uuid.UUID | None = None
    error: RecordError | None = None


class SyncBatchOut(ResponseModel):
    """Per record, its outcome; and how many of each."""

    device_id: str
    counts: dict[str, int]
    results: list[RecordResult]


class ConflictOut(ResponseModel):
    """A synced dose waiting beside the dose recorded meanwhile (or resolved)."""

    id: uuid.UUID
    client_id: uuid.UUID
    device_id: str
    submitted_by: uuid.UUID | None
    beneficiary_id: uuid.UUID
    existing_dose_id: uuid.UUID
    product_id: str
    series: str
    dose_number: int
    administered_at: dt.datetime
    device_recorded_at: dt.datetime
    region_code: str
    facility_id: uuid.UUID | None
    status: str
    resolution: str | None
    resolved_by: uuid.UUID | None
    resolved_at: dt.datetime | None
    resolved_dose_id: uuid.UUID | None
    version: int
    created_at: dt.datetime


class ConflictPage(ResponseModel):
    items: list[ConflictOut]
    next_cursor: str | None


class ConflictListQuery(RequestModel):
    """``status`` (default ``open``), cursor paging."""

    status: Literal["open", "resolved"] = "open"
    cursor: Annotated[str, StringConstraints(max_length=64)] | None = None
    limit: int = Field(default=50, ge=1, le=200)


class ResolveIn(RequestModel):
    """How the review settles a conflict, and why (kept encrypted, audited by action).

    ``record-as-next`` records the device's dose as the person's next dose, checked like
    any recording; ``override: true`` records it past an interval or age rule, the reason
    then being the override's."""

    model_config = example({"action": "keep-existing", "reason": "same dose entered twice"})

    action: Resolution
    reason: Annotated[str, StringConstraints(min_length=3, max_length=500)]
    override: bool = False
