"""Lots from a CSV file through the shared import engine: per-row answers, idempotent."""

from __future__ import annotations

import csv
import io

import httpx

from tests.registration.conftest import staff_token
from vaxport.core.db import Database
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

CSV = (
    "product_id,lot_number,manufacturer,expires_on,doses_per_vial\n"
    "covid-mrna, fh8020 ,,2030-06-30,6\n"
    "nope,AB1,,2030-06-30,\n"
    "covid-mrna,CD2,,30/06/2030,six\n"
    "covid-mrna,FH8020,,2030-06-30,6\n"
    "mmr,MM-1,Merck,2029-01-31,10\n"
)


async def _upload(
    client: httpx.AsyncClient, tenant: TenantInfo, headers: dict[str, str], body: str, **extra: str
) -> httpx.Response:
    return await client.post(
        f"/api/v1/{tenant.code}/lots/import",
        content=body.encode(),
        headers={**headers, "Content-Type": "text/csv", **extra},
    )


async def test_valid_rows_register_and_each_bad_row_is_answered_by_row_and_field(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    admin = await staff_token(client, clean_db, settings, tenant, "region_admin", region_code="NOR")
    answer = await _upload(client, tenant, admin.headers, CSV)
    assert answer.status_code == 200, answer.text
    summary = answer.json()
    assert (summary["rows"], summary["created"], summary["invalid"]) == (5, 2, 3)
    assert [(e["row"], e["field"]) for e in summary["errors"]] == [
        (3, "product_id"),
        (4, "expires_on"),
        (4, "doses_per_vial"),
        (5, "lot_number"),
    ]
    lots = (await client.get(f"/api/v1/{tenant.code}/lots", headers=admin.headers)).json()
    assert sorted(x["lot_number"] for x in lots["items"]) == ["FH8020", "MM-1"]

    again = await _upload(client, tenant, admin.headers, CSV, Accept="text/csv")
    assert again.status_code == 200
    report = list(csv.reader(io.StringIO(again.text)))
    assert report[0] == ["row", "field", "reason"]
    assert len(report) == 5
    replay = (await _upload(client, tenant, admin.headers, CSV)).json()
    assert (replay["created"], replay["unchanged"]) == (0, 2)


async def test_a_file_with_wrong_columns_writes_nothing_and_vaccinators_cannot_import(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    admin = await staff_token(client, clean_db, settings, tenant, "national_admin")
    wrong = await _upload(client, tenant, admin.headers, "product,lot\ncovid-mrna,X1\n")
    assert wrong.status_code == 422
    assert {e["field"] for e in wrong.json()["errors"]} >= {"product", "lot", "product_id"}
    vaccinator = await staff_token(
        client, clean_db, settings, tenant, "vaccinator", region_code="NOR"
    )
    assert (await _upload(client, tenant, vaccinator.headers, CSV)).status_code == 403
    lots = (await client.get(f"/api/v1/{tenant.code}/lots", headers=admin.headers)).json()
    assert lots["items"] == []
