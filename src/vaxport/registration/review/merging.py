"""Possible duplicates: staff review them, dismiss them, or merge two records (reversibly).

A merge never moves rows: the merged record gets ``status = merged`` and a pointer to its
survivor (``merged_into_id``); its documents, doses and history stay where they are, and
lookups follow the pointer (``reads.load_person``). Undoing a merge
clears the pointer and re-opens the flag. Every act is audited and published
(``beneficiary.merged`` / ``beneficiary.unmerged``) so other contexts can follow.

Staff need ``beneficiaries:write`` over *both* records (national, their region subtree,
their facility); anything else is missing to them (404). Refused with 409: merging a
record into itself, into a merged record, or a merged record again.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from vaxport.core import clock
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.errors import ONE_OF, Conflict, NotFound, invalid
from vaxport.core.i18n import N_
from vaxport.core.ids import uuid7
from vaxport.core.outbox import emit
from vaxport.identity.service import Actor
from vaxport.registration.models import (
    STATUS_ACTIVE,
    STATUS_MERGED,
    Beneficiary,
    BeneficiaryDocument,
    DuplicateFlag,
    Merge,
)
from vaxport.registration.review import reach
from vaxport.registration.review.schemas import (
    CardOut,
    ComparisonOut,
    DocumentCard,
    FlagOut,
    FlagPageOut,
    MergeOut,
)

MERGED = "beneficiary.merged"
UNMERGED = "beneficiary.unmerged"
WRITE = "beneficiaries:write"
FLAG_STATUSES = ("open", "merged", "dismissed")


def merge_view(row: Merge) -> MergeOut:
    """The DTO of a merge."""
    return MergeOut(
        id=row.id,
        survivor_id=row.survivor_id,
        merged_id=row.merged_id,
        flag_id=row.flag_id,
        merged_at=row.merged_at,
        undone_at=row.undone_at,
    )


async def list_flags(
    *,
    db: Database,
    actor: Actor,
    status: str = "open",
    cursor: str | None = None,
    limit: int = 50,
) -> FlagPageOut:
    """Flags of the given status about people in the actor's jurisdiction, oldest first."""
    reach.staff_only(actor)
    reach.check_limit(limit)
    if status not in FLAG_STATUSES:
        raise invalid("status", ONE_OF, choices=", ".join(FLAG_STATUSES))
    if not actor.has(WRITE):
        raise NotFound(N_("not found"))
    live = (
        select(Merge.id)
        .where(Merge.flag_id == DuplicateFlag.id, Merge.undone_at.is_(None))
        .limit(1)
        .scalar_subquery()
    )
    query = select(DuplicateFlag, live).where(
        DuplicateFlag.tenant_id == actor.tenant_id,
        DuplicateFlag.status == status,
        *reach.located(actor, DuplicateFlag.region_code, DuplicateFlag.facility_id),
    )
    start = reach.after(cursor)
    if start is not None:
        query = query.where(DuplicateFlag.id > start)
    query = query.order_by(DuplicateFlag.id).limit(limit + 1)
    async with db.read(tenant_id=actor.tenant_id) as session:
        rows = (await session.execute(query)).all()
        items = [_flag_item(f, merge_id) for f, merge_id in rows[:limit]]
    more = len(rows) > limit
    return FlagPageOut(items=items, next_cursor=str(items[-1].id) if more else None)


