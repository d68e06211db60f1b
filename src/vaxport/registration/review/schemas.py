"""Request and response models of the review API: corrections and possible duplicates."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from vaxport.core.schemas import RequestModel, ResponseModel, example
from vaxport.registration.review.correction_values import NOTE_MAX, REASON_MAX

Field_ = Literal["given_name", "family_name", "birth_date", "id_number"]
Value = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=REASON_MAX)]
Note = Annotated[str, StringConstraints(max_length=NOTE_MAX)]


class CorrectionIn(RequestModel):
    """Ask to correct one field of a person; ``id_type`` (and, for a person with several
    documents, ``document_id``) with an ID number."""

    model_config = example(
        {
            "field": "family_name",
            "value": "Okafor-Mensah",
            "reason": "Name changed at marriage; certificate shown at the centre.",
        }
    )

    field: Field_
    value: Value
    reason: Reason
    id_type: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    document_id: uuid.UUID | None = None


class DecisionIn(RequestModel):
    """An approver's note, kept with the decision (encrypted)."""

    model_config = example({"note": "Checked against the marriage certificate."})

    note: Note | None = None


class SurvivorIn(RequestModel):
    """The record that stays: the other one is merged into it."""

    model_config = example({"survivor_id": "01931e4a-7c2b-7d3e-9f10-2a3b4c5d6e7f"})

    survivor_id: uuid.UUID


class CorrectionOut(ResponseModel):
    """A request as the citizen (and its approvers) see it."""

    id: uuid.UUID
    beneficiary_id: uuid.UUID
    field: str
    status: str
    proposed: dict[str, Any]
    previous: dict[str, Any] | None
    reason: str
    decision_note: str | None
    created_at: dt.datetime
    decided_at: dt.datetime | None


class CorrectionList(ResponseModel):
    items: list[CorrectionOut]


class QueueItemOut(ResponseModel):
    """A pending request in the approvers' queue (no personal data: open it to decide)."""

    id: uuid.UUID
    beneficiary_id: uuid.UUID
    reference: str
    field: str
    region_code: str
    created_at: dt.datetime


class QueuePageOut(ResponseModel):
    """A page of the queue, oldest first; ``next_cursor`` None on the last."""

    items: list[QueueItemOut]
    next_cursor: str | None


class ReviewOut(ResponseModel):
    """What an approver needs to decide: who, the value now, the value asked for, why."""

    request: CorrectionOut
    reference: str
    given_name: str
    family_name: str | None
    present: dict[str, Any] | None
    # An ID-number request whose number another record holds: approval would be refused
    # (409); reject it, or review the two records as possible duplicates.
    held_elsewhere: bool = False


class FlagOut(ResponseModel):
    """A flag in the review queue (no personal data: open it to compare)."""

    id: uuid.UUID
    beneficiary_id: uuid.UUID
    candidate_id: uuid.UUID
    reason: str
    status: str
    region_code: str
    created_at: dt.datetime
    merge_id: uuid.UUID | None


class FlagPageOut(ResponseModel):
    """A page of flags, oldest first; ``next_cursor`` None on the last."""

    items: list[FlagOut]
    next_cursor: str | None


class DocumentCard(ResponseModel):
    """An ID document's type and the last characters of its number."""

    id_type: str
    number_hint: str


class CardOut(ResponseModel):
    """One record as staff compare it (ID numbers shown by their last characters only)."""

    id: uuid.UUID
    reference: str
    status: str
    given_name: str
    family_name: str | None
    birth_date: dt.date | None
    birth_year: int
    sex: str
    region_code: str
    created_via: str
    created_at: dt.datetime
    documents: list[DocumentCard] = Field(default_factory=list)


class ComparisonOut(ResponseModel):
    """A flag with both of its records side by side."""

    flag: FlagOut
    first: CardOut
    second: CardOut


class MergeOut(ResponseModel):
    """A merge (undone when ``undone_at`` is set)."""

    id: uuid.UUID
    survivor_id: uuid.UUID
    merged_id: uuid.UUID
    flag_id: uuid.UUID | None
    merged_at: dt.datetime
    undone_at: dt.datetime | None
