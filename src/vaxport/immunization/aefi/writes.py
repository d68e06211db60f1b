"""What reporting an adverse event writes: the report (its symptoms and narrative sealed
under the person's key), its audit entry, its ``aefi.serious`` event when serious and
the kept answer of the request's Idempotency-Key, as one batch of statements
(:func:`~vaxport.core.db.write_batch`: one round trip on PostgreSQL).

The key's row is the batch's gate: a key held already fails the batch before the
report is written, and the caller answers as for a retry.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table

from vaxport.core import audit
from vaxport.core.crypto import KeySession, seal_new
from vaxport.core.db import Rows, UnitOfWork, write_batch
from vaxport.core.idempotency import Keep
from vaxport.core.outbox import OutboxEvent, event_row
from vaxport.identity.service import Actor
from vaxport.immunization.aefi.events import AEFI_SERIOUS, serious_payload
from vaxport.immunization.aefi.models import AefiReport
from vaxport.immunization.aefi.presenters import report_out
from vaxport.immunization.aefi.schemas import AefiOut

__all__ = ["write_report"]

REPORTS = cast(Table, AefiReport.__table__)
OUTBOX = cast(Table, OutboxEvent.__table__)


async def write_report(
    uow: UnitOfWork, actor: Actor, report: AefiReport, *, keep: Keep[AefiOut] | None = None
) -> AefiOut:
    """Write ``report`` (every column set) with its audit entry, its event and the kept
    answer; the answer."""
    out = report_out(report)  # from the values given, before they are sealed

    def seal(s: KeySession) -> list[Rows]:
        seal_new(s, report)
        return [keep.render(s, out)] if keep is not None else []

    rows = await uow.run_sync(seal)
    entry: audit.EntryFields = {
        "action": "aefi.report",
        "object_type": "aefi_report",
        "object_id": report.id,
        "details": {"serious": report.serious, "reporter": report.reporter_kind},
    }
    table, audited = audit.entry_rows(uow, by=actor.principal, entries=[entry])
    rows += [
        Rows(REPORTS, [{c.key: report.__dict__.get(c.key) for c in REPORTS.c}]),
        Rows(table, audited),
    ]
    if report.serious:
        rows.append(Rows(OUTBOX, [event_row(uow, AEFI_SERIOUS, serious_payload(report))]))
    await write_batch(uow, rows)
    if keep is not None:
        keep.claim.kept_with(uow)
    return out
