"""Outbox events of the immunization context (payloads carry ids and small facts).

- ``dose.recorded``: a dose was recorded ``{"dose_id", "beneficiary_id", "series",
  "dose_number", "product_id", "day"}``. Reminders (``reminders.py``) subscribe; later
  certificates and analytics.
- ``dose.corrected``: a record was corrected (same payload, as it is now, with
  ``version`` and ``fields``: the names of the fields changed, never their values);
  certificates and analytics subscribe.
- ``dose.voided``: a record was voided (same payload, with ``version``); reminders
  subscribe, and certificates (revocation) and analytics.
"""

from __future__ import annotations

from vaxport.immunization.models import Dose

DOSE_RECORDED = "dose.recorded"
DOSE_VOIDED = "dose.voided"
DOSE_CORRECTED = "dose.corrected"


def dose_payload(row: Dose) -> dict[str, object]:
    """What a dose event says about its dose (no personal data beyond the person's id)."""
    return {
        "dose_id": str(row.id),
        "beneficiary_id": str(row.beneficiary_id),
        "series": row.series,
        "dose_number": row.dose_number,
        "product_id": row.product_id,
        "day": row.day.isoformat(),
    }
