"""What the immunization context tells registration, and asks of it, about a person.

A recorded dose marks the person vaccinated (``vaccinated_at``) in the dose's own
transaction, by a conditional UPDATE of the person's row: it takes the row's lock, so an
erasure (which locks the same row and checks ``vaccinated_at`` under that lock,
``changes.erase_in``) either runs first, and the dose finds no one to mark and is
refused, or waits and then finds the person vaccinated and is refused. Never both.

A merge points a record at its survivor; the survivor's dose history includes the
records of everyone merged into it (:func:`with_merged`).
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    FromClause,
    Select,
    Uuid,
    bindparam,
    cast,
    column,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.dml import ReturningUpdate

from vaxport.core.clock import utcnow
from vaxport.core.db import UnitOfWork, UTCDateTime, affected
from vaxport.registration.models import STATUS_ACTIVE, STATUS_MERGED, Beneficiary

__all__ = [
    "created_by_of",
    "mark_vaccinated",
    "marking_many_vaccinated",
    "marking_vaccinated",
    "with_merged",
]


async def mark_vaccinated(
    uow: UnitOfWork, tenant_id: uuid.UUID, beneficiary_id: uuid.UUID, at: dt.datetime
) -> bool:
    """Mark the active person vaccinated (the first dose's time is kept), in ``uow``;
    False when there is no such active person (erased or merged meanwhile)."""
    result = await uow.session.execute(
        update(Beneficiary)
        .where(
            Beneficiary.tenant_id == tenant_id,
            Beneficiary.id == beneficiary_id,
            Beneficiary.status == STATUS_ACTIVE,
        )
        .values(vaccinated_at=func.coalesce(Beneficiary.vaccinated_at, at))
        .execution_options(synchronize_session=False)
    )
    return affected(result) == 1


def marking_vaccinated(
    tenant_id: uuid.UUID, beneficiary_id: uuid.UUID, at: dt.datetime
) -> tuple[ReturningUpdate[Any], dict[str, Any]]:
    """:func:`mark_vaccinated` as a statement and its values, for the caller's
    ``write_batch`` (``query=``): it returns the person's id when it marked them, nothing
    when there is no such active person; rows written ``if_found`` depend on it."""
    params = {
        "vx_tenant": tenant_id,
        "vx_person": beneficiary_id,
        "vx_at": at,
        "vx_now": utcnow(),
    }
    return _marking(), params


@functools.cache
def _marking() -> ReturningUpdate[Any]:
    # Built once: its compiled form is reused by every batch.
    b = Beneficiary
    return (
        update(b)
        .where(
            b.tenant_id == bindparam("vx_tenant", None, type_=Uuid()),
            b.id == bindparam("vx_person", None, type_=Uuid()),
            b.status == STATUS_ACTIVE,
        )
        .values(
            vaccinated_at=func.coalesce(
                b.vaccinated_at, bindparam("vx_at", None, type_=UTCDateTime())
            ),
            # Given: an onupdate default would be computed by SQLAlchemy's execution,
            # which a batch sent on the driver skips.
            updated_at=bindparam("vx_now", None, type_=UTCDateTime()),
        )
        .returning(b.id)
    )


def marking_many_vaccinated(
    tenant_id: uuid.UUID, marks: Sequence[tuple[uuid.UUID, dt.datetime]]
) -> tuple[ReturningUpdate[Any], dict[str, Any]]:
    """:func:`marking_vaccinated` for many people at once (PostgreSQL: their ids and times
    as arrays): it returns the id of each person it marked; rows written ``if_found``
    depend on it, so the caller compares the count with ``marks``."""
    params = {
        "vx_tenant": tenant_id,
        "vx_people": [p for p, _ in marks],
        "vx_times": [at for _, at in marks],
        "vx_now": utcnow(),
    }
    return _marking_many(), params


@functools.cache
def _marking_many() -> ReturningUpdate[Any]:
    b = Beneficiary
    given = (
        func.unnest(
            cast(bindparam("vx_people", None), ARRAY(Uuid())),
            cast(bindparam("vx_times", None), ARRAY(DateTime(timezone=True))),
        )
        .table_valued(column("person", Uuid()), column("at", DateTime(timezone=True)))
        .render_derived(name="vx")
    )
    return (
        update(b)
        .where(
            b.tenant_id == bindparam("vx_tenant", None, type_=Uuid()),
            b.id == given.c.person,
            b.status == STATUS_ACTIVE,
        )
        .values(
            vaccinated_at=func.coalesce(b.vaccinated_at, given.c.at),
            updated_at=bindparam("vx_now", None, type_=UTCDateTime()),
        )
        .returning(b.id)
    )


def with_merged(
    tenant_id: uuid.UUID | ColumnElement[uuid.UUID],
    survivor_id: uuid.UUID | ColumnElement[uuid.UUID],
    *,
    within: FromClause | None = None,
) -> Select[tuple[uuid.UUID]]:
    """A SELECT of ``survivor_id`` and the ids of the records merged into it, directly or
    through others (a recursive query: the caller reads their rows in one round trip).
    Either may be a ``bindparam`` (a statement built once, values given per call), or a
    column of ``within``, a FROM of the caller's statement (the rows of a batch): the
    recursive query then stays inside the subquery that names it, correlated to it."""
    first = survivor_id if isinstance(survivor_id, ColumnElement) else literal(survivor_id, Uuid())
    seed = select(first.label("id"))
    if within is not None:
        seed = seed.correlate(within)
    tree = seed.cte("merged_tree", recursive=True, nesting=within is not None)
    tree = tree.union_all(
        select(Beneficiary.id).where(
            Beneficiary.tenant_id == tenant_id,
            Beneficiary.status == STATUS_MERGED,
            Beneficiary.merged_into_id == tree.c.id,
        )
    )
    return select(tree.c.id)


def created_by_of(
    tenant_id: uuid.UUID, ids: Collection[uuid.UUID]
) -> Select[uuid.UUID, uuid.UUID | None]:
    """A SELECT of ``(id, created_by)`` of the people among ``ids`` (an offline sync's
    walk-ins: which of its UUIDs are people already, and who registered them)."""
    return select(Beneficiary.id, Beneficiary.created_by).where(
        Beneficiary.tenant_id == tenant_id, Beneficiary.id.in_(list(ids))
    )
