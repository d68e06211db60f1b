"""Where a person's doses come from: the immunization context's records, through a port.

Dose records belong to the immunization context, which sits above scheduling (it books
nothing, but it completes appointments and asks the schedule engine). Scheduling reads a
person's doses through this port, filled by the composition root (``wiring.install``)
with immunization's reader of recorded (not voided) doses, those of the people merged
into the person included. Without it, nobody has a dose: a completed appointment is not
a dose (only a dose record is).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from vaxport.core.db import UnitOfWork
from vaxport.scheduling.history import Dose

__all__ = ["DoseSource", "doses_of", "install_dose_source"]

# (unit of work, tenant id, person id) -> the person's recorded doses.
DoseSource = Callable[[UnitOfWork, uuid.UUID, uuid.UUID], Awaitable[tuple[Dose, ...]]]

_source: DoseSource | None = None


def install_dose_source(source: DoseSource | None) -> None:
    """Set (or clear) the reader of a person's recorded doses."""
    global _source  # noqa: PLW0603 - the composition root's one hook, process-wide
    _source = source


async def doses_of(uow: UnitOfWork, tenant_id: uuid.UUID, person_id: uuid.UUID) -> tuple[Dose, ...]:
    """The person's recorded doses, as the installed source reads them (none without one)."""
    if _source is None:
        return ()
    return await _source(uow, tenant_id, person_id)
