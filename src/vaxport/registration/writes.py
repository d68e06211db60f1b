"""Row-level steps the register's use cases share: codes, family limits, change records.

People enter the register by one way only, :func:`vaxport.registration.intake.add_members`
(API, walk-in, staff registration with a claim code, import); its answers to a document
registered already (:class:`AlreadyRegistered`) and to a reference collision
(:class:`ReferenceTakenError`) are defined here.
"""

from __future__ import annotations

import uuid
from contextlib import AbstractAsyncContextManager, nullcontext

from sqlalchemy import func, select
from starlette.types import Scope

from vaxport.core import audit
from vaxport.core.clock import utcnow
from vaxport.core.db import UnitOfWork, serialize_on
from vaxport.core.errors import Conflict, field_error
from vaxport.core.http.ratelimit import outcome_budget
from vaxport.core.i18n import N_
from vaxport.core.ids import short_code
from vaxport.core.outbox import emit
from vaxport.core.principal import Principal
from vaxport.identity.service import CITIZEN, Actor
from vaxport.registration.models import STATUS_ACTIVE, Beneficiary

REFERENCE_LENGTH = 8
CLAIM_CODE_LENGTH = 10

# Where a person whose ID is already registered is sent: the same answer whoever holds it.
RECOVERY = {
    "claim": "If the person was registered at a vaccination centre or by an import, claim "
    "the record with the ID number and the claim code printed on their slip, or with a "
    "code sent to the record's phone (POST /api/v1/{tenant}/beneficiaries/claims/codes, "
    "then POST /api/v1/{tenant}/beneficiaries/claims).",
    "support": "Otherwise contact support with the ID document: they can check who manages "
    "the record and move it to you.",
}


ALREADY_REGISTERED = N_(
    "is already registered: find the person by this document instead of registering them again"
)


class AlreadyRegistered(Conflict):
    """The ID document is already registered in this tenant (whoever holds it)."""

    slug = "already-registered"
    title = "This ID document is already registered"

    def __init__(self, tenant_code: str, field: str = "documents") -> None:
        super().__init__(
            "A person with this ID document is already registered. The record can be "
            "claimed with its claim code, or support can help.",
            errors=[field_error(field, ALREADY_REGISTERED, code="already-registered")],
            recovery={k: v.replace("{tenant}", tenant_code) for k, v in RECOVERY.items()},
        )


def disclosure_budget(scope: Scope, actor: Actor) -> AbstractAsyncContextManager[None]:
    """Around a citizen's registration: few answers "already registered" per account and
    address (``VAXPORT_RATE_LIMIT_ID_CHECK_*``), since each says whether an ID number is
    registered; once spent, 429 whatever the document. Staff find people by document
    anyway, each search audited."""
    if actor.role != CITIZEN:
        return nullcontext()
    return outcome_budget(scope, "id_check", counts=(AlreadyRegistered,))


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
    await serialize_on(uow.session, "vaxport.family", account_id.bytes)


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
