"""The scheduling context's front door: other contexts and the pages import only this.

For now it publishes the schedule engine (:mod:`vaxport.scheduling.engine`, over
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
from vaxport.scheduling.reach import booked_at, get_appointment, list_appointments

__all__ = [
    "AppointmentIn",
    "AppointmentOut",
    "AppointmentQuery",
    "Assessment",
    "Booked",
    "CountedDose",
    "DiseaseStatus",
    "Dose",
    "Offer",
    "OpenSlot",
    "Person",
    "Reason",
    "RefusalCode",
    "RescheduleIn",
    "Series",
    "SlotInfo",
    "age_window",
    "assess",
    "assess_product",
    "book",
    "booked_at",
    "booking_limit_refusals",
    "cancel",
    "count_series",
    "get_appointment",
    "history_of",
    "kept_answer",
    "list_appointments",
    "open_days",
    "open_places",
    "open_slots",
    "reschedule",
    "seats_freed",
    "slot_info",
]
