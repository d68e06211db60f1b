"""OpenAPI links of the release queue and the waitlist; wiring hands them to the app."""

from __future__ import annotations

from vaxport.core.http.openapi import link, link_resource

TICKETS = "/api/v1/{tenant}/sessions/{session_id}/tickets"
TICKET = TICKETS + "/{ticket_id}"
WAITLIST = "/api/v1/{tenant}/waitlist"
PLACE = WAITLIST + "/{entry_id}"
ACCEPT = "/api/v1/{tenant}/appointments/{appointment_id}/accept"

_TICKET_FROM = {
    "session_id": "$response.body#/session_id",
    "ticket_id": "$response.body#/id",
}

LINKS = (
    link(
        "GetTicket",
        source=("POST", TICKETS),
        status="202",
        target=("GET", TICKET),
        parameters=_TICKET_FROM,
    ),
    *link_resource(
        "entry_id",
        sources={
            ("POST", WAITLIST, "201"): "$response.body#/id",
            ("GET", WAITLIST, "200"): "$response.body#/items/0/id",
        },
        targets={"LeaveWaitlist": ("DELETE", PLACE)},
    ),
    *link_resource(
        "appointment_id",
        sources={("GET", WAITLIST, "200"): "$response.body#/items/0/appointment_id"},
        targets={"AcceptOffer": ("POST", ACCEPT)},
    ),
)
