"""The resources we serve, built from our records and validated by the FHIR models.

Every resource passes through its ``fhir.resources`` model before it leaves
(:func:`validated`): a shape the model refuses is our bug and fails loudly (500, logged),
never a malformed resource sent. The models are R4B's (``fhir.resources`` 8 ships no R4
package); the resources served here have the same shape in R4 (docs/fhir.md).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.immunization import Immunization
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient
from fhir_core.fhirabstractmodel import FHIRAbstractModel

from vaxport import __version__
from vaxport.core.ids import uuid7
from vaxport.immunization.fhir import codes
from vaxport.immunization.fhir.codes import Systems
from vaxport.registration.service import PersonRecord
from vaxport.tenancy.service import TenantInfo

FHIR_JSON = "application/fhir+json"
# What the CapabilityStatement declares; the served shapes are R4's (see the docstring).
FHIR_VERSION = "4.0.1"
EVERYTHING = "http://hl7.org/fhir/OperationDefinition/Patient-everything"

MODELS: dict[str, type[FHIRAbstractModel]] = {
    "Bundle": Bundle,
    "CapabilityStatement": CapabilityStatement,
    "Immunization": Immunization,
    "OperationOutcome": OperationOutcome,
    "Patient": Patient,
}


def validated(resource: dict[str, Any]) -> dict[str, Any]:
    """``resource`` as its FHIR model reads and writes it back (raises if it is invalid)."""
    model = MODELS[resource["resourceType"]].model_validate(resource)
    out: dict[str, Any] = model.model_dump(mode="json")
    return out


@dataclass(frozen=True, slots=True)
class DoseView:
    """One dose record with what its Immunization shows of its lot and facility."""

    id: uuid.UUID
    patient_id: uuid.UUID
    product_id: str
    series: str
    dose_number: int
    administered_at: dt.datetime
    site: str | None
    route: str | None
    status: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    lot_number: str | None
    lot_expires_on: dt.date | None
    lot_manufacturer: str | None
    facility_name: str | None


def _instant(value: dt.datetime) -> str:
    """A stored time (UTC; SQLite gives it back naive) as a FHIR instant."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat(timespec="seconds")


def _meta(version: int, updated_at: dt.datetime) -> dict[str, str]:
    return {"versionId": str(version), "lastUpdated": _instant(updated_at)}


def patient(tenant: TenantInfo, systems: Systems, person: PersonRecord) -> dict[str, Any]:
    """A registered person as a Patient (birth year only where the tenant records years)."""
    name: dict[str, Any] = {"use": "official", "given": [person.given_name]}
    if person.family_name:
        name["family"] = person.family_name
    name["text"] = " ".join(p for p in (person.given_name, person.family_name) if p)
    birth = f"{person.birth_year:04d}"
    if tenant.config.birth_precision != "year" and person.birth_date is not None:
        birth = person.birth_date.isoformat()
    telecom = [
        {"system": system, "value": value}
        for system, value in (("phone", person.phone), ("email", person.email))
        if value
    ]
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(person.id),
        "meta": {"lastUpdated": _instant(person.updated_at)},
        "identifier": [{"system": systems.reference, "value": person.reference}],
        "active": True,
        "name": [name],
        "gender": person.sex,
        "birthDate": birth,
    }
    if telecom:
        resource["telecom"] = telecom
    return validated(resource)


def immunization(tenant: TenantInfo, systems: Systems, dose: DoseView) -> dict[str, Any]:
    """A dose record as an Immunization (a voided one: ``entered-in-error``)."""
    product = tenant.config.products.get(dose.product_id)
    disease = product.disease if product is not None else dose.series
    resource: dict[str, Any] = {
        "resourceType": "Immunization",
        "id": str(dose.id),
        "meta": _meta(dose.version, dose.updated_at),
        "status": "completed" if dose.status == "recorded" else "entered-in-error",
        "vaccineCode": codes.vaccine_code(systems, dose.product_id, product),
        "patient": {"reference": f"Patient/{dose.patient_id}"},
        "occurrenceDateTime": _instant(dose.administered_at),
        "recorded": _instant(dose.created_at),
        "primarySource": True,
    }
    manufacturer = dose.lot_manufacturer or (product.manufacturer if product else None)
    if manufacturer:
        resource["manufacturer"] = {"display": manufacturer}
    if dose.lot_number:
        resource["lotNumber"] = dose.lot_number
    if dose.lot_expires_on:
        resource["expirationDate"] = dose.lot_expires_on.isoformat()
    if dose.site:
        resource["site"] = codes.site(systems, dose.site)
    if dose.route:
        resource["route"] = codes.route(systems, dose.route)
    if dose.facility_name:
        resource["performer"] = [
            {"function": codes.ADMINISTERING, "actor": {"display": dose.facility_name}}
        ]
    resource["protocolApplied"] = [
        {
            "series": dose.series,
            "targetDisease": [codes.target_disease(systems, disease, product)],
            "doseNumberPositiveInt": dose.dose_number,
        }
    ]
    return validated(resource)


def searchset(
    self_url: str, entries: Sequence[tuple[str, dict[str, Any], str]], *, total: int
) -> dict[str, Any]:
    """A searchset Bundle of ``(fullUrl, resource, search mode)`` entries."""
    return validated(
        {
            "resourceType": "Bundle",
            "id": str(uuid7()),
            "type": "searchset",
            "total": total,
            "link": [{"relation": "self", "url": self_url}],
            "entry": [
                {"fullUrl": url, "resource": resource, "search": {"mode": mode}}
                for url, resource, mode in entries
            ],
        }
    )


def capability_statement(tenant: TenantInfo, base: str, published: dt.datetime) -> dict[str, Any]:
    """What this server does for the tenant, exactly: the reads and the one search."""
    read = [{"code": "read"}]
    return validated(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": _instant(published),
            "publisher": tenant.name,
            "kind": "instance",
            "software": {"name": "vaxport", "version": __version__},
            "implementation": {"description": f"vaxport FHIR API of {tenant.name}", "url": base},
            "fhirVersion": FHIR_VERSION,
            "format": [FHIR_JSON, "json"],
            "rest": [
                {
                    "mode": "server",
                    "security": {
                        "cors": True,
                        "description": (
                            "Bearer access token of the vaxport API (staff: POST "
                            f"/api/v1/{tenant.code}/auth/login; citizens: POST "
                            f"/api/v1/{tenant.code}/auth/code/verify). Staff need doses:read "
                            "and reach the person; citizens read their own members."
                        ),
                    },
                    "resource": [
                        {
                            "type": "Patient",
                            "interaction": read,
                            "operation": [{"name": "everything", "definition": EVERYTHING}],
                        },
                        {
                            "type": "Immunization",
                            "interaction": [*read, {"code": "search-type"}],
                            "searchParam": [
                                {
                                    "name": "patient",
                                    "type": "reference",
                                    "documentation": "Required: the Patient's id",
                                }
                            ],
                        },
                    ],
                }
            ],
        }
    )


def operation_outcome(
    code: str, diagnostics: str, expressions: Sequence[str] = ()
) -> dict[str, Any]:
    """An OperationOutcome with one error issue, or one per field named."""
    issues: list[dict[str, Any]] = [
        {"severity": "error", "code": code, "diagnostics": diagnostics}
        | ({"expression": [expression]} if expression else {})
        for expression in (expressions or [""])
    ]
    return validated({"resourceType": "OperationOutcome", "issue": issues})
