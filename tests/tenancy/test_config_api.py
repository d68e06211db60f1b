"""GET /api/v1/{tenant}/config: an allow-listed, cacheable public view with ETag/304."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.parts import RULES
from tests.tenancy.helpers import DEMO, demo_config, write_config
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.tenancy import service


async def _load_demo(db: Database, cache: Cache) -> str:
    return (await service.load(rules=RULES, db=db, cache=cache, path=DEMO)).hash


async def test_public_config_is_served_with_cache_headers(
    client: httpx.AsyncClient, clean_db: Database, cache: Cache
) -> None:
    digest = await _load_demo(clean_db, cache)
    r = await client.get("/api/v1/demo/config")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.headers["cache-control"] == "public, max-age=60"
    assert r.headers["etag"] == f'"{digest}"'
    body = r.json()
    assert (body["code"], body["default_locale"]) == ("demo", "en")
    assert len(body["regions"]["items"]) == 30
    assert body["regions"]["items"][1] == {
        "code": "NOR-01",
        "name": "Hillcrest",
        "parent": "NOR",
    }
    assert [v["id"] for v in body["vaccines"]] == ["covid-mrna", "covid-protein", "mmr", "hpv"]
    assert body["id_types"][0]["checksum"] == "luhn"
    assert body["certificates"] == {"formats": ["eu-dcc", "shc", "pdf"]}


async def test_public_config_leaks_no_secrets_or_internal_settings(
    client: httpx.AsyncClient, clean_db: Database, cache: Cache
) -> None:
    await _load_demo(clean_db, cache)
    text = (await client.get("/api/v1/demo/config")).text
    for hidden in (
        "VAXPORT_DEMO_SMS_API_KEY",
        "VAXPORT_",
        "secrets",
        "notifications",
        "sms.example.org",
        "retention",
        "population",
        "examples",
        "issuer",
    ):
        assert hidden not in text


async def test_if_none_match_gives_304(
    client: httpx.AsyncClient, clean_db: Database, cache: Cache
) -> None:
    await _load_demo(clean_db, cache)
    etag = (await client.get("/api/v1/demo/config")).headers["etag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        r = await client.get("/api/v1/demo/config", headers={"If-None-Match": header})
        assert r.status_code == 304, header
        assert r.content == b""
        assert r.headers["etag"] == etag
        assert r.headers["cache-control"] == "public, max-age=60"
    r = await client.get("/api/v1/demo/config", headers={"If-None-Match": '"stale"'})
    assert r.status_code == 200


async def test_a_new_version_changes_the_etag(
    client: httpx.AsyncClient, clean_db: Database, cache: Cache, tmp_path: Path
) -> None:
    await _load_demo(clean_db, cache)
    old = (await client.get("/api/v1/demo/config")).headers["etag"]
    data = demo_config()
    data["booking"]["slot_minutes"] = 15
    await service.load(
        rules=RULES, db=clean_db, cache=cache, path=write_config(tmp_path / "v2.yaml", data)
    )
    r = await client.get("/api/v1/demo/config", headers={"If-None-Match": old})
    assert r.status_code == 200
    assert r.headers["etag"] != old
    assert r.json()["booking"]["slot_minutes"] == 15


async def test_reverting_to_an_earlier_file_brings_back_its_etag_and_body(
    client: httpx.AsyncClient, clean_db: Database, cache: Cache, tmp_path: Path
) -> None:
    await _load_demo(clean_db, cache)
    first = await client.get("/api/v1/demo/config")
    data = demo_config()
    data["booking"]["slot_minutes"] = 15
    await service.load(
        rules=RULES, db=clean_db, cache=cache, path=write_config(tmp_path / "v2.yaml", data)
    )
    reverted = await service.load(rules=RULES, db=clean_db, cache=cache, path=DEMO)
    assert (reverted.status, reverted.version) == ("updated", 3)
    again = await client.get("/api/v1/demo/config")
    assert again.headers["etag"] == first.headers["etag"]
    assert again.content == first.content


async def test_unknown_tenant_is_a_problem_json_404(client: httpx.AsyncClient) -> None:
    for path in ("/api/v1/atlantis/config", "/api/v1/NOT%20A%20CODE/config"):
        r = await client.get(path)
        assert r.status_code == 404
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["detail"] == "unknown tenant"


async def test_the_route_is_documented_in_openapi(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/openapi.json")).json()
    operation = spec["paths"]["/api/v1/{tenant}/config"]["get"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PublicConfig"
    }
    assert "notifications" not in spec["components"]["schemas"]["PublicConfig"]["properties"]
