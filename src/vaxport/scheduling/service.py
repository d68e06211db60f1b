"""The scheduling context's front door: other contexts and the pages import only this.

For now it publishes the schedule engine (:mod:`vaxport.scheduling.engine`, over
:mod:`vaxport.scheduling.history`): pure functions over the tenant configuration and a
person's dose history.
"""

from __future__ import annotations

from vaxport.scheduling.engine import (
    Assessment,
    DiseaseStatus,
    Offer,
    Reason,
    RefusalCode,
    assess,
    assess_product,
    booking_limit_refusals,
)
from vaxport.scheduling.history import (
    Booked,
    CountedDose,
    Dose,
    Person,
    Series,
    age_window,
    count_series,
)
from vaxport.scheduling.search import booking_path, search_slots, slot_calendar
from vaxport.scheduling.search_schemas import CALENDAR_DAYS, CalendarQuery, SlotQuery

__all__ = [
    "CALENDAR_DAYS",
    "Assessment",
    "Booked",
    "CalendarQuery",
    "CountedDose",
    "DiseaseStatus",
    "Dose",
    "Offer",
    "Person",
    "Reason",
    "RefusalCode",
    "Series",
    "SlotQuery",
    "age_window",
    "assess",
    "assess_product",
    "booking_limit_refusals",
    "booking_path",
    "count_series",
    "search_slots",
    "slot_calendar",
]
