"""Reading people: one by id, a scoped list, and staff search by exact identifiers.

Every query is limited to the actor's scope (own account for citizens; region subtree,
facility or the whole tenant for staff) so another account's people do not exist for
them (404, empty list, no hit). A staff member's read of a person's record is personal
data access: each read, listed or found person gets an audit entry in the same
transaction as the read. Search is exact only (blind index or reference): there is no
free-text search over names.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from vaxport.core import audit
from vaxport.core.contacts import normalise_phone
from vaxport.core.crypto import InvalidFieldValueError, blind_match
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.errors import NotFound, ValidationFailed, field_error, invalid
from vaxport.core.i18n import N_
from vaxport.identity.service import Actor, can
from vaxport.registration.models import (
    STATUS_ACTIVE,
    STATUS_MERGED,
    Beneficiary,
    BeneficiaryDocument,
)
from vaxport.registration.presenters import documents_of, member_out, resource
from vaxport.registration.reach import reach_filter, reaches
from vaxport.registration.schemas import MemberOut, MemberPage
from vaxport.registration.writes import normalise_code
from vaxport.tenancy.service import TenantInfo, validate_id_number

READ = "beneficiaries:read"
PAGE_MAX = 100
MERGE_HOPS = 5
SearchBy = Literal["id_number", "phone", "reference"]


def is_staff(actor: Actor) -> bool:
    return actor.kind != "citizen"


async def audit_reads(
    uow: UnitOfWork, actor: Actor, action: str, ids: list[uuid.UUID], **details: Any
) -> None:
    """One entry per person a staff member saw (or one without object when none)."""
    targets: list[uuid.UUID | None] = list(ids) or [None]
    entries: list[audit.EntryFields] = [
        {"action": action, "object_type": "beneficiary", "object_id": pid, "details": details}
        for pid in targets
    ]
    await audit.record_many(uow, by=actor.principal, entries=entries)


async def load_person(
    session: AsyncSession, tenant_id: uuid.UUID, beneficiary_id: uuid.UUID
) -> Beneficiary | None:
    """The person with this id, following merge pointers to the survivor."""
    person = await session.scalar(
        select(Beneficiary).where(
            Beneficiary.tenant_id == tenant_id, Beneficiary.id == beneficiary_id
        )
    )
    hops = 0
    while person is not None and person.status == STATUS_MERGED and hops < MERGE_HOPS:
        person = await session.scalar(
            select(Beneficiary).where(
                Beneficiary.tenant_id == tenant_id, Beneficiary.id == person.merged_into_id
            )
        )
        hops += 1
    return person


async def get_member(
    *, db: Database, tenant: TenantInfo, actor: Actor, beneficiary_id: uuid.UUID
) -> MemberOut:
    """One person in the actor's scope (a merged record answers with its survivor)."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        person = await load_person(uow.session, tenant.id, beneficiary_id)
        if person is None or not await reaches(uow.session, actor, tenant, READ, person):
            raise NotFound(N_("beneficiary not found"))
        docs = await documents_of(uow.session, tenant.id, [person.id])
        if is_staff(actor):
            await audit_reads(uow, actor, "beneficiary.read", [person.id])
        return member_out(person, docs[person.id])


