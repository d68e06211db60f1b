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
from vaxport.scheduling.sessions.ending import cancel_session, cancel_slot, close_session
from vaxport.scheduling.sessions.plans import max_dose_number
from vaxport.scheduling.sessions.publishing import publish as publish_session
from vaxport.scheduling.sessions.reads import get_session, list_sessions
from vaxport.scheduling.sessions.schemas import (
    EndedOut,
    ListQuery,
    PublishedOut,
    SessionIn,
    SessionOut,
    SessionPage,
)

__all__ = [
    "Assessment",
    "Booked",
    "CountedDose",
    "DiseaseStatus",
    "Dose",
    "EndedOut",
    "ListQuery",
    "Offer",
    "Person",
    "PublishedOut",
    "Reason",
    "RefusalCode",
    "Series",
    "SessionIn",
    "SessionOut",
    "SessionPage",
    "age_window",
    "assess",
    "assess_product",
    "booking_limit_refusals",
    "cancel_session",
    "cancel_slot",
    "close_session",
    "count_series",
    "get_session",
    "list_sessions",
    "max_dose_number",
    "publish_session",
]
