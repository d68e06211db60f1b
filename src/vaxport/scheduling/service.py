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
from vaxport.scheduling.fairness.eligibility import NotEligible
from vaxport.scheduling.fairness.schemas import (
    AcceptedOut,
    TicketIn,
    TicketOut,
    WaitlistEntryOut,
    WaitlistIn,
    WaitlistPage,
    WaitlistQuery,
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

# Fairness under surge: the release queue (randomized draw) and the waitlist's offers.
from vaxport.scheduling.holds import HoldExpired, NotHeld
from vaxport.scheduling.holds import accept as accept_offer
from vaxport.scheduling.release import (
    NotReleased,
    ReleaseClosed,
    ReleaseNotOpen,
    ReleaseState,
    get_ticket,
    release_state,
    request_ticket,
)
from vaxport.scheduling.waitlist import AlreadyWaiting
from vaxport.scheduling.waitlist import join as join_waitlist
from vaxport.scheduling.waitlist import leave as leave_waitlist
from vaxport.scheduling.waitlist import list_entries as list_waitlist

__all__ = [
    "AcceptedOut",
    "AlreadyWaiting",
    "Assessment",
    "Booked",
    "CountedDose",
    "DiseaseStatus",
    "Dose",
    "HoldExpired",
    "NotEligible",
    "NotHeld",
    "NotReleased",
    "Offer",
    "Person",
    "Reason",
    "RefusalCode",
    "ReleaseClosed",
    "ReleaseNotOpen",
    "ReleaseState",
    "Series",
    "TicketIn",
    "TicketOut",
    "WaitlistEntryOut",
    "WaitlistIn",
    "WaitlistPage",
    "WaitlistQuery",
    "accept_offer",
    "age_window",
    "assess",
    "assess_product",
    "booking_limit_refusals",
    "count_series",
    "get_ticket",
    "join_waitlist",
    "leave_waitlist",
    "list_waitlist",
    "release_state",
    "request_ticket",
]
