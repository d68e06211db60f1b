"""A person's facts as columns of another context's statement (one round trip for all).

A use case on the hot path (recording a dose) needs a person's facts beside its own rows
(the lot, the dose history): :func:`person_read` gives the columns to select, the table
to join its own to, the condition and the values of its parameters, and
:meth:`PersonRead.facts_in` reads the row back into :class:`PersonFacts` with the same
checks as :func:`~vaxport.registration.scheduling_facts.person_in_reach` (active, in the
actor's reach, the facility's booked-today reach included). The person's own key travels
in the same row, so their fields open without another query.

What this fast path does not answer (a merged record, whose survivor must be followed; a
destroyed key) it leaves to ``person_in_reach``: ``facts_in`` then returns None.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    Table,
    Uuid,
    and_,
    bindparam,
    exists,
    select,
)

from vaxport.core.crypto import SubjectKey, get_keyring, open_column
from vaxport.core.db import UnitOfWork
from vaxport.core.errors import NotFound
from vaxport.core.i18n import N_
from vaxport.identity.service import Actor, Resource, can
from vaxport.registration.declared import codes_of
from vaxport.registration.facts import PersonFacts
from vaxport.registration.models import STATUS_ACTIVE, Beneficiary
from vaxport.registration.reach import BOOKED_PARAMS, booked_extends, booked_today
from vaxport.tenancy.service import TenantInfo

__all__ = ["PersonRead", "person_read"]

PEOPLE = cast(Table, Beneficiary.__table__)
KEYS = cast(Table, SubjectKey.__table__)
TENANT = bindparam("pr_tenant", None, type_=Uuid())
PERSON = bindparam("pr_person", None, type_=Uuid())
# Statements are built once per shape (permission, booked-today reach or not): the
# facility and the day are parameters, so one statement serves every centre.
_MADE: dict[tuple[str, bool], PersonRead] = {}


@dataclass(frozen=True, slots=True, eq=False)
class PersonRead:
    """Columns (in order), the table to join to (people, with their keys) and the
    condition that picks the person; :meth:`params` fills its parameters."""

    columns: tuple[ColumnElement[Any], ...]
    source: FromClause
    where: ColumnElement[bool]
    permission: str
    booked: bool  # the last column says whether the person is booked at the centre today

    def params(
        self, tenant: TenantInfo, actor: Actor, beneficiary_id: uuid.UUID | None
    ) -> dict[str, Any]:
        """The values of the statement's parameters for ``actor``'s request (``None``:
        the caller's statement names the person, :meth:`where_for`)."""
        values: dict[str, Any] = {"pr_tenant": tenant.id, "pr_person": beneficiary_id}
        if self.booked:
            day = tenant.config.local_today()
            values.update(zip(BOOKED_PARAMS, (tenant.id, actor.facility_id, day), strict=True))
        return values

    def where_for(self, person: ColumnElement[uuid.UUID]) -> ColumnElement[bool]:
        """:attr:`where` for the person named by ``person`` (a column of the caller's
        statement: one row of a batch) instead of the ``pr_person`` parameter."""
        return and_(PEOPLE.c.tenant_id == TENANT, PEOPLE.c.id == person)

    def alone(self) -> Select[Any]:
        """The person's columns alone, as a statement (built once)."""
        return _alone(self)

    async def key_in(self, uow: UnitOfWork, values: Sequence[Any] | None) -> None:
        """Keep the person's key read in ``values`` (None: no row) for ``uow``, so their
        fields seal without a lookup: for a caller that reached them another way (no
        check here; a missing key is left to the keyring as it would be)."""
        if values is None or values[9] is None:
            return
        pid, tenant_id, sealed = values[0], values[1], bytes(values[9])
        await uow.run_sync(lambda s: get_keyring().adopt_subject_key(s, tenant_id, pid, sealed))

    async def facts_in(
        self, uow: UnitOfWork, actor: Actor, values: Sequence[Any] | None
    ) -> PersonFacts | None:
        """The person read (``values``: this read's columns of the row; None: no row),
        when ``actor`` reaches them; 404 when not; None when ``person_in_reach`` must answer
        (a merged record, a destroyed key)."""
        if values is None:
            raise NotFound(N_("beneficiary not found"))
        pid, tenant_id, status, account_id, region, facility_id, birth_year = values[:7]
        birth_raw, declared_raw, wrapped = values[7:10]
        booked = bool(values[10]) if len(values) > 10 else False
        if status != STATUS_ACTIVE:
            return None  # merged (its survivor answers) or gone: the full read says which
        where = Resource(
            tenant_id, region_code=region, facility_id=facility_id, owner_id=account_id
        )
        if not (can(actor, self.permission, where) or booked):
            raise NotFound(N_("beneficiary not found"))
        key = None
        if birth_raw is not None or declared_raw is not None:
            if wrapped is None:
                return None  # the key is gone: the full read refuses as it does
            sealed = bytes(wrapped)
            key = await uow.run_sync(
                lambda s: get_keyring().adopt_subject_key(s, tenant_id, pid, sealed)
            )
        bind = uow.bind

        def opened(field: str, raw: Any) -> Any:
            return open_column(
                bind, Beneficiary, field, tenant_id=tenant_id, row_id=pid,
                raw=None if raw is None else bytes(raw), subject_id=pid, key=key,
            )  # fmt: skip

        declared = opened("declared", declared_raw)
        return PersonFacts(
            id=pid,
            tenant_id=tenant_id,
            account_id=account_id,
            region_code=region,
            facility_id=facility_id,
            birth_date=cast(dt.date | None, opened("birth_date", birth_raw)),
            birth_year=birth_year,
            risk_groups=frozenset(codes_of(declared, "risk_groups")),
            occupations=frozenset(codes_of(declared, "occupations")),
        )


@functools.lru_cache(maxsize=64)
def _alone(read: PersonRead) -> Select[Any]:
    return select(*read.columns).select_from(read.source).where(read.where)


def person_read(*, tenant: TenantInfo, actor: Actor, permission: str) -> PersonRead:
    """How to read a person ``actor`` may reach for ``permission`` within one statement."""
    key = (permission, booked_extends(actor, permission))
    made = _MADE.get(key)
    if made is None:
        booked = booked_today(actor, tenant, permission) if key[1] else None
        made = _MADE[key] = _build(permission, booked)
    return made


def _build(permission: str, booked: Select[Any] | None) -> PersonRead:
    p, k = PEOPLE.c, KEYS.c
    columns: list[ColumnElement[Any]] = [
        p.id, p.tenant_id, p.status, p.account_id, p.region_code, p.facility_id,
        p.birth_year, p.birth_date_enc, p.declared_enc, k.wrapped_key,
    ]  # fmt: skip
    if booked is not None:
        # Built once with the first request's values: each request gives its own, so the
        # port must name them as agreed (else every centre would see the first one's).
        named = set(booked.compile().params)
        if not named.issuperset(BOOKED_PARAMS):
            raise RuntimeError(f"the booked-today port must name its values {BOOKED_PARAMS}")
        column = booked.selected_columns[0]
        columns.append(exists(booked.where(column == p.id)).label("booked_today"))
    source = PEOPLE.outerjoin(KEYS, and_(k.tenant_id == p.tenant_id, k.subject_id == p.id))
    where = and_(p.tenant_id == TENANT, p.id == PERSON)
    return PersonRead(tuple(columns), source, where, permission, booked is not None)
