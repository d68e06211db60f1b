"""OpenAPI links of the day at a centre (``core/http/openapi.py``); wiring hands them on.

From a centre (created, or read) to its day; from the day to a booking code, to marking
a person seen and to closing a session; from a code looked up to marking it seen.
"""

from __future__ import annotations

from vaxport.core.http.openapi import link_resource
from vaxport.scheduling.attendance.api import BY_CODE, CLOSE, COMPLETE, DAY

_FACILITIES = "/api/v1/{tenant}/facilities"

LINKS = (
    *link_resource(
        "facility_id",
        sources={
            ("POST", _FACILITIES, "201"): "$response.body#/id",
            ("GET", DAY, "200"): "$response.body#/facility_id",
        },
        targets={"ListFacilityDayAppointments": ("GET", DAY)},
    ),
    *link_resource(
        "code",
        sources={("GET", DAY, "200"): "$response.body#/items/0/booking_code"},
        targets={"GetAppointmentByCode": ("GET", BY_CODE)},
    ),
    *link_resource(
        "appointment_id",
        sources={
            ("GET", DAY, "200"): "$response.body#/items/0/id",
            ("GET", BY_CODE, "200"): "$response.body#/id",
        },
        targets={"CompleteAppointment": ("POST", COMPLETE)},
    ),
    *link_resource(
        "session_id",
        sources={
            ("GET", DAY, "200"): "$response.body#/sessions/0/id",
            ("GET", BY_CODE, "200"): "$response.body#/session_id",
        },
        targets={"CloseSessionAttendance": ("POST", CLOSE)},
    ),
)
