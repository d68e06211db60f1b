"""Code systems and the codings of our codes: vaccines, diseases, sites, routes.

A product is coded in CVX when the tenant's configuration gives ``cvx``, in SNOMED CT
when its EU DCC ``prophylaxis`` code is a SNOMED CT concept id (the DCC value set also
holds ATC codes, which are not), and always in the tenant's own code system (its product
id), so a reader without either terminology still has an exact code. Sites and routes
map to HL7 v3 ActSite and RouteOfAdministration where those have the concept; the rest
stay in the tenant's code systems. The tenant's systems are URLs under its FHIR base.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from vaxport.tenancy.service import VaccineProduct

CVX = "http://hl7.org/fhir/sid/cvx"
SNOMED = "http://snomed.info/sct"
ACT_SITE = "http://terminology.hl7.org/CodeSystem/v3-ActSite"
ROUTE_OF_ADMINISTRATION = "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration"
PERFORMER_FUNCTION = "http://terminology.hl7.org/CodeSystem/v2-0443"
ISSUE_TYPE = "http://hl7.org/fhir/issue-type"

# A SNOMED CT concept id: 6 to 18 digits, no leading zero (ATC codes start with a letter).
_SCTID = re.compile(r"^[1-9]\d{5,17}$")

# Our site codes (immunization.models.SITES) in v3 ActSite; mouth, nose and "other" have
# no ActSite concept and are sent in the tenant's site system only.
SITES: dict[str, tuple[str, str]] = {
    "left-arm": ("LA", "left arm"),
    "right-arm": ("RA", "right arm"),
    "left-thigh": ("LT", "left thigh"),
    "right-thigh": ("RT", "right thigh"),
}
SITE_TEXT: dict[str, str] = {
    "left-arm": "left arm",
    "right-arm": "right arm",
    "left-thigh": "left thigh",
    "right-thigh": "right thigh",
    "mouth": "mouth",
    "nose": "nose",
    "other": "other site",
}
# Our route codes (immunization.models.ROUTES) in v3 RouteOfAdministration, as FHIR's
# immunization-route value set names them.
ROUTES: dict[str, tuple[str, str]] = {
    "IM": ("IM", "Injection, intramuscular"),
    "SC": ("SQ", "Injection, subcutaneous"),
    "ID": ("IDINJ", "Injection, intradermal"),
    "PO": ("PO", "Swallow, oral"),
    "IN": ("NASINHLC", "Inhalation, nasal"),
}


@dataclass(frozen=True, slots=True)
class Systems:
    """The tenant's own code and identifier systems, under its FHIR base URL."""

    base: str

    @property
    def product(self) -> str:
        return f"{self.base}/CodeSystem/vaccine-product"

    @property
    def disease(self) -> str:
        return f"{self.base}/CodeSystem/disease"

    @property
    def site(self) -> str:
        return f"{self.base}/CodeSystem/site"

    @property
    def route(self) -> str:
        return f"{self.base}/CodeSystem/route"

    @property
    def reference(self) -> str:
        """The identifier system of the reference printed on a person's slip."""
        return f"{self.base}/sid/beneficiary-reference"


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


def is_sctid(code: str | None) -> bool:
    """Whether ``code`` is shaped like a SNOMED CT concept id."""
    return code is not None and bool(_SCTID.match(code))


def vaccine_code(
    systems: Systems, product_id: str, product: VaccineProduct | None
) -> dict[str, Any]:
    """The CodeableConcept of a product (a product no longer configured: its id only)."""
    codings: list[dict[str, str]] = []
    if product is not None and product.cvx:
        codings.append(_coding(CVX, product.cvx))
    if product is not None and product.dcc is not None and is_sctid(product.dcc.prophylaxis):
        codings.append(_coding(SNOMED, product.dcc.prophylaxis))
    name = product.name if product is not None else product_id
    codings.append(_coding(systems.product, product_id, name))
    return {"coding": codings, "text": name}


def target_disease(
    systems: Systems, disease: str, product: VaccineProduct | None
) -> dict[str, Any]:
    """The CodeableConcept of the disease a dose counts toward."""
    codings: list[dict[str, str]] = []
    if product is not None and product.dcc is not None and is_sctid(product.dcc.disease_agent):
        codings.append(_coding(SNOMED, product.dcc.disease_agent))
    codings.append(_coding(systems.disease, disease))
    return {"coding": codings, "text": disease}


def site(systems: Systems, code: str) -> dict[str, Any]:
    """The CodeableConcept of one of our site codes."""
    text = SITE_TEXT.get(code, code)
    codings = [_coding(ACT_SITE, *SITES[code])] if code in SITES else []
    codings.append(_coding(systems.site, code, text))
    return {"coding": codings, "text": text}


def route(systems: Systems, code: str) -> dict[str, Any]:
    """The CodeableConcept of one of our route codes."""
    codings = [_coding(ROUTE_OF_ADMINISTRATION, *ROUTES[code])] if code in ROUTES else []
    codings.append(_coding(systems.route, code))
    return {"coding": codings, "text": ROUTES[code][1] if code in ROUTES else code}


ADMINISTERING = {"coding": [_coding(PERFORMER_FUNCTION, "AP", "Administering Provider")]}
