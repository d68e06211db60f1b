"""What contexts above registration add to a person's subject-access export.

Registration sits below the contexts that keep records about a person (immunization:
doses, adverse event reports), so it cannot ask them; the composition root installs, at
start-up, one function per section (``wiring.install``). Each is called in the export's
own transaction (read there, decrypted) and its answer is put under its section name.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

# (session, tenant id, person id) -> the section's JSON-ready records about the person.
SectionExporter = Callable[[AsyncSession, uuid.UUID, uuid.UUID], Awaitable[Any]]

_sections: Mapping[str, SectionExporter] = MappingProxyType({})


def install_export_sections(sections: Mapping[str, SectionExporter]) -> None:
    """Add ``sections`` (name -> exporter) to every subject-access export."""
    global _sections  # noqa: PLW0603 - the composition root's one hook, process-wide
    _sections = MappingProxyType(dict(sections))


async def extra_sections(
    session: AsyncSession, tenant_id: uuid.UUID, beneficiary_id: uuid.UUID
) -> dict[str, Any]:
    """Every installed section's records about the person."""
    return {
        name: await export(session, tenant_id, beneficiary_id) for name, export in _sections.items()
    }
