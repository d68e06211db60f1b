"""Row-level steps every door into the register shares (API, walk-in, import, claim).

:func:`add_member` is the one way a person enters the database: it writes the record and
its documents, turns the unique blind index on ``(tenant, id_type, number)`` into the
documented :class:`AlreadyRegistered` answer, flags possible duplicates, and writes the
audit entry and the ``beneficiary.registered`` event in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from vaxport.core import audit
from vaxport.core.clock import utcnow
from vaxport.core.crypto import blind_match
from vaxport.core.db import UnitOfWork
from vaxport.core.errors import Conflict
from vaxport.core.ids import short_code, uuid7
from vaxport.core.outbox import emit
from vaxport.core.principal import Principal
from vaxport.registration.models import (
    STATUS_ACTIVE,
    Beneficiary,
    BeneficiaryDocument,
    DuplicateFlag,
)
from vaxport.registration.validation import NormalisedMember

REFERENCE_LENGTH = 8
CLAIM_CODE_LENGTH = 10
DUPLICATE_REASON = "name_birth_region"
# A person resembling a crowd (a common name, a test file) gets flags against its oldest
# few only: more say nothing new to the reviewer and would grow quadratically.
MAX_LOOKALIKE_FLAGS = 10

# Where a person whose ID is already registered is sent: the same answer whoever holds it.
RECOVERY = {
    "claim": "If the person was registered at a vaccination centre or by an import, claim "
    "the record with the ID number and the claim code printed on their slip, or with a "
    "code sent to the record's phone (POST /api/v1/{tenant}/beneficiaries/claims/codes, "
    "then POST /api/v1/{tenant}/beneficiaries/claims).",
    "support": "Otherwise contact support with the ID document: they can check who manages "
    "the record and move it to you.",
}


class AlreadyRegistered(Conflict):
    """The ID document is already registered in this tenant (whoever holds it)."""

    slug = "already-registered"
    title = "This ID document is already registered"

    def __init__(self, tenant_code: str, field: str = "documents") -> None:
        super().__init__(
            "A person with this ID document is already registered. The record can be "
            "claimed with its claim code, or support can help.",
            errors=[{"field": field, "reason": "is already registered"}],
            recovery={k: v.replace("{tenant}", tenant_code) for k, v in RECOVERY.items()},
        )


class FamilyFull(Conflict):
    """The account already manages as many people as the tenant allows."""

    slug = "family-full"
    title = "The family is full"


class ReferenceTakenError(Exception):
    """The random reference collided with another record's (the caller retries)."""


def new_reference() -> str:
    """A short slip code: 8 Crockford base32 characters (no I, L, O, U)."""
    return short_code(REFERENCE_LENGTH)


def new_claim_code() -> str:
    """A one-time claim code for the slip: 10 characters, 50 bits."""
    return short_code(CLAIM_CODE_LENGTH)


def normalise_code(value: str) -> str:
    """A typed code as stored: upper case, no spaces or dashes, O/I/L read as 0/1/1."""
    out = "".join(value.split()).replace("-", "").upper()
    return out.translate(str.maketrans("OIL", "011"))


async def lock_account(uow: UnitOfWork, account_id: uuid.UUID) -> None:
    """Serialise the writes of one account's family (family-size count is race-safe).

    PostgreSQL: a transaction-scoped advisory lock on the account (identity owns the
    account row, so it is not locked). SQLite: writers already queue at BEGIN IMMEDIATE.
    """
    if uow.session.get_bind().dialect.name != "postgresql":
        return
    key = int.from_bytes(hashlib.sha256(b"vaxport.family\x00" + account_id.bytes).digest()[:8])
    await uow.session.execute(
        text("SELECT pg_advisory_xact_lock(:k)"), {"k": key - (1 << 63) if key >= 1 << 63 else key}
    )


async def family_size(uow: UnitOfWork, tenant_id: uuid.UUID, account_id: uuid.UUID) -> int:
    """Active people managed by ``account_id`` (call after :func:`lock_account`)."""
    count = await uow.session.scalar(
        select(func.count())
        .select_from(Beneficiary)
        .where(
            Beneficiary.tenant_id == tenant_id,
            Beneficiary.account_id == account_id,
            Beneficiary.status == STATUS_ACTIVE,
        )
    )
    return int(count or 0)


async def ensure_room(
    uow: UnitOfWork, tenant_id: uuid.UUID, account_id: uuid.UUID, limit: int
) -> None:
    """Lock the account's family and raise :class:`FamilyFull` when it has ``limit`` people."""
    await lock_account(uow, account_id)
    if await family_size(uow, tenant_id, account_id) >= limit:
        raise FamilyFull(f"an account manages at most {limit} people in this country", limit=limit)


