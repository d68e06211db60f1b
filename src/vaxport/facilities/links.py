"""OpenAPI links of the facilities API (``core/http/openapi.py``); wiring hands them to the app."""

from __future__ import annotations

from vaxport.core.http.openapi import link_resource

COLLECTION = "/api/v1/{tenant}/facilities"
ITEM = COLLECTION + "/{facility_id}"
ADMIN = "/api/v1/{tenant}/admin/facilities"
_TARGETS = {
    "GetFacility": ("GET", ITEM),
    "GetFacilityAsAdmin": ("GET", ADMIN + "/{facility_id}"),
    "UpdateFacility": ("PATCH", ITEM),
    "DeactivateFacility": ("POST", ITEM + "/deactivate"),
    "ReactivateFacility": ("POST", ITEM + "/reactivate"),
}
# Answers naming one facility: where its id is in each.
_SOURCES = {
    ("POST", COLLECTION, "201"): "$response.body#/id",
    ("PATCH", ITEM, "200"): "$response.body#/id",
    ("GET", ADMIN + "/{facility_id}", "200"): "$response.body#/id",
    ("GET", ADMIN, "200"): "$response.body#/items/0/id",
    ("GET", COLLECTION, "200"): "$response.body#/items/0/id",
}

LINKS = link_resource("facility_id", sources=_SOURCES, targets=_TARGETS)
