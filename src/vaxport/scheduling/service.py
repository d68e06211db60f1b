"""The scheduling context's front door: other contexts and the pages import only this.

It publishes the schedule engine (:mod:`vaxport.scheduling.engine`, over
:mod:`vaxport.scheduling.history`): pure functions over the tenant configuration and a
person's dose history.

Booking (:mod:`vaxport.scheduling.booking`): book, reschedule, cancel, the reads of
appointments (:mod:`vaxport.scheduling.reach`), the seat gate's release for seats freed
elsewhere (:func:`seats_freed`) and the people a centre reaches today (:func:`booked_at`,
registration's reach port).

The citizen booking pages' reads (:mod:`vaxport.scheduling.booking_reads`): open seats by
centre and by day, a day's open slots, and one slot for the confirmation step.
"""

from __future__ import annotations

# The day at a centre (attendance/): today's list, a person seen, a session closed.
# ``complete_in`` is the seam dose recording (issue 15) calls in its own transaction.
from vaxport.scheduling.attendance.completing import (
    AppointmentFacts,
    appointment_read,
    booking_code_of,
    completion,
)
from vaxport.scheduling.attendance.completing import facts as appointment_facts
from vaxport.scheduling.attendance.day import find_by_code as find_by_booking_code
from vaxport.scheduling.attendance.day import list_day as list_centre_day
from vaxport.scheduling.attendance.day import session_day
from vaxport.scheduling.attendance.marks import appointment_by_code_in, appointment_in, complete_in
from vaxport.scheduling.attendance.marks import close_session as close_session_attendance
from vaxport.scheduling.attendance.marks import complete as complete_appointment
from vaxport.scheduling.attendance.schemas import (
    ClosedOut,
    DayPage,
    SessionDayOut,
    StaffAppointmentOut,
)
from vaxport.scheduling.booking import book, cancel, kept_answer, reschedule
from vaxport.scheduling.booking_reads import (
    OpenSlot,
    SlotInfo,
    open_days,
    open_places,
    open_slots,
    slot_info,
)
from vaxport.scheduling.booking_schemas import (
    AppointmentIn,
    AppointmentOut,
    AppointmentQuery,
    RescheduleIn,
)
from vaxport.scheduling.doses_port import install_dose_source
from vaxport.scheduling.eligibility import history_of
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
from vaxport.scheduling.gate import seats_freed
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
from vaxport.scheduling.reach import booked_at, get_appointment, list_appointments, local_today
from vaxport.scheduling.release import (
    NotReleased,
    ReleaseClosed,
    ReleaseNotOpen,
    ReleaseState,
    get_ticket,
    release_state,
    request_ticket,
)
from vaxport.scheduling.search import booking_path, search_slots, slot_calendar
from vaxport.scheduling.search_schemas import CALENDAR_DAYS, CalendarQuery, SlotQuery
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
from vaxport.scheduling.waitlist import AlreadyWaiting
from vaxport.scheduling.waitlist import join as join_waitlist
from vaxport.scheduling.waitlist import leave as leave_waitlist
from vaxport.scheduling.waitlist import list_entries as list_waitlist

__all__ = [
    "CALENDAR_DAYS",
    "AcceptedOut",
    "AlreadyWaiting",
    "AppointmentFacts",
    "AppointmentIn",
    "AppointmentOut",
    "AppointmentQuery",
    "Assessment",
    "Booked",
    "CalendarQuery",
    "ClosedOut",
    "CountedDose",
    "DayPage",
    "DiseaseStatus",
    "Dose",
    "EndedOut",
    "HoldExpired",
    "ListQuery",
    "NotEligible",
    "NotHeld",
    "NotReleased",
    "Offer",
    "OpenSlot",
    "Person",
    "PublishedOut",
    "Reason",
    "RefusalCode",
    "ReleaseClosed",
    "ReleaseNotOpen",
    "ReleaseState",
    "RescheduleIn",
    "Series",
    "SessionDayOut",
    "SessionIn",
    "SessionOut",
    "SessionPage",
    "SlotInfo",
    "SlotQuery",
    "StaffAppointmentOut",
    "TicketIn",
    "TicketOut",
    "WaitlistEntryOut",
    "WaitlistIn",
    "WaitlistPage",
    "WaitlistQuery",
    "accept_offer",
    "age_window",
    "appointment_by_code_in",
    "appointment_facts",
    "appointment_in",
    "appointment_read",
    "assess",
    "assess_product",
    "book",
    "booked_at",
    "booking_code_of",
    "booking_limit_refusals",
    "booking_path",
    "cancel",
    "cancel_session",
    "cancel_slot",
    "close_session",
    "close_session_attendance",
    "complete_appointment",
    "complete_in",
    "completion",
    "count_series",
    "find_by_booking_code",
    "get_appointment",
    "get_session",
    "get_ticket",
    "history_of",
    "install_dose_source",
    "join_waitlist",
    "kept_answer",
    "leave_waitlist",
    "list_appointments",
    "list_centre_day",
    "list_sessions",
    "list_waitlist",
    "local_today",
    "max_dose_number",
    "open_days",
    "open_places",
    "open_slots",
    "publish_session",
    "release_state",
    "request_ticket",
    "reschedule",
    "search_slots",
    "seats_freed",
    "session_day",
    "slot_calendar",
    "slot_info",
]
