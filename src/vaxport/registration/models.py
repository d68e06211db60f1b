"""Registration tables: beneficiaries (the people doses hang on), their ID documents,
possible-duplicate flags, reversible merges, correction requests and bulk imports.

Every personal field is encrypted under the person's own subject key (``subject=``), so
erasing a never-vaccinated person destroys that key and no restored backup can bring
them back (crypto-shredding). ID numbers, phones and e-mails carry blind indexes; the
unique constraint on ``(tenant_id, id_type, number_bidx)`` is what makes "one person per
ID document per tenant" race-safe.

A merge never moves rows: the merged record points at its survivor (``merged_into_id``)
and lookups follow the pointer, so undoing a merge is clearing that pointer.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from vaxport.core.clock import utcnow
from vaxport.core.crypto import encrypted
from vaxport.core.crypto.fields import BlindIndexBytes
from vaxport.core.db import Base
from vaxport.core.ids import uuid7
from vaxport.registration.declared import codes_of, declared_value

SEXES = ("female", "male", "other", "unknown")
CREATED_VIA = ("self", "walk_in", "import", "staff")
STATUS_ACTIVE = "active"
STATUS_MERGED = "merged"
CORRECTABLE_FIELDS = ("given_name", "family_name", "birth_date", "id_number")


class Beneficiary(Base):
    """A person of one tenant who may be vaccinated.

    ``account_id`` is the citizen account that manages the record (a family member's
    record is managed by the account holder); walk-ins and imported people have none
    until a citizen claims them with their ID and a one-time code. ``facility_id`` is the
    centre that registered a walk-in (facility staff reach the people of their centre);
    ``region_code`` is where the person lives (region staff reach their subtree).
    ``match`` is the normalised ``family|given|birth date`` (encrypted, blind-indexed):
    equal values flag possible duplicates for staff review, never a silent merge.
    ``vaccinated_at`` is set when the immunization context reports a first dose; a person
    with it set is kept per the tenant's retention rule instead of being erasable.
    ``reference`` is the short code printed on the person's slip and read at the centre.
    """

    __tablename__ = "beneficiaries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "reference"),
        Index("ix_beneficiaries_tenant_id_account_id", "tenant_id", "account_id"),
        Index("ix_beneficiaries_tenant_id_region_code", "tenant_id", "region_code"),
        Index("ix_beneficiaries_tenant_id_facility_id", "tenant_id", "facility_id"),
        Index("ix_beneficiaries_tenant_id_phone_bidx", "tenant_id", "phone_bidx"),
        Index("ix_beneficiaries_tenant_id_email_bidx", "tenant_id", "email_bidx"),
        # The look-alike lookup's: its equality columns first, then the window's order,
        # active only (``intake._lookalike_query``): no statistics make another look better.
        Index(
            "ix_beneficiaries_lookalike",
            "tenant_id",
            "match_bidx",
            "region_code",
            "id",
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
        # The records merged into a person (``vaccination.with_merged``, read with every
        # dose's history): merged ones only, a small index.
        Index(
            "ix_beneficiaries_merged_into",
            "tenant_id",
            "merged_into_id",
            postgresql_where=text("status = 'merged'"),
            sqlite_where=text("status = 'merged'"),
        ),
        CheckConstraint("sex IN ('female', 'male', 'other', 'unknown')", name="sex_known"),
        CheckConstraint("status IN ('active', 'merged')", name="status_known"),
        CheckConstraint(
            "created_via IN ('self', 'walk_in', 'import', 'staff')", name="created_via_known"
        ),
        CheckConstraint(
            "(status = 'merged') = (merged_into_id IS NOT NULL)", name="merged_has_survivor"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    # Points at accounts.id (the identity context owns it; no FK across contexts).
    account_id: Mapped[uuid.UUID | None] = mapped_column()
    reference: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=STATUS_ACTIVE)
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("beneficiaries.id"))
    given_name = encrypted("text", subject="id", nullable=False)
    family_name = encrypted("text", subject="id")
    # The exact birth date when the tenant asks for one; ``birth_year`` always (age rules,
    # age bands in reports) and is the only birth field when the tenant asks for a year.
    birth_date = encrypted("date", subject="id")
    birth_year: Mapped[int] = mapped_column(Integer)
    sex: Mapped[str] = mapped_column(String(8))
    phone = encrypted("phone", index=True, subject="id")
    email = encrypted("email", index=True, subject="id")
    match = encrypted("text", index=True, subject="id")
    # The code printed on the slip of a person registered without an account (walk-in,
    # staff, import): with an ID number it lets a citizen claim the record. Only its
    # blind index is compared; cleared once claimed.
    claim_code = encrypted("text", index=True, subject="id")
    # The risk groups and occupations the person declared (health data), both sets in
    # one padded value (``declared.py``); read and set through the properties below.
    declared = encrypted("json", subject="id")
    # encrypted() adds the blind-index columns; declared here too for type checkers.
    phone_bidx: Mapped[bytes | None] = mapped_column(BlindIndexBytes())
    email_bidx: Mapped[bytes | None] = mapped_column(BlindIndexBytes())
    match_bidx: Mapped[bytes | None] = mapped_column(BlindIndexBytes())
    claim_code_bidx: Mapped[bytes | None] = mapped_column(BlindIndexBytes())
    region_code: Mapped[str] = mapped_column(String(64))
    # Points at facilities.id (no FK across contexts).
    facility_id: Mapped[uuid.UUID | None] = mapped_column()
    preferred_locale: Mapped[str | None] = mapped_column(String(16))
    # For a minor managed by the account holder: parent | guardian | other.
    guardian_relation: Mapped[str | None] = mapped_column(String(16))
    created_via: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[uuid.UUID | None] = mapped_column()
    vaccinated_at: Mapped[dt.datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def risk_groups(self) -> tuple[str, ...]:
        """The declared risk groups (tenant codes, in the tenant's order)."""
        return codes_of(self.declared, "risk_groups")

    @risk_groups.setter
    def risk_groups(self, codes: tuple[str, ...]) -> None:
        self.declared = declared_value(codes, self.occupations)

    @property
    def occupations(self) -> tuple[str, ...]:
        """The declared occupations (tenant codes, in the tenant's order)."""
        return codes_of(self.declared, "occupations")

    @occupations.setter
    def occupations(self, codes: tuple[str, ...]) -> None:
        self.declared = declared_value(self.risk_groups, codes)


class BeneficiaryDocument(Base):
    """One ID document of a person; the unique blind index is the de-duplication wall."""

    __tablename__ = "beneficiary_documents"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id_type", "number_bidx"),
        Index("ix_beneficiary_documents_beneficiary_id", "beneficiary_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    beneficiary_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE")
    )
    id_type: Mapped[str] = mapped_column(String(32))
    # The normalised number (the tenant's normalise rules applied, then validated).
    number = encrypted("id_number", index=True, subject="beneficiary_id", nullable=False)
    number_bidx: Mapped[bytes | None] = mapped_column(BlindIndexBytes())
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DuplicateFlag(Base):
    """Two records that may be one person (same name, birth date and region), for review."""

    __tablename__ = "beneficiary_duplicate_flags"
    __table_args__ = (
        UniqueConstraint("tenant_id", "beneficiary_id", "candidate_id"),
        Index("ix_beneficiary_duplicate_flags_tenant_id_status", "tenant_id", "status"),
        CheckConstraint("status IN ('open', 'merged', 'dismissed')", name="status_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    # The newer record, and the older one it resembles.
    beneficiary_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE")
    )
    candidate_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE")
    )
    reason: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="open")
    region_code: Mapped[str] = mapped_column(String(64))
    facility_id: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    resolved_by: Mapped[uuid.UUID | None] = mapped_column()
    resolved_at: Mapped[dt.datetime | None] = mapped_column()


