"""The OpenAPI document links creates and lists to the operations on what they name."""

from __future__ import annotations

from typing import Any

from vaxport.app import create_app
from vaxport.settings import Settings


def _operations(doc: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {
        op["operationId"]: (method.upper(), path)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "operationId" in op
    }


def test_creates_link_to_reads_and_changes_of_what_they_made(settings: Settings) -> None:
    doc = create_app(settings).openapi()
    ops = _operations(doc)
    facility = doc["paths"]["/api/v1/{tenant}/facilities"]["post"]["responses"]["201"]["links"]
    assert ops[facility["GetFacility"]["operationId"]] == (
        "GET",
        "/api/v1/{tenant}/facilities/{facility_id}",
    )
    assert facility["GetFacility"]["parameters"] == {
        "facility_id": "$response.body#/id",
        "tenant": "$request.path.tenant",
    }
    staff = doc["paths"]["/api/v1/{tenant}/staff"]["get"]["responses"]["200"]["links"]
    assert ops[staff["DisableStaff"]["operationId"]] == (
        "POST",
        "/api/v1/{tenant}/staff/{account_id}/disable",
    )
    assert staff["DisableStaff"]["parameters"]["account_id"] == "$response.body#/items/0/id"
    # Every link names an operation of this document.
    for item in doc["paths"].values():
        for op in item.values():
            for response in op.get("responses", {}).values():
                for target in response.get("links", {}).values():
                    assert target["operationId"] in ops
