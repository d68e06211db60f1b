"""What a person's current certificates say, read back from their signed payloads, so
the PDF and the pages show exactly what a verifier will see.

The SMART Health Card carries every dose (vaccine, date, lot, centre); each EU DCC one
dose with its number in the series. The holder and the doses are read from the card
when there is one, dose numbers from the DCCs where they exist (else counted per
disease), vaccine names from the tenant's catalogue (by CVX or EU medicinal product).
These are this installation's own stored certificates: decoded, not verified.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import base45
import cbor2

from vaxport.certificates import dcc, shc
from vaxport.certificates.content import ContentError, Dose, Holder
from vaxport.certificates.pdf import CertificateView, DccCode
from vaxport.certificates.verify.limits import inflate
from vaxport.tenancy.service import TenantInfo

FORMAT_DCC, FORMAT_SHC = "eu-dcc", "shc"
CURRENT = "current"


class StoredCertificate(Protocol):
    """A stored certificate as the certificates front door answers it (``CertificateOut``)."""

    @property
    def id(self) -> Any: ...
    @property
    def format(self) -> str: ...
    @property
    def issued_at(self) -> dt.datetime: ...
    @property
    def expires_at(self) -> dt.datetime | None: ...
    @property
    def status(self) -> str: ...
    @property
    def qr(self) -> str | None: ...
    @property
    def jws(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class _DccEntry:
    text: str
    nam: dict[str, Any]
    dob: str
    v: dict[str, Any]

    @property
    def date(self) -> dt.date:
        return dt.date.fromisoformat(str(self.v["dt"])[:10])


def _dcc_entry(text: str) -> _DccEntry:
    cose = cbor2.loads(inflate(base45.b45decode(text.removeprefix(dcc.PREFIX)), raw=False))
    message = cose.value if isinstance(cose, cbor2.CBORTag) else cose
    claims = cbor2.loads(message[2])
    hcert = claims[dcc.CWT_HCERT][1]
    return _DccEntry(text, dict(hcert["nam"]), str(hcert["dob"]), dict(hcert["v"][0]))


def _shc_payload(jws: str) -> dict[str, Any]:
    body = jws.split(".")[1]
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    payload: dict[str, Any] = json.loads(inflate(raw, raw=True))
    return payload


def _birth(text: str) -> tuple[dt.date | None, int | None]:
    if len(text) >= 10:
        return dt.date.fromisoformat(text[:10]), None
    return None, int(text[:4])


def _holder_of_card(bundle: dict[str, Any], subject: str) -> Holder:
    patient = bundle["entry"][0]["resource"]
    name = patient.get("name", [{}])[0]
    date, year = _birth(str(patient["birthDate"]))
    given = " ".join(name.get("given", [])) or None
    return Holder(subject, name.get("family"), given, birth_date=date, birth_year=year)


def _holder_of_dcc(entry: _DccEntry, subject: str) -> Holder:
    date, year = _birth(entry.dob)
    return Holder(
        subject,
        entry.nam.get("fn"),
        entry.nam.get("gn"),
        birth_date=date,
        birth_year=year,
        family_name_latin=entry.nam.get("fnt"),
        given_name_latin=entry.nam.get("gnt"),
    )


class _Catalogue:
    """The tenant's vaccines by CVX and by EU medicinal product."""

    def __init__(self, tenant: TenantInfo) -> None:
        products = tenant.config.vaccines
        self.by_cvx = {p.cvx: p for p in products if p.cvx}
        self.by_mp = {p.dcc.medicinal_product: p for p in products if p.dcc}

    def series(self, product: Any, number: int) -> int:
        return max(product.doses_in_primary_series, number) if product else number


