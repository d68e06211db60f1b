"""Adverse event reports as the API shows them (read inside the session: fields decrypt)."""

from __future__ import annotations

from typing import Any

from vaxport.immunization.aefi.models import AefiReport
from vaxport.immunization.aefi.schemas import AefiOut, AefiSummary

_SUMMARY = tuple(AefiSummary.model_fields)


def _plain(report: AefiReport) -> dict[str, Any]:
    return {name: getattr(report, name) for name in _SUMMARY}


def summary_out(report: AefiReport) -> AefiSummary:
    """A report in a list: no symptoms, no narrative."""
    return AefiSummary.model_validate(_plain(report))


def report_out(report: AefiReport) -> AefiOut:
    """A report in full, decrypted."""
    return AefiOut.model_validate(
        {
            **_plain(report),
            "symptoms": list(report.symptoms or []),
            "narrative": report.narrative,
            "triage_note": report.triage_note,
            "triaged_at": report.triaged_at,
        }
    )
