"""The scheduling context's front door: other contexts and the pages import only this.

For now it publishes the schedule engine (:mod:`vaxport.scheduling.engine`, over
:mod:`vaxport.scheduling.history`): pure functions over the tenant configuration and a
person's dose history.
"""

from __future__ import annotations

# The day at a centre (attendance/): today's list, a person seen, a session closed.
# ``complete_in`` is the seam dose recording (issue 15) calls in its own transaction.
from vaxport.scheduling.attendance.day import find_by_code as find_by_booking_code
from vaxport.scheduling.attendance.day import list_day as list_centre_day
from vaxport.scheduling.attendance.day import session_day
from vaxport.scheduling.attendance.marks import appointment_in, complete_in
from vaxport.scheduling.attendance.marks import close_session as close_session_attendance
from vaxport.scheduling.attendance.marks import complete as complete_appointment
from vaxport.scheduling.attendance.reach import local_today
from vaxport.scheduling.attendance.schemas import (
    ClosedOut,
    DayPage,
    SessionDayOut,
    StaffAppointmentOut,
)
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
    "ClosedOut",
    "CountedDose",
    "DayPage",
    "DiseaseStatus",
    "Dose",
    "Offer",
    "Person",
    "Reason",
    "RefusalCode",
    "Series",
    "SessionDayOut",
    "SlotQuery",
    "StaffAppointmentOut",
    "age_window",
    "appointment_in",
    "assess",
    "assess_product",
    "booking_limit_refusals",
    "booking_path",
    "close_session_attendance",
    "complete_appointment",
    "complete_in",
    "count_series",
    "find_by_booking_code",
    "list_centre_day",
    "local_today",
    "search_slots",
    "session_day",
    "slot_calendar",
]
