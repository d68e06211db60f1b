"""Selective disclosure: what a verifier may see of the holder.

Name, birth date and vaccination status only (doses, latest date, product, whether the
series is complete): never identifier numbers, contact details, or the issuing
organisation's free text. Both formats map to one shape::

    {"family_name", "given_name", "birth_date",
     "vaccination": {"doses", "latest_date", "product", "fully_vaccinated"} | None}
"""

from __future__ import annotations

from typing import Any

from vaxport.certificates.verify.dcc_schema import as_json, display


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def dcc_holder(hcert: dict[Any, Any]) -> dict[str, Any]:
    """The disclosed fields of a DCC (one entry; ``dn``/``sd`` say the series' progress)."""
    doc = as_json(hcert)
    nam = doc.get("nam") if isinstance(doc.get("nam"), dict) else {}
    vaccination = None
    entries = doc.get("v")
    if isinstance(entries, list) and entries and isinstance(entries[0], dict):
        entry = entries[0]
        dn, sd = _int(entry.get("dn")), _int(entry.get("sd"))
        product = _text(entry.get("mp"))
        vaccination = {
            "doses": dn,
            "latest_date": _text(entry.get("dt")),
            "product": (display("vaccine-medicinal-product", product) or product)
            if product
            else None,
            "fully_vaccinated": dn >= sd if dn is not None and sd is not None else None,
        }
    return {
        "family_name": _text(nam.get("fn")) or _text(nam.get("fnt")),
        "given_name": _text(nam.get("gn")) or _text(nam.get("gnt")),
        "birth_date": _text(doc.get("dob")),
        "vaccination": vaccination,
    }


def _resources(bundle: Any) -> list[dict[str, Any]]:
    entries = bundle.get("entry") if isinstance(bundle, dict) else None
    if not isinstance(entries, list):
        return []
    return [
        e["resource"]
        for e in entries
        if isinstance(e, dict) and isinstance(e.get("resource"), dict)
    ]


def shc_holder(bundle: Any) -> dict[str, Any]:
    """The disclosed fields of an SHC's FHIR bundle.

    An SHC does not say whether the series is complete, so ``fully_vaccinated`` is
    ``None``; ``product`` is the latest dose's vaccine code (e.g. CVX ``207``).
    """
    resources = _resources(bundle)
    patient = next((r for r in resources if r.get("resourceType") == "Patient"), {})
    names = patient.get("name") if isinstance(patient.get("name"), list) else []
    name = names[0] if names and isinstance(names[0], dict) else {}
    given_names = name.get("given")
    given: list[Any] = given_names if isinstance(given_names, list) else []
    doses = [
        r
        for r in resources
        if r.get("resourceType") == "Immunization" and r.get("status", "completed") == "completed"
    ]
    vaccination = None
    if doses:
        dated = [(str(r.get("occurrenceDateTime") or ""), r) for r in doses]
        latest_date, latest = max(dated, key=lambda pair: pair[0])
        codings = (latest.get("vaccineCode") or {}).get("coding") or [{}]
        coding = codings[0] if isinstance(codings[0], dict) else {}
        vaccination = {
            "doses": len(doses),
            "latest_date": latest_date[:10] or None,
            "product": _text(coding.get("display")) or _text(coding.get("code")),
            "fully_vaccinated": None,
        }
    return {
        "family_name": _text(name.get("family")),
        "given_name": " ".join(g for g in given if isinstance(g, str)) or None,
        "birth_date": _text(patient.get("birthDate")),
        "vaccination": vaccination,
    }
