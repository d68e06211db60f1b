"""The outbox event of adverse event reports.

- ``aefi.serious``: a report was made serious, when reported or by triage
  ``{"report_id", "region_code", "lot_id", "product_id"}`` (no person, no symptom): the
  region's admins are told (``messages.py``).
"""

from __future__ import annotations

from vaxport.immunization.aefi.models import AefiReport

AEFI_SERIOUS = "aefi.serious"


def serious_payload(report: AefiReport) -> dict[str, object]:
    """What ``aefi.serious`` says about its report."""
    return {
        "report_id": str(report.id),
        "region_code": report.region_code,
        "lot_id": str(report.lot_id) if report.lot_id else None,
        "product_id": report.product_id,
    }
