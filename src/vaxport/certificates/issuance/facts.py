"""What is true of a person now, as certificates state it: their name and birth
(registration) and their recorded doses (immunization, the records merged into them
included), minus the doses an admin withheld.

Each fact has a fingerprint (SHA-256 over its canonical JSON). A stored certificate
keeps the fingerprints of what it states, encrypted with its payload; recomputation
compares them with these to tell a certificate still true (kept, or superseded by one
that states more) from one that states something no longer true (revoked). Only the
recorded facts enter a fingerprint, never catalogue data, so a change of the tenant's
configuration never revokes a certificate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vaxport.certificates.content import DccCodes, Dose, Holder
from vaxport.certificates.issuance.models import WithheldDose
from vaxport.facilities import service as facilities
from vaxport.immunization import service as immunization
from vaxport.registration import service as registration
from vaxport.tenancy.service import TenantInfo


def fingerprint(value: Any) -> str:
    """SHA-256 (hex) of ``value``'s canonical JSON."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class HolderFacts:
    """The person's names and birth as a certificate prints them."""

    family_name: str | None
    given_name: str | None
    birth_date: dt.date | None
    birth_year: int | None

    def holder(self, subject_id: str) -> Holder:
        """The encoders' holder; ``subject_id`` derives the SHC ``rid`` (one per card)."""
        return Holder(
            subject_id=subject_id,
            family_name=self.family_name,
            given_name=self.given_name,
            birth_date=self.birth_date,
            birth_year=self.birth_year if self.birth_date is None else None,
        )

    @property
    def fp(self) -> str:
        return fingerprint([self.family_name, self.given_name, self.birth_date, self.birth_year])


@dataclass(frozen=True, slots=True)
class DoseFacts:
    """One recorded dose, with the content the encoders take."""

    id: uuid.UUID
    content: Dose
    fp: str

    @property
    def key(self) -> str:
        return str(self.id)


@dataclass(slots=True)
class Facts:
    """Everything a person's certificates may state now (see the module docstring)."""

    person_id: uuid.UUID
    holder: HolderFacts
    doses: list[DoseFacts] = field(default_factory=list)
    # Recorded doses an admin withheld, by dose id: the reason (fraud, faulty-lot).
    withheld: dict[str, str] = field(default_factory=dict)

    @property
    def dose_fps(self) -> dict[str, str]:
        return {d.key: d.fp for d in self.doses}


def _content(
    tenant: TenantInfo, dose: immunization.CertifiedDose, centres: dict[uuid.UUID, str]
) -> Dose:
    config = tenant.config
    product = next((p for p in config.vaccines if p.id == dose.product_id), None)
    country = config.certificates.country or config.phone.default_region
    codes = product.dcc if product is not None else None
    return Dose(
        product_name=product.name if product is not None else dose.product_id,
        dose_number=dose.dose_number,
        # A booster counts as n/n after the primary series (the EU encoding rules).
        series_doses=max(product.doses_in_primary_series if product else 1, dose.dose_number),
        date=dose.day,
        country=country,
        dcc=DccCodes(
            tg=codes.disease_agent,
            vp=codes.prophylaxis,
            mp=codes.medicinal_product,
            ma=codes.marketing_authorisation_holder,
        )
        if codes is not None
        else None,
        cvx=product.cvx if product is not None else None,
        lot_number=dose.lot_number,
        performer=centres.get(dose.facility_id) if dose.facility_id else None,
    )


def _dose_fp(dose: immunization.CertifiedDose) -> str:
    return fingerprint([dose.product_id, dose.series, dose.dose_number, dose.day, dose.lot_number])


async def gather(
    session: AsyncSession, tenant: TenantInfo, person: registration.PersonRecord
) -> Facts:
    """The facts of the active person ``person`` (a survivor reads its merged records)."""
    by_year = tenant.config.birth_precision != "date" or person.birth_date is None
    holder = HolderFacts(
        family_name=person.family_name,
        given_name=person.given_name or None,
        birth_date=None if by_year else person.birth_date,
        birth_year=person.birth_year if by_year else None,
    )
    recorded = await immunization.certified_doses(session, tenant.id, person.id)
    withheld: dict[str, str] = {}
    if recorded:
        rows = await session.execute(
            select(WithheldDose.dose_id, WithheldDose.reason).where(
                WithheldDose.tenant_id == tenant.id,
                WithheldDose.dose_id.in_([d.id for d in recorded]),
            )
        )
        withheld = {str(r[0]): r[1] for r in rows.all()}
    # The centre's name is catalogue data, like the product's: shown, never fingerprinted.
    centres = await facilities.names_in(session, tenant, (d.facility_id for d in recorded))
    doses = [
        DoseFacts(d.id, _content(tenant, d, centres), _dose_fp(d))
        for d in recorded
        if str(d.id) not in withheld
    ]
    return Facts(person_id=person.id, holder=holder, doses=doses, withheld=withheld)
