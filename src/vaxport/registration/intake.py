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
import functools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import Any, Literal, cast

from sqlalchemy import Select, Table, bindparam, func, literal_column, select
from sqlalchemy.exc import IntegrityError

from vaxport.core import audit
from vaxport.core.clock import utcnow
from vaxport.core.crypto import KeySession, SubjectKey, get_keyring, seal_values
from vaxport.core.crypto.blind import blind_index_candidates_sync
from vaxport.core.crypto.models import PURPOSE_DATA, PURPOSE_INDEX
from vaxport.core.db import Rows, UnitOfWork, write_batch
from vaxport.core.ids import uuid7
from vaxport.core.outbox import OutboxEvent, event_row
from vaxport.core.principal import Principal
from vaxport.registration.declared import declared_value
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
# Rows to write first in a batch, made from its people in the transaction's sync session.
Also = Callable[[KeySession, list["Added"]], Sequence[Rows]]
# (match blind index under one live index key, region) -> positions in the batch.
Wanted = dict[tuple[bytes, str], list[int]]

SUBJECT_KEYS = cast(Table, SubjectKey.__table__)
PEOPLE = cast(Table, Beneficiary.__table__)
DOCUMENTS = cast(Table, BeneficiaryDocument.__table__)
FLAGS = cast(Table, DuplicateFlag.__table__)
OUTBOX = cast(Table, OutboxEvent.__table__)


@dataclass(frozen=True, slots=True)
class NewMember:
    """One person to add: their checked values, and where they belong. ``person_id``: an
    id chosen by the client (an offline device's UUID for the record), else a new one."""

    member: NormalisedMember
    account_id: uuid.UUID | None = None
    facility_id: uuid.UUID | None = None
    claim_code: str | None = None
    person_id: uuid.UUID | None = None


@dataclass(slots=True)
class Added:
    """A person added: its position in the batch, its row and its documents' and its
    look-alike flags.

    The rows are plain values read as the ORM's are (``person.region_code``), never ORM
    objects: the plaintext fields the answer is shown from and, once sealed in the
    transaction, the ciphertexts and blind indexes written (``person.match_bidx``).
    """

    index: int
    person: SimpleNamespace
    documents: list[SimpleNamespace]
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
    also: Also | None = None,
) -> list[Added]:
    """Insert people and their documents, flag look-alikes, audit and emit each; in ``uow``.

    ``registered="refuse"`` (a registration): a document registered already raises
    :class:`AlreadyRegistered` and the caller abandons the transaction.
    ``registered="skip"`` (an import): such people are left out of the answer (they
    exist). A reference collision, or a document registered concurrently, raises
    :class:`ReferenceTakenError` or :class:`AlreadyRegistered`: the caller retries in a new
    transaction, with ``one_by_one=True`` to insert each person in a savepoint of its own.
    ``details`` are added to each audit entry. ``also`` gives rows to write first in the
    same batch, from the people about to be added (an Idempotency-Key's kept answer).
    """
    now = now or utcnow()
    if not members:
        return []
    if one_by_one:
        if also is not None:
            raise ValueError("rows written 'also' go with a batch, not one by one")
        added = await _insert_one_by_one(
            uow, members, tenant_id=tenant_id, created_via=created_via, acting=acting, now=now
        )
        if added:
            wanted, found = await _lookalikes_now(uow, tenant_id, added)
            flags = _flags(tenant_id, added, wanted, found, now)
            await write_batch(
                uow,
                [
                    _events(uow, added, created_via),
                    Rows(FLAGS, flags),
                    _audit(uow, added, acting, created_via, details),
                ],
            )
        return added
    skip = await _registered(uow, tenant_id, members) if registered == "skip" else set()
    added = [
        _new(i, m, tenant_id=tenant_id, created_via=created_via, acting=acting, now=now)
        for i, m in enumerate(members)
        if i not in skip
    ]
    if added:
        await _write_together(
            uow, tenant_id, tenant_code, added, acting, created_via, details, also
        )
    return added


