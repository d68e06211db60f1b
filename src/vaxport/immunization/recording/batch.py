"""Many doses at once in a caller's transaction: an offline sync's chunk.

Each dose meets :func:`~.use_case.record_in`'s checks, in the same order and with the
same refusals, on what one statement read for the whole chunk (``reads.read_many``), and
the doses that pass are written by one batch (``writes.write_many``) in a savepoint:
on PostgreSQL a chunk of 50 costs the round trips one dose cost.

What this fast way does not answer is left to ``record_in``, one dose at a time in the
same transaction (the answer ``None``): a merged record (its survivor's history), an
appointment to complete, a person a second time in the chunk (the first dose must be
seen), a dose recorded already (sync queues it for review), and every dose of a batch
whose write failed (a dose or a client UUID written meanwhile, a person erased or
merged meanwhile): the savepoint is rolled back and each is then answered alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError

from vaxport.core.db import UnitOfWork
from vaxport.core.errors import NotFound, Problem
from vaxport.identity.service import Actor
from vaxport.immunization.checks import DoseTaken
from vaxport.immunization.models import Dose
from vaxport.immunization.recording.reads import read_many
from vaxport.immunization.recording.use_case import (
    WRITE,
    Offline,
    check_request,
    checked_dose,
)
from vaxport.immunization.recording.writes import write_many
from vaxport.immunization.schemas import DoseIn, DoseOut
from vaxport.tenancy.service import TenantInfo

__all__ = ["record_many_in"]


class _NotAllMarked(Exception):  # noqa: N818 - a signal to roll back, caught below
    """Someone of the batch was not marked vaccinated (gone meanwhile): roll it back."""


async def record_many_in(
    uow: UnitOfWork,
    *,
    tenant: TenantInfo,
    actor: Actor,
    items: Sequence[tuple[DoseIn, Offline]],
    now: dt.datetime,
) -> list[DoseOut | Problem | None]:
    """Per item, in order: the dose written (its answer), its refusal (a :class:`Problem`;
    :class:`NotFound` for a person out of reach), or None: ``record_in`` must answer."""
    results: list[DoseOut | Problem | None] = [None] * len(items)
    asked: list[int] = []
    for i, (body, offline) in enumerate(items):
        if body.appointment_id is None and body.booking_code is None:
            try:
                check_request(tenant, body, now, offline)
            except Problem as problem:
                results[i] = problem
                continue
            asked.append(i)
    wanted = [(items[i][0], items[i][0].facility_id or actor.facility_id) for i in asked]
    read = await read_many(uow, tenant=tenant, actor=actor, wanted=wanted, permission=WRITE)
    ready: list[tuple[int, Dose, DoseOut]] = []
    people: set[object] = set()
    for i, facts in zip(asked, read, strict=True):
        if isinstance(facts, NotFound):
            results[i] = facts
            continue
        if facts.person is None or facts.person.id in people:
            continue  # the long way: a merged record; a second dose of the chunk's person
        body, offline = items[i]
        try:
            made = checked_dose(tenant, actor, body, now, offline, facts)
        except DoseTaken:
            continue  # the long way finds it again and says what it met
        except Problem as problem:
            results[i] = problem
            continue
        if made is not None:
            people.add(facts.person.id)
            ready.append((i, *made))
    if ready and await _written(uow, actor, ready, items[ready[0][0]][1].device_id):
        for i, _row, out in ready:
            results[i] = out
    return results


async def _written(
    uow: UnitOfWork, actor: Actor, ready: list[tuple[int, Dose, DoseOut]], device_id: str
) -> bool:
    """The doses written together in a savepoint; False (nothing written) when it failed."""
    try:
        async with uow.savepoint():
            if not await write_many(uow, actor, [row for _, row, _ in ready], device_id):
                raise _NotAllMarked
    except (IntegrityError, _NotAllMarked):
        return False
    return True
