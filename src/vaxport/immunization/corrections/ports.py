"""The certificates context's answer to corrections: does this dose have a certificate?

A void of a dose that a certificate was issued for takes two people (the certificate
must be revoked, and a record a person may already have shown at a border is being
taken back). Certificates sit above immunization (they subscribe to its events), so the
question goes through this port, filled by the composition root (``wiring.install``)
with the certificates context's reader. Until issuance fills it, no dose has one.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["CertificateExists", "certificate_exists", "install_certificate_exists"]

# (session, tenant id, person id, dose id) -> whether a certificate was issued for the
# dose (the person: what the certificates are found by).
CertificateExists = Callable[[AsyncSession, uuid.UUID, uuid.UUID, uuid.UUID], Awaitable[bool]]

_port: CertificateExists | None = None


def install_certificate_exists(port: CertificateExists | None) -> None:
    """Set (or clear) where corrections learn whether a dose has a certificate."""
    global _port  # noqa: PLW0603 - the composition root's one hook, process-wide
    _port = port


async def certificate_exists(
    session: AsyncSession, tenant_id: uuid.UUID, person_id: uuid.UUID, dose_id: uuid.UUID
) -> bool:
    """Whether the person's dose has a certificate, read in the caller's transaction
    (False without a port)."""
    if _port is None:
        return False
    return await _port(session, tenant_id, person_id, dose_id)