class Merge(Base):
    """A merge of ``merged_id`` into ``survivor_id``; undone by clearing the pointer."""

    __tablename__ = "beneficiary_merges"
    __table_args__ = (Index("ix_beneficiary_merges_tenant_id_merged_id", "tenant_id", "merged_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    survivor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE")
    )
    merged_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("beneficiaries.id", ondelete="CASCADE"))
    flag_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("beneficiary_duplicate_flags.id", ondelete="SET NULL")
    )
    merged_by: Mapped[uuid.UUID] = mapped_column()
    merged_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    undone_by: Mapped[uuid.UUID | None] = mapped_column()
    undone_at: Mapped[dt.datetime | None] = mapped_column()


class CorrectionRequest(Base):
    """A citizen's request to correct a name, birth date or ID number, and its decision.

    ``proposed`` and, once approved, ``previous`` (the value it replaced: the history)
    are encrypted under the person's key. ``region_code``/``facility_id`` copy the
    record's location so the approvers' queue is a scoped query.
    """

    __tablename__ = "beneficiary_corrections"
    __table_args__ = (
        Index(
            "ix_beneficiary_corrections_tenant_id_status_region_code",
            "tenant_id",
            "status",
            "region_code",
        ),
        Index("ix_beneficiary_corrections_beneficiary_id", "beneficiary_id"),
        CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'withdrawn')", name="status_known"
        ),
        CheckConstraint(
            "field IN ('given_name', 'family_name', 'birth_date', 'id_number')",
            name="field_known",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    beneficiary_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE")
    )
    field: Mapped[str] = mapped_column(String(32))
    # For an ID-number correction: the document it replaces.
    document_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("beneficiary_documents.id", ondelete="SET NULL")
    )
    proposed = encrypted("json", subject="beneficiary_id", nullable=False)
    previous = encrypted("json", subject="beneficiary_id")
    reason = encrypted("text", subject="beneficiary_id", nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    region_code: Mapped[str] = mapped_column(String(64))
    facility_id: Mapped[uuid.UUID | None] = mapped_column()
    requested_by: Mapped[uuid.UUID] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[uuid.UUID | None] = mapped_column()
    decided_at: Mapped[dt.datetime | None] = mapped_column()
    decision_note = encrypted("text", subject="beneficiary_id")


class RegistrationImport(Base):
    """One bulk import run: who, which file (by hash), progress and the outcome.

    Its error report (``registration_import_errors``) holds row numbers, column names and
    reasons, never cell values, so it can be kept and downloaded without personal data.
    """

    __tablename__ = "registration_imports"
    __table_args__ = (
        Index("ix_registration_imports_tenant_id_created_at", "tenant_id", "created_at"),
        CheckConstraint("status IN ('running', 'done', 'failed')", name="status_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    created_by: Mapped[uuid.UUID | None] = mapped_column()
    region_code: Mapped[str | None] = mapped_column(String(64))
    file_sha256: Mapped[str] = mapped_column(String(64))
    file_kind: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="running")
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_created: Mapped[int] = mapped_column(Integer, default=0)
    rows_existing: Mapped[int] = mapped_column(Integer, default=0)
    rows_invalid: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column()


class ImportProblem(Base):
    """One problem of one row of an import (streamed to the downloadable report)."""

    __tablename__ = "registration_import_errors"
    __table_args__ = (Index("ix_registration_import_errors_import_id_row", "import_id", "row"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    import_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("registration_imports.id", ondelete="CASCADE")
    )
    row: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(300))