async def load_flag(
    uow: UnitOfWork, actor: Actor, flag_id: uuid.UUID, *, lock: bool = False
) -> tuple[DuplicateFlag, Beneficiary, Beneficiary]:
    """A flag and its two records, all in the actor's reach (404 otherwise)."""
    reach.staff_only(actor)
    query = select(DuplicateFlag).where(
        DuplicateFlag.tenant_id == actor.tenant_id, DuplicateFlag.id == flag_id
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    flag = (await uow.session.execute(query)).scalar_one_or_none()
    if flag is None:
        raise NotFound(N_("duplicate flag not found"))
    try:
        # Rows are locked in id order, whichever way round the flag names them: two
        # merges touching the same people cannot deadlock.
        loaded = {
            some_id: await reach.load(uow, actor, some_id, WRITE, lock=lock)
            for some_id in sorted({flag.beneficiary_id, flag.candidate_id})
        }
    except NotFound:
        raise NotFound(N_("duplicate flag not found")) from None
    return flag, loaded[flag.beneficiary_id], loaded[flag.candidate_id]


def _open(flag: DuplicateFlag) -> None:
    if flag.status != "open":
        raise Conflict(
            N_("this flag was already {status}"),
            params={"status": flag.status},
            status_now=flag.status,
        )


async def dismiss(*, db: Database, actor: Actor, flag_id: uuid.UUID) -> FlagOut:
    """Not the same person: close the flag (audited); the records stay as they are."""
    async with db.transaction(tenant_id=actor.tenant_id) as uow:
        flag, first, _ = await load_flag(uow, actor, flag_id, lock=True)
        _open(flag)
        flag.status = "dismissed"
        flag.resolved_by, flag.resolved_at = actor.account_id, clock.utcnow()
        await reach.record(
            uow, actor, "beneficiary.duplicate_dismissed", first.id, {"flag_id": str(flag.id)}
        )
        return _flag_item(flag, None)


def _flag_item(flag: DuplicateFlag, merge_id: uuid.UUID | None) -> FlagOut:
    return FlagOut(
        id=flag.id,
        beneficiary_id=flag.beneficiary_id,
        candidate_id=flag.candidate_id,
        reason=flag.reason,
        status=flag.status,
        region_code=flag.region_code,
        created_at=flag.created_at,
        merge_id=merge_id,
    )


async def _merge(
    uow: UnitOfWork,
    actor: Actor,
    *,
    merged: Beneficiary,
    survivor: Beneficiary,
    flag: DuplicateFlag | None,
) -> Merge:
    """Point ``merged`` at ``survivor``, note the merge, audit and publish it."""
    if merged.id == survivor.id:
        raise Conflict(N_("a record cannot be merged into itself"))
    if survivor.status == STATUS_MERGED:
        raise Conflict(N_("the survivor was itself merged into another record"))
    if merged.status == STATUS_MERGED:
        raise Conflict(N_("this record is already merged"))
    now = clock.utcnow()
    merged.status, merged.merged_into_id = STATUS_MERGED, survivor.id
    merged.version += 1
    merged.updated_at = now
    row = Merge(
        id=uuid7(),
        tenant_id=actor.tenant_id,
        survivor_id=survivor.id,
        merged_id=merged.id,
        flag_id=flag.id if flag is not None else None,
        merged_by=actor.account_id,
        merged_at=now,
    )
    uow.session.add(row)
    if flag is not None:
        flag.status = "merged"
        flag.resolved_by, flag.resolved_at = actor.account_id, now
    await uow.session.flush()
    details = {"merge_id": str(row.id), "survivor_id": str(survivor.id)}
    await reach.record(uow, actor, "beneficiary.merged", merged.id, details)
    await emit(uow, MERGED, {"merged_id": str(merged.id), **details})
    return row


async def merge_flag(
    *, db: Database, actor: Actor, flag_id: uuid.UUID, survivor_id: uuid.UUID
) -> MergeOut:
    """The same person: merge the flag's other record into ``survivor_id`` (one of the two)."""
    async with db.transaction(tenant_id=actor.tenant_id) as uow:
        flag, first, second = await load_flag(uow, actor, flag_id, lock=True)
        _open(flag)
        if survivor_id not in (first.id, second.id):
            raise invalid("survivor_id", N_("must be one of the two flagged records"))
        survivor, merged = (first, second) if survivor_id == first.id else (second, first)
        row = await _merge(uow, actor, merged=merged, survivor=survivor, flag=flag)
        return merge_view(row)


async def merge_records(
    *, db: Database, actor: Actor, beneficiary_id: uuid.UUID, survivor_id: uuid.UUID
) -> MergeOut:
    """Merge one record into another without a flag (both in the actor's reach)."""
    reach.staff_only(actor)
    async with db.transaction(tenant_id=actor.tenant_id) as uow:
        # Lock in id order: two merges of the same pair cannot deadlock.
        locked = {}
        for some_id in sorted({beneficiary_id, survivor_id}):
            locked[some_id] = await reach.load(uow, actor, some_id, WRITE, lock=True)
        row = await _merge(
            uow, actor, merged=locked[beneficiary_id], survivor=locked[survivor_id], flag=None
        )
        return merge_view(row)


async def undo(*, db: Database, actor: Actor, merge_id: uuid.UUID) -> MergeOut:
    """Undo a merge: the merged record stands alone again, its flag re-opens (audited)."""
    reach.staff_only(actor)
    async with db.transaction(tenant_id=actor.tenant_id) as uow:
        row = (
            await uow.session.execute(
                select(Merge)
                .where(Merge.tenant_id == actor.tenant_id, Merge.id == merge_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()
        if row is None:
            raise NotFound(N_("merge not found"))
        # Flag before people, as merging and dismissing lock them: no lock-order deadlock.
        flag = None
        if row.flag_id is not None:
            flag = await uow.session.scalar(
                select(DuplicateFlag)
                .where(DuplicateFlag.tenant_id == actor.tenant_id, DuplicateFlag.id == row.flag_id)
                .with_for_update()
            )
        try:
            locked = {
                some_id: await reach.load(uow, actor, some_id, WRITE, lock=True)
                for some_id in sorted({row.merged_id, row.survivor_id})
            }
        except NotFound:
            raise NotFound(N_("merge not found")) from None
        merged = locked[row.merged_id]
        if row.undone_at is not None or merged.merged_into_id != row.survivor_id:
            raise Conflict(N_("this merge was already undone"))
        now = clock.utcnow()
        merged.status, merged.merged_into_id = STATUS_ACTIVE, None
        merged.version += 1
        merged.updated_at = now
        row.undone_by, row.undone_at = actor.account_id, now
        if flag is not None:
            flag.status, flag.resolved_by, flag.resolved_at = "open", None, None
        await uow.session.flush()
        details = {"merge_id": str(row.id), "survivor_id": str(row.survivor_id)}
        await reach.record(uow, actor, "beneficiary.unmerged", merged.id, details)
        await emit(uow, UNMERGED, {"merged_id": str(merged.id), **details})
        return merge_view(row)


def _masked(number: str) -> str:
    return "\u2022" * max(len(number) - 4, 0) + number[-4:]


async def _card(uow: UnitOfWork, person: Beneficiary) -> CardOut:
    documents = (
        await uow.session.execute(
            select(BeneficiaryDocument)
            .where(
                BeneficiaryDocument.tenant_id == person.tenant_id,
                BeneficiaryDocument.beneficiary_id == person.id,
            )
            .order_by(BeneficiaryDocument.id)
        )
    ).scalars()
    return CardOut(
        id=person.id,
        reference=person.reference,
        status=person.status,
        given_name=person.given_name or "",
        family_name=person.family_name,
        birth_date=person.birth_date,
        birth_year=person.birth_year,
        sex=person.sex,
        region_code=person.region_code,
        created_via=person.created_via,
        created_at=person.created_at,
        documents=[
            DocumentCard(id_type=d.id_type, number_hint=_masked(d.number or "")) for d in documents
        ],
    )


async def compare(*, db: Database, actor: Actor, flag_id: uuid.UUID) -> ComparisonOut:
    """Both records of a flag side by side, for staff deciding (an audited read)."""
    async with db.transaction(tenant_id=actor.tenant_id) as uow:
        flag, first, second = await load_flag(uow, actor, flag_id)
        merge_id = await uow.session.scalar(
            select(Merge.id).where(Merge.flag_id == flag.id, Merge.undone_at.is_(None))
        )
        for person in (first, second):
            await reach.record(
                uow, actor, "beneficiary.duplicate_viewed", person.id, {"flag_id": str(flag.id)}
            )
        return ComparisonOut(
            flag=_flag_item(flag, merge_id),
            first=await _card(uow, first),
            second=await _card(uow, second),
        )