def _audit(
    uow: UnitOfWork,
    added: list[Added],
    acting: Principal,
    created_via: str,
    details: dict[str, object] | None,
) -> Rows:
    """The ``beneficiary.register`` entries of ``added`` (with their flag counts)."""
    table, rows = audit.entry_rows(
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
    return Rows(table, rows)


def _events(uow: UnitOfWork, added: list[Added], created_via: str) -> Rows:
    """The ``beneficiary.registered`` events of ``added``."""
    return Rows(
        OUTBOX,
        [
            event_row(
                uow,
                "beneficiary.registered",
                {
                    "beneficiary_id": str(a.person.id),
                    "region_code": a.person.region_code,
                    "facility_id": str(a.person.facility_id) if a.person.facility_id else None,
                    "created_via": created_via,
                },
            )
            for a in added
        ],
    )


async def _write_together(  # noqa: PLR0917 - the batch and what add_members was given
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    tenant_code: str,
    added: list[Added],
    acting: Principal,
    created_via: str,
    details: dict[str, object] | None,
    also: Also | None,
) -> None:
    """The batch's keys, people, documents, events and (usually) audit entries in one
    :func:`write_batch`, with the look-alike query: one round trip on PostgreSQL.

    The audit entries say how many look-alikes each person has, known only once the
    query answered; they are sent with the batch when that number is zero for all (a
    registration resembling no one, nearly always), else written after, with the flags.
    """

    def seal(s: KeySession) -> tuple[list[Rows], Wanted, list[Rows]]:
        rows = _sealed(s, tenant_id=tenant_id, added=added)
        return rows, _match_keys(s, tenant_id, added), list(also(s, added) if also else ())

    rows, wanted, first = await uow.run_sync(seal)
    earlier = _flag_within(wanted)
    query, params = _lookalikes(tenant_id, wanted)
    writes = [*first, *rows, _events(uow, added, created_via)]
    if not earlier:
        writes.append(replace(_audit(uow, added, acting, created_via, details), unless_found=True))
    try:
        found = await write_batch(uow, writes, query=query, params=params)
    except IntegrityError as exc:
        message = str(exc.orig).lower()
        if "reference" in message:
            raise ReferenceTakenError from None
        if "number_bidx" in message or "beneficiary_documents" in message:
            raise AlreadyRegistered(tenant_code) from None
        raise
    if earlier or found:
        flags = _flags(tenant_id, added, wanted, found, added[0].person.created_at)
        await write_batch(
            uow, [Rows(FLAGS, flags), _audit(uow, added, acting, created_via, details)]
        )


def _new(
    index: int,
    new: NewMember,
    *,
    tenant_id: uuid.UUID,
    created_via: str,
    acting: Principal,
    now: dt.datetime,
) -> Added:
    """The rows of one person and their documents (plaintext fields: not sealed yet)."""
    m = new.member
    person = SimpleNamespace(
        id=new.person_id or uuid7(),
        tenant_id=tenant_id,
        account_id=new.account_id,
        reference=new_reference(),
        status=STATUS_ACTIVE,
        merged_into_id=None,
        given_name=m.given_name,
        family_name=m.family_name,
        birth_date=m.birth_date,
        birth_year=m.birth_year,
        sex=m.sex,
        phone=m.phone,
        email=m.email,
        match=m.match,
        claim_code=new.claim_code,
        # Written for everyone, declarations or not (padded): see declared.py.
        declared=declared_value(m.risk_groups, m.occupations),
        region_code=m.region_code,
        facility_id=new.facility_id,
        preferred_locale=m.preferred_locale,
        guardian_relation=m.guardian_relation,
        created_via=created_via,
        created_by=acting.id,
        vaccinated_at=None,
        version=1,
        created_at=now,
        updated_at=now,
    )
    documents = [
        SimpleNamespace(
            id=uuid7(),
            tenant_id=tenant_id,
            beneficiary_id=person.id,
            id_type=doc.id_type,
            number=doc.number,
            created_at=now,
        )
        for doc in m.documents
    ]
    return Added(index, person, documents)


def _sealed(s: KeySession, *, tenant_id: uuid.UUID, added: list[Added]) -> list[Rows]:
    """The new people's keys, their rows and their documents' with every personal field
    sealed under the person's own new key (in ``s``'s transaction: the keys commit with
    the rows)."""
    keys = get_keyring().new_subject_keys(s, tenant_id, [a.person.id for a in added])
    return [
        Rows(SUBJECT_KEYS, keys),
        Rows(PEOPLE, [_sealed_row(s, PEOPLE, Beneficiary, a.person) for a in added]),
        Rows(
            DOCUMENTS,
            [_sealed_row(s, DOCUMENTS, BeneficiaryDocument, d) for a in added for d in a.documents],
        ),
    ]


def _sealed_row(s: KeySession, table: Table, model: type, row: SimpleNamespace) -> dict[str, Any]:
    """Every column of ``table`` (in its order, so a batch's statement is always the same
    text) from ``row``, its fields sealed; the ciphertexts and blind indexes are kept on
    ``row`` too, as on an ORM row after a flush."""
    values = vars(row)
    values.update(seal_values(s, model, values))
    return {c.key: values.get(c.key) for c in table.c}


async def _registered(
    uow: UnitOfWork, tenant_id: uuid.UUID, members: Sequence[NewMember]
) -> set[int]:
    """Positions (in ``members``) of people one of whose documents is registered already."""

    def candidates(s: KeySession) -> dict[tuple[str, bytes], int]:
        out: dict[tuple[str, bytes], int] = {}
        for i, new in enumerate(members):
            for doc in new.member.documents:
                for bidx in blind_index_candidates_sync(
                    s, tenant_id=tenant_id, kind="id_number", value=doc.number
                ):
                    out[(doc.id_type, bidx)] = i
        return out

    wanted = await uow.run_sync(candidates)
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

    def warm(s: KeySession) -> None:
        # Keys a savepoint might otherwise create and then roll back under our feet.
        keyring = get_keyring()
        keyring.active(s, tenant_id, PURPOSE_DATA)
        keyring.active(s, tenant_id, PURPOSE_INDEX)

    await uow.run_sync(warm)
    added: list[Added] = []
    for i, new in enumerate(members):
        for attempt in range(_ROW_ATTEMPTS):
            if await _registered(uow, tenant_id, [new]):
                break
            one = _new(i, new, tenant_id=tenant_id, created_via=created_via, acting=acting, now=now)
            try:
                async with uow.savepoint():
                    rows = await uow.run_sync(
                        functools.partial(_sealed, tenant_id=tenant_id, added=[one])
                    )
                    await write_batch(uow, rows)
            except IntegrityError:
                if attempt == _ROW_ATTEMPTS - 1:
                    raise
                continue  # the document arrived meanwhile, or the reference was taken
            added.append(one)
            break
    return added


def _match_keys(s: KeySession, tenant_id: uuid.UUID, added: list[Added]) -> Wanted:
    """(match blind index under each live index key, region) -> positions in ``added``."""
    out: dict[tuple[bytes, str], list[int]] = {}
    for i, a in enumerate(added):
        for bidx in blind_index_candidates_sync(
            s, tenant_id=tenant_id, kind="text", value=a.person.match
        ):
            out.setdefault((bidx, a.person.region_code), []).append(i)
    return out


@functools.lru_cache(maxsize=64)
def _lookalike_query(n_keys: int) -> Select[Any]:
    """The oldest few active people of each (match key, region) with a match key wanted,
    oldest first (built once per number of keys, so its compiled form is reused).

    It reads the (tenant, match key, region, id) index whatever the statistics: its
    conditions are equalities on that index's leading columns that no other index has
    (``status`` is a literal: the index is partial on it), and the index's order is the
    window's. A region condition would let the (tenant, region) index look as good to a
    planner without statistics, so regions are compared by the caller.
    """
    b = Beneficiary
    ranked = (
        select(
            b.id,
            b.match_bidx,
            b.region_code,
            func.row_number()
            .over(partition_by=(b.match_bidx, b.region_code), order_by=b.id)
            .label("n"),
        )
        .where(
            b.tenant_id == bindparam("tenant"),
            b.match_bidx.in_([bindparam(f"k{i}") for i in range(n_keys)]),
            b.status == literal_column(f"'{STATUS_ACTIVE}'"),
        )
        .subquery()
    )
    # The oldest MAX_LOOKALIKE_FLAGS + 1 (the newcomer itself may be among them when
    # the people of the batch are stored already).
    return (
        select(ranked.c.id, ranked.c.match_bidx, ranked.c.region_code)
        .where(ranked.c.n <= MAX_LOOKALIKE_FLAGS + 1)
        .order_by(ranked.c.id)
    )


def _lookalikes(tenant_id: uuid.UUID, wanted: Wanted) -> tuple[Select[Any], dict[str, Any]]:
    keys = sorted({bidx for bidx, _ in wanted})
    params: dict[str, Any] = {"tenant": tenant_id}
    params |= {f"k{i}": k for i, k in enumerate(keys)}
    return _lookalike_query(len(keys)), params


async def _lookalikes_now(
    uow: UnitOfWork, tenant_id: uuid.UUID, added: list[Added]
) -> tuple[Wanted, list[Any]]:
    wanted = await uow.run_sync(lambda s: _match_keys(s, tenant_id, added))
    if not wanted:
        return wanted, []
    query, params = _lookalikes(tenant_id, wanted)
    return wanted, await write_batch(uow, [], query=query, params=params)


def _flag_within(wanted: Wanted) -> bool:
    """Whether two people of the batch look alike (a match key and region in common)."""
    return any(len(positions) > 1 for positions in wanted.values())


def _flags(
    tenant_id: uuid.UUID, added: list[Added], wanted: Wanted, found: Sequence[Any], now: dt.datetime
) -> list[dict[str, Any]]:
    """Flag rows: each new person against the older look-alikes ``found`` (oldest first),
    then against look-alikes earlier in the batch (so a pair in the batch flags once),
    at most :data:`MAX_LOOKALIKE_FLAGS` each; sets each ``Added.flags``."""
    ours = {a.person.id for a in added}
    older: dict[tuple[bytes, str], list[uuid.UUID]] = {}
    for other, bidx, region in found:
        if other not in ours:  # stored already (one by one): compared as batch members
            older.setdefault((bytes(bidx), region), []).append(other)
    keys_of: dict[int, list[tuple[bytes, str]]] = {}
    for key, positions in wanted.items():
        for i in positions:
            keys_of.setdefault(i, []).append(key)
    rows: list[dict[str, Any]] = []
    for i, a in enumerate(added):
        keys = keys_of.get(i, [])
        before = sorted({o for key in keys for o in older.get(key, ())})
        within = sorted({j for key in keys for j in wanted[key] if j < i})
        candidates = before + [added[j].person.id for j in within]
        for other in candidates[:MAX_LOOKALIKE_FLAGS]:
            a.flags += 1
            rows.append(
                {
                    "id": uuid7(),
                    "tenant_id": tenant_id,
                    "beneficiary_id": a.person.id,
                    "candidate_id": other,
                    "reason": DUPLICATE_REASON,
                    "status": "open",
                    "region_code": a.person.region_code,
                    "facility_id": a.person.facility_id,
                    "created_at": now,
                    "resolved_by": None,
                    "resolved_at": None,
                }
            )
    return rows
