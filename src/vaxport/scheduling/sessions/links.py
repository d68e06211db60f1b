"""OpenAPI links of the sessions API (``core/http/openapi.py``); wiring hands them to the app."""

from __future__ import annotations

from vaxport.core.http.openapi import link, link_resource

COLLECTION = "/api/v1/{tenant}/sessions"
ITEM = COLLECTION + "/{session_id}"
_TARGETS = {
    "GetSession": ("GET", ITEM),
    "CloseSession": ("POST", ITEM + "/close"),
    "CancelSession": ("POST", ITEM + "/cancel"),
}
# Answers naming one session: where its id is in each.
_SOURCES = {
    ("POST", COLLECTION, "201"): "$response.body#/id",
    ("GET", COLLECTION, "200"): "$response.body#/items/0/id",
    ("GET", ITEM, "200"): "$response.body#/id",
    ("POST", ITEM + "/close", "200"): "$response.body#/id",
}

LINKS = (
    *link_resource("session_id", sources=_SOURCES, targets=_TARGETS),
    *(
        link(
            "CancelSlot",
            source=source,
            status=status,
            target=("POST", ITEM + "/slots/{slot_id}/cancel"),
            parameters={
                "session_id": "$response.body#/id",
                "slot_id": "$response.body#/slots/0/id",
            },
        )
        for source, status in ((("POST", COLLECTION), "201"), (("GET", ITEM), "200"))
    ),
)
