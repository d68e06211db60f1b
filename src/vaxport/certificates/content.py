"""What a certificate says: a holder and their doses, as plain data.

The encoders (:mod:`.dcc`, :mod:`.shc`) are pure functions of these values and a signing
key; issuance builds them from the person (registration) and the dose records
(immunization), so neither encoder knows where the data came from.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


class ContentError(ValueError):
    """The holder or a dose cannot be put on a certificate as given (the message says why)."""


@dataclass(frozen=True, slots=True)
class Holder:
    """The person a certificate is about.

    ``subject_id`` is a stable identifier of the person (never printed; SMART Health Card
    revocation ids are derived from it). ``birth_year`` stands alone only where the
    tenant registers birth years (``registration.birth: year``). The ``*_latin`` names,
    when known (e.g. the Latin line of a passport), take precedence for the DCC's
    ICAO 9303 fields over transliterating the names.
    """

    subject_id: str
    family_name: str | None
    given_name: str | None
    birth_date: dt.date | None = None
    birth_year: int | None = None
    family_name_latin: str | None = None
    given_name_latin: str | None = None

    def __post_init__(self) -> None:
        if not (self.family_name or self.given_name):
            raise ContentError("a holder needs a family name or a given name")
        if self.birth_date is None and self.birth_year is None:
            raise ContentError("a holder needs a birth date or a birth year")
        if self.birth_year is not None and not 1900 <= self.birth_year <= 2099:
            raise ContentError("the birth year must lie between 1900 and 2099")

    @property
    def birth(self) -> str:
        """The birth date as ISO 8601 text (``1964-01-01``, or ``1964`` if only the year)."""
        if self.birth_date is not None:
            return self.birth_date.isoformat()
        return f"{self.birth_year:04d}"


@dataclass(frozen=True, slots=True)
class DccCodes:
    """A product's EU DCC value-set codes (the tenant catalogue's ``dcc``)."""

    tg: str  # disease or agent targeted
    vp: str  # vaccine or prophylaxis
    mp: str  # medicinal product
    ma: str  # marketing authorisation holder or manufacturer


@dataclass(frozen=True, slots=True)
class Dose:
    """One administered dose, as the certificate shows it.

    ``dose_number`` / ``series_doses`` are the DCC's ``dn`` / ``sd`` (a booster is
    ``3/3`` after a two-dose series, as the EU encoding instructions ask: the caller,
    which knows the schedule, decides). ``country`` is where it was given (ISO 3166
    alpha-2). ``dcc`` is None for a product without EU DCC codes: such a dose appears on
    the SMART Health Card and the PDF only.
    """

    product_name: str
    dose_number: int
    series_doses: int
    date: dt.date
    country: str
    dcc: DccCodes | None = None
    cvx: str | None = None
    lot_number: str | None = None
    performer: str | None = None

    def __post_init__(self) -> None:
        if self.dose_number < 1 or self.series_doses < 1:
            raise ContentError("dose number and series doses must be positive")
        if len(self.country) != 2 or not self.country.isascii() or not self.country.isupper():
            raise ContentError("the country of vaccination is an ISO 3166 alpha-2 code")
