"""OpenAPI links of the facilities API (see ``core/openapi.py``)."""

from __future__ import annotations

from vaxport.core.openapi import link

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

for (method, path, status), where in _SOURCES.items():
    for name, target in _TARGETS.items():
        if target != (method, path):
            link(
                name,
                source=(method, path),
                status=status,
                target=target,
                parameters={"facility_id": where},
            )
