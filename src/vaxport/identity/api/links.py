"""OpenAPI links of the staff API (see ``core/http/openapi.py``); wiring hands them to the app."""

from __future__ import annotations

from vaxport.core.http.openapi import link_resource

COLLECTION = "/api/v1/{tenant}/staff"
ITEM = COLLECTION + "/{account_id}"
_TARGETS = {
    "GetStaff": ("GET", ITEM),
    "ChangeStaff": ("PATCH", ITEM),
    "DisableStaff": ("POST", ITEM + "/disable"),
    "EnableStaff": ("POST", ITEM + "/enable"),
    "ResetStaff": ("POST", ITEM + "/reset"),
}
# Answers naming one staff member: where their id is in each.
_SOURCES = {
    ("POST", COLLECTION, "201"): "$response.body#/account/id",
    ("GET", COLLECTION, "200"): "$response.body#/items/0/id",
    ("PATCH", ITEM, "200"): "$response.body#/id",
    ("POST", ITEM + "/disable", "200"): "$response.body#/id",
    ("POST", ITEM + "/enable", "200"): "$response.body#/id",
    ("POST", ITEM + "/reset", "200"): "$response.body#/account/id",
}

LINKS = link_resource("account_id", sources=_SOURCES, targets=_TARGETS)
