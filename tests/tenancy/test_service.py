"""The queries other contexts call: tenants, regions, ID numbers, products."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.parts import RULES
from tests.tenancy.helpers import DEMO, demo_config, write_config
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.errors import NotFound, ValidationFailed
from vaxport.tenancy import service
from vaxport.tenancy.schemas import TenantInfo


@pytest.fixture
async def demo(clean_db: Database, cache: Cache) -> TenantInfo:
    await service.load(rules=RULES, db=clean_db, cache=cache, path=DEMO)
    return await service.get_tenant_or_404(db=clean_db, cache=cache, code="demo")


def _second_tenant(tmp_path: Path) -> Path:
    data = demo_config()
    data.update(code="avalon", name="Avalon", locales=["fr", "en"], default_locale="fr")
    data["regions"]["levels"] = ["Province", "District", "Commune"]
    data["id_types"][0]["label"] = "Carte d'identité"
    data["id_types"][1]["label"] = "Passeport"
    data["id_types"][2]["label"] = "Acte de naissance"
    for item in data["regions"]["items"]:
        if isinstance(item["name"], dict):
            item["name"] = item["name"]["fr"]
    return write_config(tmp_path / "avalon.yaml", data)


async def test_list_tenants_gives_the_landing_page_its_summaries(
    clean_db: Database, cache: Cache, tmp_path: Path
) -> None:
    assert await service.list_tenants(db=clean_db) == []
    await service.load(rules=RULES, db=clean_db, cache=cache, path=DEMO)
    await service.load(rules=RULES, db=clean_db, cache=cache, path=_second_tenant(tmp_path))
    tenants = await service.list_tenants(db=clean_db)
    assert [(t.code, t.name, t.default_locale, t.locales) for t in tenants] == [
        ("avalon", "Avalon", "fr", ["fr", "en"]),
        ("demo", "Demoland", "en", ["en", "fr"]),
    ]
    assert tenants[1].names == {"en": "Demoland", "fr": "Démolande"}
    assert tenants[0].names == {"fr": "Avalon"}


async def test_list_tenants_through_the_cache_sees_new_loads(
    clean_db: Database, cache: Cache, tmp_path: Path
) -> None:
    await service.load(rules=RULES, db=clean_db, cache=cache, path=DEMO)
    assert [t.code for t in await service.list_tenants(db=clean_db, cache=cache)] == ["demo"]
    assert await cache.get("tenant", "*list") is not None
    await service.load(rules=RULES, db=clean_db, cache=cache, path=_second_tenant(tmp_path))
    cached = await service.list_tenants(db=clean_db, cache=cache)
    assert [t.code for t in cached] == ["avalon", "demo"]


@pytest.mark.parametrize("code", ["nope", "DEMO", "x" * 200, "../demo", "demo%", ""])
async def test_unknown_tenant_is_not_found(
    demo: TenantInfo, clean_db: Database, cache: Cache, code: str
) -> None:
    with pytest.raises(NotFound):
        await service.get_tenant_or_404(db=clean_db, cache=cache, code=code)


async def test_tenant_info_carries_the_validated_config(demo: TenantInfo) -> None:
    assert (demo.code, demo.name, demo.version) == ("demo", "Demoland", 1)
    assert len(demo.hash) == 64
    assert demo.config.code == "demo"
    assert demo.config.booking.slot_minutes == 10


async def test_a_tenant_loaded_after_a_miss_is_found(clean_db: Database, cache: Cache) -> None:
    with pytest.raises(NotFound):
        await service.get_tenant_or_404(db=clean_db, cache=cache, code="demo")
    await service.load(rules=RULES, db=clean_db, cache=cache, path=DEMO)
    assert (await service.get_tenant_or_404(db=clean_db, cache=cache, code="demo")).version == 1


def test_is_in_subtree_follows_the_tree(demo: TenantInfo) -> None:
    def inside(region: str, ancestor: str) -> bool:
        return service.is_in_subtree(tenant=demo, region_code=region, ancestor_code=ancestor)

    assert inside("NOR-01-01", "NOR")
    assert inside("NOR-01-01", "NOR-01")
    assert inside("NOR", "NOR")
    assert not inside("NOR", "NOR-01")
    assert not inside("CEN-01-01", "NOR")
    assert not inside("NOR-01-01", "NOR-02")
    assert not inside("UNKNOWN", "NOR")
    assert not inside("NOR-01", "UNKNOWN")


async def test_region_subtree_and_get_region(demo: TenantInfo, clean_db: Database) -> None:
    subtree = await service.region_subtree(db=clean_db, tenant_id=demo.id, code="NOR")
    assert len(subtree) == 10
    assert subtree[0].code == "NOR"
    assert all(r.path.startswith("/NOR/") for r in subtree)
    leaf = await service.region_subtree(db=clean_db, tenant_id=demo.id, code="SOU-03-02")
    assert [r.code for r in leaf] == ["SOU-03-02"]
    got = await service.get_region(db=clean_db, tenant_id=demo.id, code="CEN-02")
    assert (got.parent_code, got.level, got.active) == ("CEN", 2, True)
    assert got.name == {"en": "Lakeside", "fr": "Bord-du-Lac"}
    with pytest.raises(ValidationFailed) as info:
        await service.get_region(db=clean_db, tenant_id=demo.id, code="NOPE")
    assert info.value.errors == [{"field": "region_code", "reason": "unknown region"}]


async def test_region_subtree_skips_deactivated_regions_unless_asked(
    demo: TenantInfo, clean_db: Database, cache: Cache, tmp_path: Path
) -> None:
    data = demo_config()
    data["regions"]["items"] = [r for r in data["regions"]["items"] if r["code"] != "NOR-01-02"]
    await service.load(
        rules=RULES, db=clean_db, cache=cache, path=write_config(tmp_path / "v2.yaml", data)
    )
    active = await service.region_subtree(db=clean_db, tenant_id=demo.id, code="NOR-01")
    assert [r.code for r in active] == ["NOR-01", "NOR-01-01"]
    every = await service.region_subtree(
        db=clean_db, tenant_id=demo.id, code="NOR-01", include_inactive=True
    )
    assert [(r.code, r.active) for r in every] == [
        ("NOR-01", True),
        ("NOR-01-01", True),
        ("NOR-01-02", False),
    ]
    gone = await service.get_region(db=clean_db, tenant_id=demo.id, code="NOR-01-02")
    assert not gone.active


async def test_subtree_prefix_treats_like_wildcards_literally(
    clean_db: Database, cache: Cache, tmp_path: Path
) -> None:
    data = demo_config()
    data["regions"]["items"] += [
        {"code": "X_1", "name": "Underscore"},
        {"code": "X_1-a", "parent": "X_1", "name": "Child"},
        {"code": "XA1", "name": "Lookalike"},
        {"code": "XA1-a", "parent": "XA1", "name": "Lookalike child"},
    ]
    await service.load(
        rules=RULES, db=clean_db, cache=cache, path=write_config(tmp_path / "x.yaml", data)
    )
    tenant = await service.get_tenant_or_404(db=clean_db, cache=cache, code="demo")
    subtree = await service.region_subtree(db=clean_db, tenant_id=tenant.id, code="X_1")
    assert [r.code for r in subtree] == ["X_1", "X_1-a"]


async def test_regions_are_scoped_to_their_tenant(
    demo: TenantInfo, clean_db: Database, cache: Cache, tmp_path: Path
) -> None:
    await service.load(rules=RULES, db=clean_db, cache=cache, path=_second_tenant(tmp_path))
    other = await service.get_tenant_or_404(db=clean_db, cache=cache, code="avalon")
    mine = await service.region_subtree(db=clean_db, tenant_id=demo.id, code="NOR")
    theirs = await service.region_subtree(db=clean_db, tenant_id=other.id, code="NOR")
    assert len(mine) == len(theirs) == 10
    assert mine[0].name == {"en": "Northern Province", "fr": "Province du Nord"}
    assert theirs[0].name == {"fr": "Province du Nord"}


@pytest.mark.parametrize(
    ("id_type", "value", "expected"),
    [
        ("national-id", "850 412 307 9", "8504123079"),
        ("national-id", "850-412-3079", "8504123079"),
        ("national-id", " 9201175545 ", "9201175545"),
        ("passport", "dl 1234567", "DL1234567"),
        ("birth-certificate", "bc-2019-000123", "BC2019000123"),
    ],
)
def test_validate_id_number_normalises(
    demo: TenantInfo, id_type: str, value: str, expected: str
) -> None:
    assert service.validate_id_number(config=demo.config, id_type=id_type, value=value) == expected


@pytest.mark.parametrize(
    ("id_type", "value", "field", "reason"),
    [
        ("national-id", "850 412 307 8", "id_number", "has a wrong check digit"),
        ("national-id", "85041230", "id_number", "does not have the format"),
        ("national-id", "", "id_number", "is empty"),
        ("national-id", "1" * 100, "id_number", "is longer than 64 characters"),
        ("passport", "D1234567", "id_number", "does not have the format"),
        ("driving-licence", "123", "id_type", "unknown ID document type"),
    ],
)
def test_validate_id_number_refuses_with_field_and_reason(
    demo: TenantInfo, id_type: str, value: str, field: str, reason: str
) -> None:
    with pytest.raises(ValidationFailed) as info:
        service.validate_id_number(config=demo.config, id_type=id_type, value=value)
    [error] = info.value.errors
    assert error["field"] == field
    assert error["reason"].startswith(reason)
    if value:
        assert value not in str(info.value.to_dict())  # ID numbers are personal data


def test_get_product(demo: TenantInfo) -> None:
    product = service.get_product(config=demo.config, product_id="covid-mrna")
    assert (product.doses_in_primary_series, product.dose_intervals[0].min_days) == (2, 21)
    assert product.dcc is not None
    assert product.dcc.medicinal_product == "EU/1/20/1528"
    with pytest.raises(ValidationFailed) as info:
        service.get_product(config=demo.config, product_id="nope", field="doses.0.product")
    assert info.value.errors == [{"field": "doses.0.product", "reason": "unknown vaccine product"}]


async def test_a_stored_config_this_release_cannot_read_is_a_503_not_a_crash(
    clean_db: Database, cache: Cache, tmp_path: Path
) -> None:
    from sqlalchemy import select, update

    from vaxport.core.errors import ServiceUnavailable
    from vaxport.tenancy.models import Tenant, TenantConfigVersion

    data = demo_config()
    data["booking"]["days_ahead"] = 99  # a hash no earlier test left in the process memo
    await service.load(
        rules=RULES, db=clean_db, cache=cache, path=write_config(tmp_path / "u.yaml", data)
    )
    async with clean_db.read() as s:
        tenant_id = (await s.execute(select(Tenant.id).where(Tenant.code == "demo"))).scalar_one()
    async with clean_db.transaction(tenant_id=tenant_id) as uow:
        await uow.session.execute(update(TenantConfigVersion).values(config={"code": "demo"}))
    with pytest.raises(ServiceUnavailable, match="must be reloaded"):
        await service.get_tenant_or_404(db=clean_db, cache=cache, code="demo")


async def test_reading_a_tenant_masks_its_id_numbers_in_logs_from_then_on(
    clean_db: Database, cache: Cache
) -> None:
    from tests.support.tenants import load_tenant
    from vaxport.core import scrub

    scrub.clear_registered_patterns()
    passport = "QX4821736"  # the demo country's passport format, in no other pattern
    assert passport in scrub.scrub_text(f"holder {passport}")
    await load_tenant(clean_db, cache)
    assert passport not in scrub.scrub_text(f"holder {passport}")
