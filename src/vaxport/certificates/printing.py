"""A person's current certificates for the pages: listed and printed as PDF (the
``.smart-health-card`` file is issuance's ``reads.smart_health_card_file``).

The stored certificates are issuance's (``issuance.reads.current_in``). Every use case
first authorizes the actor on the person itself (``certificates:read``: a citizen their
own members, staff the people in their reach; 404 otherwise) and audits staff reads and
prints in the same transaction.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from dataclasses import dataclass

from vaxport.certificates.issuance.reads import NO_CERTIFICATE, READ, current_in
from vaxport.certificates.pdf import LAYOUTS, CertificateView, render_pdf
from vaxport.certificates.printable import (
    StoredCertificate,
    dcc_dose_dates,
    view_of,
)
from vaxport.core import audit
from vaxport.core.db import Database
from vaxport.core.errors import NotFound, invalid
from vaxport.core.i18n import N_
from vaxport.identity.service import Actor
from vaxport.registration import service as registration
from vaxport.tenancy.service import TenantInfo


@dataclass(frozen=True, slots=True)
class PersonCertificates:
    """A person's current certificates and what they say (``view``: None when none;
    ``dose_dates``: the date of the dose each EU DCC certifies, by certificate id)."""

    beneficiary_id: uuid.UUID
    certificates: tuple[StoredCertificate, ...]
    view: CertificateView | None
    dose_dates: dict[str, dt.date]

    def find(self, certificate_id: str) -> StoredCertificate:
        """One of them by id (404 otherwise)."""
        for certificate in self.certificates:
            if str(certificate.id) == certificate_id:
                return certificate
        raise NotFound(NO_CERTIFICATE)


async def _read(
    db: Database,
    tenant: TenantInfo,
    actor: Actor,
    beneficiary_id: uuid.UUID,
    action: str,
    **details: str,
) -> PersonCertificates:
    """The person's current certificates when ``actor`` reaches them (404 otherwise), in
    one transaction with the audit of a staff read or print."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        person = await registration.person_in_reach(
            uow, tenant=tenant, actor=actor, beneficiary_id=beneficiary_id, permission=READ
        )
        if actor.kind != "citizen":
            await audit.record(
                uow,
                by=actor.principal,
                action=action,
                object_type="beneficiary",
                object_id=person.id,
                details=details or None,
            )
        current = tuple(await current_in(uow, tenant.id, person.id))
    view = view_of(current, tenant=tenant) if current else None
    return PersonCertificates(person.id, current, view, dcc_dose_dates(current))


async def person_certificates(
    *, db: Database, tenant: TenantInfo, actor: Actor, beneficiary_id: uuid.UUID
) -> PersonCertificates:
    """A person's current certificates, for an actor who reaches them (else 404)."""
    return await _read(db, tenant, actor, beneficiary_id, "certificate.read")


async def certificate_pdf(
    *,
    db: Database,
    tenant: TenantInfo,
    actor: Actor,
    beneficiary_id: uuid.UUID,
    layout: str,
    locale: str,
    public_url: str,
) -> bytes:
    """The person's certificate as a PDF (404 when they have none; staff prints audited)."""
    if layout not in LAYOUTS:
        raise invalid("layout", N_("must be one of {choices}"), choices=", ".join(LAYOUTS))
    found = await _read(db, tenant, actor, beneficiary_id, "certificate.printed", layout=layout)
    if found.view is None:
        raise NotFound(NO_CERTIFICATE)
    # Rendering takes tens of milliseconds of CPU: off the event loop.
    return await asyncio.to_thread(
        render_pdf, found.view, layout=layout, locale=locale, public_url=public_url
    )