async def record_change(
    uow: UnitOfWork,
    person: Beneficiary,
    *,
    acting: Principal,
    action: str,
    fields: list[str],
    details: dict[str, object] | None = None,
) -> None:
    """After changing ``person``: bump its version, audit ``action``, emit ``updated``."""
    person.version += 1
    person.updated_at = utcnow()
    await audit.record(
        uow,
        by=acting,
        action=action,
        object_type="beneficiary",
        object_id=person.id,
        details=details,
    )
    await emit(
        uow,
        "beneficiary.updated",
        {"beneficiary_id": str(person.id), "fields": fields, "version": person.version},
    )


async def add_member(
    uow: UnitOfWork,
    *,
    tenant_id: uuid.UUID,
    tenant_code: str,
    member: NormalisedMember,
    account_id: uuid.UUID | None,
    facility_id: uuid.UUID | None,
    created_via: str,
    acting: Principal,
    claim_code: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[Beneficiary, list[BeneficiaryDocument]]:
    """Insert a person and their documents, flag look-alikes, audit, emit; in ``uow``.

    Raises :class:`AlreadyRegistered` when one of the documents is registered already
    (the transaction must then be abandoned: the caller lets the exception propagate),
    and :class:`ReferenceTakenError` on the rare reference collision (retry the use case).
    """
    now = now or utcnow()
    person = Beneficiary(
        id=uuid7(),
        tenant_id=tenant_id,
        account_id=account_id,
        reference=new_reference(),
        status=STATUS_ACTIVE,
        birth_year=member.birth_year,
        sex=member.sex,
        region_code=member.region_code,
        facility_id=facility_id,
        preferred_locale=member.preferred_locale,
        guardian_relation=member.guardian_relation,
        created_via=created_via,
        created_by=acting.id,
        version=1,
        created_at=now,
        updated_at=now,
    )
    person.given_name = member.given_name
    person.family_name = member.family_name
    person.birth_date = member.birth_date
    person.phone = member.phone
    person.email = member.email
    person.match = member.match
    person.claim_code = claim_code
    uow.session.add(person)
    documents: list[BeneficiaryDocument] = []
    for doc in member.documents:
        row = BeneficiaryDocument(
            id=uuid7(), tenant_id=tenant_id, beneficiary_id=person.id, id_type=doc.id_type
        )
        row.number = doc.number
        row.created_at = now
        uow.session.add(row)
        documents.append(row)
    await flush_or_conflict(uow, tenant_code)
    flagged = await flag_lookalikes(uow, person)
    await audit.record(
        uow,
        by=acting,
        action="beneficiary.register",
        object_type="beneficiary",
        object_id=person.id,
        details={"via": created_via, "documents": len(member.documents), "flags": flagged},
    )
    await emit(
        uow,
        "beneficiary.registered",
        {
            "beneficiary_id": str(person.id),
            "region_code": person.region_code,
            "facility_id": str(facility_id) if facility_id else None,
            "created_via": created_via,
        },
    )
    return person, documents


async def flush_or_conflict(uow: UnitOfWork, tenant_code: str, field: str = "documents") -> None:
    """Flush; a unique-index violation becomes the documented answer (or a retry)."""
    try:
        await uow.session.flush()
    except IntegrityError as exc:
        message = str(exc.orig).lower()
        if "reference" in message:
            raise ReferenceTakenError from None
        if "number_bidx" in message or "beneficiary_documents" in message:
            raise AlreadyRegistered(tenant_code, field) from None
        raise


def duplicate_flag(
    *,
    tenant_id: uuid.UUID,
    person_id: uuid.UUID,
    candidate_id: uuid.UUID,
    region_code: str,
    facility_id: uuid.UUID | None,
    now: dt.datetime,
) -> DuplicateFlag:
    """An open look-alike flag: ``person_id`` (the newer) may be ``candidate_id``."""
    return DuplicateFlag(
        id=uuid7(),
        tenant_id=tenant_id,
        beneficiary_id=person_id,
        candidate_id=candidate_id,
        reason=DUPLICATE_REASON,
        status="open",
        region_code=region_code,
        facility_id=facility_id,
        created_at=now,
    )


async def flag_lookalikes(uow: UnitOfWork, person: Beneficiary) -> int:
    """Open a duplicate flag for each active record with the same match key and region
    (the oldest :data:`MAX_LOOKALIKE_FLAGS` of them)."""
    where = await blind_match(
        uow.session,
        Beneficiary.match_bidx,
        tenant_id=person.tenant_id,
        kind="text",
        value=person.match,
    )
    others = (
        await uow.session.scalars(
            select(Beneficiary.id)
            .where(
                Beneficiary.tenant_id == person.tenant_id,
                where,
                Beneficiary.region_code == person.region_code,
                Beneficiary.status == STATUS_ACTIVE,
                Beneficiary.id != person.id,
            )
            .order_by(Beneficiary.id)
            .limit(MAX_LOOKALIKE_FLAGS)
        )
    ).all()
    now = utcnow()
    for other in others:
        uow.session.add(
            duplicate_flag(
                tenant_id=person.tenant_id,
                person_id=person.id,
                candidate_id=other,
                region_code=person.region_code,
                facility_id=person.facility_id,
                now=now,
            )
        )
    return len(others)
