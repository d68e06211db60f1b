"""The immunization context's front door: what other contexts and the pages may use.

Recording a dose (:mod:`.recording`), reading doses (:mod:`.records`: a person's
history with the next due date per series, one dose, scheduling's dose source and the
subject-access export's section), the next-dose reminders (:mod:`.reminders`:
``resync_reminders`` is what a void calls to reverse a recording's reminder), vaccine
lots (:mod:`.lots`: the use cases the pages drive and the read recording uses), the
doses certificates are issued from (``certified_doses``, ``doses_of_lot``), adverse
event reports (:mod:`.aefi`: reporting and reading them, the export's section and the
outbox subscribers), corrections and voids of dose records (:mod:`.corrections`: the
use cases, and the port through which the certificates context says whether a dose has
a certificate).
"""

from __future__ import annotations

from vaxport.immunization.aefi.messages import SUBSCRIBERS as AEFI_SUBSCRIBERS
from vaxport.immunization.aefi.reads import export_reports as export_aefi
from vaxport.immunization.aefi.reads import list_reports as list_aefi
from vaxport.immunization.aefi.reads import member_reports as member_aefi
from vaxport.immunization.aefi.reporting import report_as_citizen as report_member_aefi
from vaxport.immunization.aefi.reporting import report_as_staff as report_aefi
from vaxport.immunization.aefi.schemas import AefiIn, AefiListQuery, AefiOut, AefiSummary
from vaxport.immunization.corrections.correcting import correct_dose
from vaxport.immunization.corrections.history import list_revisions
from vaxport.immunization.corrections.ports import CertificateExists, install_certificate_exists
from vaxport.immunization.corrections.voiding import approve_void, void_dose
from vaxport.immunization.events import DOSE_CORRECTED, DOSE_RECORDED, DOSE_VOIDED
from vaxport.immunization.lots.schemas import LotIn, LotListQuery, LotOut
from vaxport.immunization.lots.service import change as change_lot
from vaxport.immunization.lots.service import create as create_lot
from vaxport.immunization.lots.service import find_lot, list_lots, usable_lots
from vaxport.immunization.lots.writes import LotExists, normalise_lot_number
from vaxport.immunization.models import DOSE_STATUSES, ROUTES, SITES, Dose, Lot
from vaxport.immunization.recording import kept_answer, record_dose
from vaxport.immunization.records import (
    CertifiedDose,
    certified_doses,
    doses_of_lot,
    export_section,
    get_dose,
    list_doses,
    recorded_doses,
)
from vaxport.immunization.reminders import NEXT_DUE, resync_reminders
from vaxport.immunization.schemas import DoseHistoryOut, DoseIn, DoseOut, SeriesOut

__all__ = [
    "AEFI_SUBSCRIBERS",
    "DOSE_CORRECTED",
    "DOSE_RECORDED",
    "DOSE_STATUSES",
    "DOSE_VOIDED",
    "NEXT_DUE",
    "ROUTES",
    "SITES",
    "AefiIn",
    "AefiListQuery",
    "AefiOut",
    "AefiSummary",
    "CertificateExists",
    "CertifiedDose",
    "Dose",
    "DoseHistoryOut",
    "DoseIn",
    "DoseOut",
    "Lot",
    "LotExists",
    "LotIn",
    "LotListQuery",
    "LotOut",
    "SeriesOut",
    "approve_void",
    "certified_doses",
    "change_lot",
    "correct_dose",
    "create_lot",
    "doses_of_lot",
    "export_aefi",
    "export_section",
    "find_lot",
    "get_dose",
    "install_certificate_exists",
    "kept_answer",
    "list_aefi",
    "list_doses",
    "list_lots",
    "list_revisions",
    "member_aefi",
    "normalise_lot_number",
    "record_dose",
    "recorded_doses",
    "report_aefi",
    "report_member_aefi",
    "resync_reminders",
    "usable_lots",
    "void_dose",
]
