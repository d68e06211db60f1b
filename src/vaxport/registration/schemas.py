"""Request and response models of the registration context.

Requests check shape only (types, lengths, no unknown fields); everything that depends on
the tenant (ID types and checksums, age limits, regions, phone numbering, languages) is
checked by :mod:`vaxport.registration.validation`, which reports every problem at once
with the same field paths (``documents.0.number``) as these models.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from pydantic import Field, StringConstraints

from vaxport.core.schemas import RequestModel, ResponseModel, example
from vaxport.registration.declared import MAX_DECLARED

NAME_MAX = 100
MAX_DOCUMENTS = 5

Name = Annotated[str, StringConstraints(min_length=1, max_length=NAME_MAX)]
ShortCode = Annotated[str, StringConstraints(min_length=1, max_length=64)]
IdNumber = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Phone = Annotated[str, StringConstraints(min_length=1, max_length=32)]
Email = Annotated[str, StringConstraints(min_length=3, max_length=254)]
Locale = Annotated[str, StringConstraints(min_length=2, max_length=16)]
Word = Annotated[str, StringConstraints(min_length=1, max_length=16)]
Reference = Annotated[str, StringConstraints(min_length=4, max_length=16)]
ClaimCode = Annotated[str, StringConstraints(min_length=4, max_length=32)]
# A code of the tenant's ``eligibility.risk_groups`` / ``occupations`` (checked against
# the tenant's list by validation; duplicates are folded).
AttributeCode = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Declared = Annotated[list[AttributeCode], Field(max_length=MAX_DECLARED)]


class DocumentIn(RequestModel):
    """One ID document: its type (a code of the tenant's ``id_types``) and number."""

    id_type: ShortCode
    number: IdNumber


class MemberIn(RequestModel):
    """A person to register (a family member, a walk-in, an imported row).

    ``birth_date`` is required unless the tenant registers birth years only
    (``registration.birth: year``), where ``birth_year`` is enough. ``risk_groups`` and
    ``occupations`` are codes of the tenant's ``eligibility`` lists (priority groups).
    """

    model_config = example(
        {
            "given_name": "Amina",
            "family_name": "Okafor",
            "sex": "female",
            "birth_date": "1984-03-12",
            "documents": [{"id_type": "national-id", "number": "850 412 307 9"}],
            "phone": "+1 613 555 0142",
            "region_code": "NOR-01-01",
            "preferred_locale": "en",
        }
    )

    given_name: Name
    family_name: Name | None = None
    sex: Word
    birth_date: dt.date | None = None
    birth_year: int | None = Field(default=None, ge=1800, le=2200)
    documents: list[DocumentIn] = Field(min_length=1, max_length=MAX_DOCUMENTS)
    phone: Phone | None = None
    email: Email | None = None
    region_code: ShortCode
    preferred_locale: Locale | None = None
    guardian_relation: Word | None = None
    risk_groups: Declared = Field(default_factory=list)
    occupations: Declared = Field(default_factory=list)


class WalkInIn(MemberIn):
    """A walk-in registered at a centre; ``facility_id`` only for staff not tied to one."""

    model_config = example(
        {
            "given_name": "Jonas",
            "family_name": "Okafor",
            "sex": "male",
            "birth_date": "2011-06-30",
            "documents": [{"id_type": "national-id", "number": "850 412 307 9"}],
            "region_code": "NOR-01-01",
            "guardian_relation": "parent",
        }
    )

    facility_id: uuid.UUID | None = None


class ContactProof(RequestModel):
    """The one-time code sent to a new phone or e-mail (``POST .../contact-codes``)."""

    transaction_id: uuid.UUID
    code: Annotated[str, StringConstraints(min_length=4, max_length=12)]


class ContactCodeIn(RequestModel):
    """Ask for a code to the new phone *or* e-mail a citizen wants for a person."""

    model_config = example({"email": "amina@example.org"})

    phone: Phone | None = None
    email: Email | None = None


class ContactCodeOut(ResponseModel):
    transaction_id: uuid.UUID


class MemberUpdate(RequestModel):
    """The fields a PATCH may change; absent fields stay as they are.

    Names, birth date and ID numbers change only through a correction request.
    ``risk_groups`` / ``occupations`` replace the declared set (``[]`` or ``null`` clears it).
    """

    model_config = example({"region_code": "NOR-01-02", "preferred_locale": "fr"})

    sex: Word | None = None
    region_code: ShortCode | None = None
    preferred_locale: Locale | None = None
    guardian_relation: Word | None = None
    phone: Phone | None = None
    email: Email | None = None
    risk_groups: Declared | None = None
    occupations: Declared | None = None
    # Proof of a citizen's contact change: the one-time code sent to the new destination.
    contact_code: ContactProof | None = None


class ClaimIn(RequestModel):
    """A citizen claiming a walk-in or imported record, in one of two ways.

    * the slip: ``id_type`` + ``number`` + ``code`` (the printed claim code);
    * the record's phone: ``transaction_id`` (from ``POST .../claims/codes``) + ``code``
      (the six digits sent to that phone).
    """

    model_config = example(
        {"id_type": "national-id", "number": "850 412 307 9", "code": "K7QF-2MXD"}
    )

    id_type: ShortCode | None = None
    number: IdNumber | None = None
    transaction_id: uuid.UUID | None = None
    code: ClaimCode


class ClaimCodeIn(RequestModel):
    """Ask for a claim code to the phone of the unclaimed record holding this document."""

    model_config = example({"id_type": "national-id", "number": "850 412 307 9"})

    id_type: ShortCode
    number: IdNumber


class DocumentOut(ResponseModel):
    id_type: str
    number: str


class MemberOut(ResponseModel):
    """A person as their manager or an authorized staff member sees them."""

    id: uuid.UUID
    reference: str
    status: str
    given_name: str
    family_name: str | None
    sex: str
    birth_date: dt.date | None
    birth_year: int
    documents: list[DocumentOut]
    phone: str | None
    email: str | None
    region_code: str
    facility_id: uuid.UUID | None
    preferred_locale: str | None
    guardian_relation: str | None
    risk_groups: list[str]
    occupations: list[str]
    created_via: str
    claimed: bool
    vaccinated: bool
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class CreatedMemberOut(MemberOut):
    """A new person; ``claim_code`` (shown only this once) when no account manages them."""

    claim_code: str | None = None


class WalkInOut(CreatedMemberOut):
    """A new walk-in, with the claim code to print on the slip (shown only this once)."""

    claim_code: str


class MemberPage(ResponseModel):
    items: list[MemberOut]
    next_cursor: str | None


class ListQuery(RequestModel):
    """Paging of a list: ``cursor`` from the previous page's ``next_cursor``."""

    cursor: Annotated[str, StringConstraints(max_length=64)] | None = None
    limit: int = Field(default=50, ge=1, le=100)


class SearchQuery(RequestModel):
    """Exactly one of: ``id_type`` + ``number``, ``phone``, ``reference``."""

    id_type: ShortCode | None = None
    number: IdNumber | None = None
    phone: Phone | None = None
    reference: Reference | None = None
