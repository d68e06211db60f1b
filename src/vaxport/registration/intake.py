"""The one way people enter the register: :func:`add_members`, a batch in the caller's unit of work.

Every door goes through it: the API (a citizen's family member, a staff registration
that issues a claim code, a walk-in: batches of one) and the bulk import (a batch per
chunk of the file). Whatever the size, a batch costs the same statements: one for the
people's own keys, one for the people, one for their documents, one windowed look-alike
query, then the flags, the audit entries (``beneficiary.register``) and the
``beneficiary.registered`` events, all in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vaxport.core import audit
from vaxport.core.clock import utcnow
from vaxport.core.crypto import get_keyring
from vaxport.core.crypto.blind import blind_index_candidates_sync
from vaxport.core.crypto.models import PURPOSE_DATA, PURPOSE_INDEX
from vaxport.core.db import UnitOfWork
from vaxport.core.ids import uuid7
from vaxport.core.outbox import emit
from vaxport.core.principal import Principal
from vaxport.registration.models import (
    STATUS_ACTIVE,
    Beneficiary,
    BeneficiaryDocument,
    DuplicateFlag,
)
from vaxport.registration.validation import NormalisedMember
from vaxport.registration.writes import (
    AlreadyRegistered,
    ReferenceTakenError,
    new_reference,
)

__all__ = ["DUPLICATE_REASON", "MAX_LOOKALIKE_FLAGS", "Added", "NewMember", "add_members"]

DUPLICATE_REASON = "name_birth_region"
# A person resembling a crowd (a common name, a test file) gets flags against its oldest
# few only: more say nothing new to the reviewer and would grow quadratically.
MAX_LOOKALIKE_FLAGS = 10
# Tries per person when inserting one by one (a document or reference taken meanwhile).
_ROW_ATTEMPTS = 3

Registered = Literal["refuse", "skip"]


@dataclass(frozen=True, slots=True)
class NewMember:
    """One person to add: their checked values, and where they belong."""

    member: NormalisedMember
    account_id: uuid.UUID | None = None
    facility_id: uuid.UUID | None = None
    claim_code: str | None = None


@dataclass(slots=True)
class Added:
    """A person added: its position in the batch, its rows and its look-alike flags."""

    index: int
    person: Beneficiary
    documents: list[BeneficiaryDocument]
    flags: int = field(default=0)


async def add_members(
    uow: UnitOfWork,
    members: Sequence[NewMember],
    *,
    acting: Principal,
    tenant_id: uuid.UUID,
    tenant_code: str,
    created_via: str,
    registered: Registered = "refuse",
    one_by_one: bool = False,
    details: dict[str, object] | None = None,
    now: dt.datetime | None = None,
) -> list[Added]:
    """Insert people and their documents, flag look-alikes, audit and emit each; in ``uow``.

    ``registered="refuse"`` (a registration): a document registered already raises
    :class:`AlreadyRegistered` and the caller abandons the transaction.
    ``registered="skip"`` (an import): such people are left out of the answer (they
    exist). A reference collision, or a document registered concurrently, raises
    :class:`ReferenceTakenError` or :class:`AlreadyRegistered`: the caller retries in a new
    transaction, with ``one_by_one=True`` to insert each person in a savepoint of its own.
    ``details`` are added to each audit entry.
    """
    now = now or utcnow()
    if not members:
        return []
    if one_by_one:
        added = await _insert_one_by_one(
            uow, members, tenant_id=tenant_id, created_via=created_via, acting=acting, now=now
        )
    else:
        skip = await _registered(uow, tenant_id, members) if registered == "skip" else set()
        kept = [(i, m) for i, m in enumerate(members) if i not in skip]
        added = [
            _new(i, m, tenant_id=tenant_id, created_via=created_via, acting=acting, now=now)
            for i, m in kept
        ]
        await _insert_together(uow, tenant_id, tenant_code, added)
    await _flag_lookalikes(uow, tenant_id, added, now)
    await audit.record_many(
        uow,
        by=acting,
        entries=[
            {
                "action": "beneficiary.register",
                "object_type": "beneficiary",
                "object_id": a.person.id,
                "details": {"via": created_via, "documents": len(a.documents), "flags": a.flags}
                | (details or {}),
            }
            for a in added
        ],
    )
    for a in added:
        # No round trip: outbox rows are flushed with the rest of the transaction.
        await emit(
            uow,
            "beneficiary.registered",
            {
                "beneficiary_id": str(a.person.id),
                "region_code": a.person.region_code,
                "facility_id": str(a.person.facility_id) if a.person.facility_id else None,
                "created_via": created_via,
            },
        )
    return added


def _new(
    index: int,
    new: NewMember,
    *,
    tenant_id: uuid.UUID,
    created_via: str,
    acting: Principal,
    now: dt.datetime,
) -> Added:
    """The rows of one person (not yet in the session)."""
    m = new.member
    person = Beneficiary(
        id=uuid7(),
        tenant_id=tenant_id,
        account_id=new.account_id,
        reference=new_reference(),
        status=STATUS_ACTIVE,
        birth_year=m.birth_year,
        sex=m.sex,
        region_code=m.region_code,
        facility_id=new.facility_id,
        preferred_locale=m.preferred_locale,
        guardian_relation=m.guardian_relation,
        created_via=created_via,
        created_by=acting.id,
        version=1,
        created_at=now,
        updated_at=now,
    )
    person.given_name = m.given_name
    person.family_name = m.family_name
    person.birth_date = m.birth_date
    person.phone = m.phone
    person.email = m.email
    person.match = m.match
    person.claim_code = new.claim_code
    documents = []
    for doc in m.documents:
        row = BeneficiaryDocument(
            id=uuid7(), tenant_id=tenant_id, beneficiary_id=person.id, id_type=doc.id_type
        )
        row.number = doc.number
        row.created_at = now
        documents.append(row)
    return Added(index, person, documents)


async def _insert_together(
    uow: UnitOfWork, tenant_id: uuid.UUID, tenant_code: str, added: list[Added]
) -> None:
    """Keys, people and documents of the batch: one statement each."""
    if not added:
        return
    ids = [a.person.id for a in added]
    # Every person's own key at once, instead of one insert per person at flush.
    await uow.session.run_sync(lambda s: get_keyring().create_subject_keys(s, tenant_id, ids))
    uow.session.add_all([a.person for a in added])
    await _flush_or_conflict(uow, tenant_code)  # people first: documents point at them
    uow.session.add_all([d for a in added for d in a.documents])
    await _flush_or_conflict(uow, tenant_code)


async def _flush_or_conflict(uow: UnitOfWork, tenant_code: str) -> None:
    """Flush; a unique-index violation becomes the documented answer (or a retry)."""
    try:
        await uow.session.flush()
    except IntegrityError as exc:
        message = str(exc.orig).lower()
        if "reference" in message:
            raise ReferenceTakenError from None
        if "number_bidx" in message or "beneficiary_documents" in message:
            raise AlreadyRegistered(tenant_code) from None
        raise


async def _registered(
    uow: UnitOfWork, tenant_id: uuid.UUID, members: Sequence[NewMember]
) -> set[int]:
    """Positions (in ``members``) of people one of whose documents is registered already."""

    def candidates(s: Session) -> dict[tuple[str, bytes], int]:
        out: dict[tuple[str, bytes], int] = {}
        for i, new in enumerate(members):
            for doc in new.member.documents:
                for bidx in blind_index_candidates_sync(
                    s, tenant_id=tenant_id, kind="id_number", value=doc.number
                ):
                    out[(doc.id_type, bidx)] = i
        return out

    wanted = await uow.session.run_sync(candidates)
    if not wanted:
        return set()
    found = await uow.session.execute(
        select(BeneficiaryDocument.id_type, BeneficiaryDocument.number_bidx).where(
            BeneficiaryDocument.tenant_id == tenant_id,
            BeneficiaryDocument.number_bidx.in_([bidx for _, bidx in wanted]),
        )
    )
    return {wanted[(t, b)] for t, b in found if b is not None and (t, b) in wanted}


async def _insert_one_by_one(
    uow: UnitOfWork,
    members: Sequence[NewMember],
    *,
    tenant_id: uuid.UUID,
    created_via: str,
    acting: Principal,
    now: dt.datetime,
) -> list[Added]:
    """Each person in a savepoint of its own; one whose document appeared meanwhile exists."""
    session = uow.session

    def warm(s: Session) -> None:
        # Keys a savepoint might otherwise create and then roll back under our feet.
        keyring = get_keyring()
        keyring.active(s, tenant_id, PURPOSE_DATA)
        keyring.active(s, tenant_id, PURPOSE_INDEX)

    await session.run_sync(warm)
    added: list[Added] = []
    for i, new in enumerate(members):
        for attempt in range(_ROW_ATTEMPTS):
            if await _registered(uow, tenant_id, [new]):
                break
            one = _new(i, new, tenant_id=tenant_id, created_via=created_via, acting=acting, now=now)
            try:
                async with session.begin_nested():
                    session.add(one.person)
                    await session.flush()
                    session.add_all(one.documents)
                    await session.flush()
            except IntegrityError:
                if attempt == _ROW_ATTEMPTS - 1:
                    raise
                continue  # the document arrived meanwhile, or the reference was taken
            added.append(one)
            break
    return added


async def _flag_lookalikes(
    uow: UnitOfWork, tenant_id: uuid.UUID, added: list[Added], now: dt.datetime
) -> None:
    """Open a duplicate flag for each new person and each active look-alike (same match
    key and region; the oldest :data:`MAX_LOOKALIKE_FLAGS`), in one query for the batch.

    Two look-alikes new in the same batch are flagged once (the later against the
    earlier), as if they had been registered one after the other.
    """
    if not added:
        return
    order = {a.person.id: i for i, a in enumerate(added)}

    def candidates(s: Session) -> dict[tuple[bytes, str], list[int]]:
        out: dict[tuple[bytes, str], list[int]] = {}
        for i, a in enumerate(added):
            for bidx in blind_index_candidates_sync(
                s, tenant_id=tenant_id, kind="text", value=a.person.match
            ):
                out.setdefault((bidx, a.person.region_code), []).append(i)
        return out

    wanted = await uow.session.run_sync(candidates)
    # The oldest few of each (key, region): a crowd of namesakes costs each newcomer at
    # most MAX_LOOKALIKE_FLAGS flags, and the query returns no more than that per crowd
    # (plus one: the newcomer itself may rank among them).
    ranked = (
        select(
            Beneficiary.id,
            Beneficiary.match_bidx,
            Beneficiary.region_code,
            func.row_number()
            .over(
                partition_by=(Beneficiary.match_bidx, Beneficiary.region_code),
                order_by=Beneficiary.id,
            )
            .label("n"),
        )
        .where(
            Beneficiary.tenant_id == tenant_id,
            Beneficiary.match_bidx.in_(sorted({bidx for bidx, _ in wanted})),
            Beneficiary.status == STATUS_ACTIVE,
        )
        .subquery()
    )
    found = await uow.session.execute(
        select(ranked.c.id, ranked.c.match_bidx, ranked.c.region_code)
        .where(ranked.c.n <= MAX_LOOKALIKE_FLAGS + 1)
        .order_by(ranked.c.id)
    )
    pairs: set[tuple[int, uuid.UUID]] = set()
    for other, bidx, region in found:
        for i in wanted.get((bidx, region), ()):
            # Older than this batch, or earlier in it (so a pair in the batch flags once).
            if order.get(other, -1) < i and added[i].flags < MAX_LOOKALIKE_FLAGS:
                pairs.add((i, other))
                added[i].flags += 1
    uow.session.add_all(
        [
            DuplicateFlag(
                id=uuid7(),
                tenant_id=tenant_id,
                beneficiary_id=added[i].person.id,
                candidate_id=other,
                reason=DUPLICATE_REASON,
                status="open",
                region_code=added[i].person.region_code,
                facility_id=added[i].person.facility_id,
                created_at=now,
            )
            for i, other in sorted(pairs)
        ]
    )