def _encode(last: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(last.bytes).decode().rstrip("=")


def _decode(cursor: str) -> uuid.UUID:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return uuid.UUID(bytes=raw)
    except (ValueError, TypeError) as exc:
        raise invalid("cursor", N_("is not a cursor this list gave out")) from exc


async def list_members(
    *,
    db: Database,
    tenant: TenantInfo,
    actor: Actor,
    cursor: str | None = None,
    limit: int = 50,
) -> MemberPage:
    """The active people in the actor's scope, oldest first, ``limit`` per page."""
    limit = max(1, min(limit, PAGE_MAX))
    query = select(Beneficiary).where(
        Beneficiary.tenant_id == tenant.id,
        Beneficiary.status == STATUS_ACTIVE,
        reach_filter(actor, tenant, READ),
    )
    if cursor:
        query = query.where(Beneficiary.id > _decode(cursor))
    query = query.order_by(Beneficiary.id).limit(limit + 1)
    async with db.transaction(tenant_id=tenant.id) as uow:
        rows = list((await uow.session.scalars(query)).all())
        more = len(rows) > limit
        rows = rows[:limit]
        docs = await documents_of(uow.session, tenant.id, [p.id for p in rows])
        if is_staff(actor) and rows:
            await audit_reads(uow, actor, "beneficiary.list", [p.id for p in rows])
        items = [member_out(p, docs[p.id]) for p in rows]
    return MemberPage(items=items, next_cursor=_encode(rows[-1].id) if more else None)


async def document_holders(
    session: AsyncSession, tenant: TenantInfo, id_type: str, number: str
) -> Select[Any]:
    """The ids of the people holding exactly this ID document (checked, then blind-matched)."""
    value = validate_id_number(config=tenant.config, id_type=id_type, value=number, field="number")
    match = await blind_match(
        session, BeneficiaryDocument.number_bidx, tenant_id=tenant.id, kind="id_number", value=value
    )
    return select(BeneficiaryDocument.beneficiary_id).where(
        BeneficiaryDocument.tenant_id == tenant.id, BeneficiaryDocument.id_type == id_type, match
    )


async def _criterion(
    session: AsyncSession,
    tenant: TenantInfo,
    *,
    id_type: str | None,
    number: str | None,
    phone: str | None,
    reference: str | None,
) -> tuple[SearchBy, ColumnElement[bool] | Select[Any]]:
    given = [k for k, v in (("number", number), ("phone", phone), ("reference", reference)) if v]
    if len(given) != 1 or (number and not id_type) or (id_type and not number):
        raise ValidationFailed(
            N_("search by exactly one of: id_type + number, phone, reference"),
            errors=[
                field_error("query", N_("give exactly one of id_type+number, phone, reference"))
            ],
        )
    if number and id_type:
        return "id_number", await document_holders(session, tenant, id_type, number)
    if phone:
        e164 = normalise_phone(phone, region=tenant.config.phone.default_region)
        try:
            where = await blind_match(
                session, Beneficiary.phone_bidx, tenant_id=tenant.id, kind="phone", value=e164
            )
        except InvalidFieldValueError as exc:
            raise invalid("phone", N_("is not a valid phone number")) from exc
        return "phone", where
    assert reference is not None
    return "reference", Beneficiary.reference == normalise_code(reference)


async def _survivors(
    session: AsyncSession, tenant_id: uuid.UUID, actor: Actor, rows: list[Beneficiary]
) -> list[Beneficiary]:
    """Found rows with each merged record replaced by its survivor, as get answers.

    A survivor outside the actor's scope is left out (get would answer 404); one found
    twice (itself and a record merged into it) is listed once.
    """
    out: dict[uuid.UUID, Beneficiary] = {}
    for row in rows:
        person = (
            await load_person(session, tenant_id, row.id) if row.status == STATUS_MERGED else row
        )
        if person is None or person.status == STATUS_MERGED:
            continue  # a broken or too long chain: get would not answer either
        if person is row or can(actor, READ, resource(person)):
            out.setdefault(person.id, person)
    return sorted(out.values(), key=lambda p: p.id)


async def search_members(
    *,
    db: Database,
    tenant: TenantInfo,
    actor: Actor,
    id_type: str | None = None,
    number: str | None = None,
    phone: str | None = None,
    reference: str | None = None,
) -> list[MemberOut]:
    """People in the actor's scope with exactly this ID document, phone or slip reference."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        by, criterion = await _criterion(
            uow.session, tenant, id_type=id_type, number=number, phone=phone, reference=reference
        )
        where = Beneficiary.id.in_(criterion) if isinstance(criterion, Select) else criterion
        query = (
            select(Beneficiary)
            .where(Beneficiary.tenant_id == tenant.id, where, reach_filter(actor, tenant, READ))
            .order_by(Beneficiary.id)
            .limit(PAGE_MAX)
        )
        rows = list((await uow.session.scalars(query)).all())
        if any(p.status == STATUS_MERGED for p in rows):
            rows = await _survivors(uow.session, tenant.id, actor, rows)
        docs = await documents_of(uow.session, tenant.id, [p.id for p in rows])
        if is_staff(actor):
            await audit_reads(uow, actor, "beneficiary.search", [p.id for p in rows], by=by)
        return [member_out(p, docs[p.id]) for p in rows]