def _doses_of_card(
    bundle: dict[str, Any], dccs: list[_DccEntry], catalogue: _Catalogue, country: str
) -> list[Dose]:
    doses: list[Dose] = []
    counted: dict[str, int] = {}
    for entry in bundle["entry"][1:]:
        resource = entry["resource"]
        cvx = str(resource["vaccineCode"]["coding"][0]["code"])
        date = dt.date.fromisoformat(str(resource["occurrenceDateTime"])[:10])
        product = catalogue.by_cvx.get(cvx)
        disease = product.disease if product else cvx
        counted[disease] = counted.get(disease, 0) + 1
        number, series = counted[disease], catalogue.series(product, counted[disease])
        same = [
            d
            for d in dccs
            if d.date == date and (product is None or catalogue.by_mp.get(d.v["mp"]) is product)
        ]
        if same:
            number, series = int(same[0].v["dn"]), int(same[0].v["sd"])
        performer = resource.get("performer", [{}])[0].get("actor", {}).get("display")
        doses.append(
            Dose(
                product_name=product.name if product else f"CVX {cvx}",
                dose_number=number,
                series_doses=series,
                date=date,
                country=same[0].v["co"] if same else country,
                cvx=cvx,
                lot_number=resource.get("lotNumber"),
                performer=performer,
            )
        )
    return doses


def _doses_of_dccs(dccs: list[_DccEntry], catalogue: _Catalogue) -> list[Dose]:
    doses = []
    for d in sorted(dccs, key=lambda e: e.date):
        product = catalogue.by_mp.get(d.v["mp"])
        doses.append(
            Dose(
                product_name=product.name if product else str(d.v["mp"]),
                dose_number=int(d.v["dn"]),
                series_doses=int(d.v["sd"]),
                date=d.date,
                country=str(d.v["co"]),
            )
        )
    return doses


def _shown_dccs(dccs: list[_DccEntry]) -> tuple[DccCode, ...]:
    """The DCC to show per disease: its latest dose's (the one a verifier checks)."""
    latest: dict[str, _DccEntry] = {}
    for d in dccs:
        held = latest.get(str(d.v["tg"]))
        if held is None or (d.date, int(d.v["dn"])) >= (held.date, int(held.v["dn"])):
            latest[str(d.v["tg"])] = d
    return tuple(DccCode(d.text, d.date) for d in sorted(latest.values(), key=lambda e: e.date))


def dcc_dose_dates(certificates: Sequence[StoredCertificate]) -> dict[str, dt.date]:
    """The date of the dose each EU DCC certifies, by certificate id (to tell them apart)."""
    return {
        str(c.id): _dcc_entry(c.qr).date
        for c in certificates
        if c.format == FORMAT_DCC and c.qr and c.qr.startswith(dcc.PREFIX)
    }


def view_of(certificates: Sequence[StoredCertificate], *, tenant: TenantInfo) -> CertificateView:
    """The printable view of a person's current certificates (at least one)."""
    if not certificates:
        raise ContentError("no certificate to print")
    card = next((c for c in certificates if c.format == FORMAT_SHC and c.jws), None)
    dccs = [
        _dcc_entry(c.qr)
        for c in certificates
        if c.format == FORMAT_DCC and c.qr and c.qr.startswith(dcc.PREFIX)
    ]
    settings = tenant.config.certificates
    country = settings.country or "XX"
    catalogue = _Catalogue(tenant)
    subject = str((card or certificates[0]).id)
    if card is not None and card.jws:
        bundle = _shc_payload(card.jws)["vc"]["credentialSubject"]["fhirBundle"]
        holder = _holder_of_card(bundle, subject)
        doses = _doses_of_card(bundle, dccs, catalogue, country)
    elif dccs:
        holder = _holder_of_dcc(dccs[-1], subject)
        doses = _doses_of_dccs(dccs, catalogue)
    else:
        raise ContentError("no certificate in a format that can be printed")
    expiries = [c.expires_at for c in certificates if c.expires_at is not None]
    shc_text = card.qr if card is not None else None
    return CertificateView(
        certificate_id=subject,
        holder=holder,
        doses=tuple(doses),
        issuer=settings.issuer or (str(dccs[0].v["is"]) if dccs else tenant.name),
        issued_at=max(c.issued_at for c in certificates),
        expires_at=min(expiries) if expiries else None,
        dcc=_shown_dccs(dccs),
        shc_text=shc_text if shc_text and shc_text.startswith(shc.PREFIX) else None,
    )
