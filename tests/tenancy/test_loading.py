"""Loading configuration files: versions, history, idempotence, region sync, concurrency."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.parts import RULES
from tests.tenancy.helpers import DEMO, demo_config, region, write_config
from vaxport.core.cache import Cache
from vaxport.core.db import Database, set_tenant_scope
from vaxport.tenancy import service
from vaxport.tenancy.models import Region, Tenant, TenantConfigVersion
from vaxport.tenancy.validation import ConfigInvalid


async def _demo_scope(s: AsyncSession) -> None:
    # Regions and versions sit behind row-level security on PostgreSQL: read as the tenant.
    tenant_id = (await s.execute(select(Tenant.id).where(Tenant.code == "demo"))).scalar_one()
    await set_tenant_scope(s, tenant_id)


async def _regions(db: Database) -> dict[str, Region]:
    async with db.read() as s:
        await _demo_scope(s)
        rows = {
            r.code: r for r in (await s.execute(select(Region).order_by(Region.code))).scalars()
        }
        s.expunge_all()  # keep the loaded values past the read's rollback
        return rows


async def _versions(db: Database) -> list[int]:
    async with db.read() as s:
        await _demo_scope(s)
        rows = await s.execute(select(TenantConfigVersion.version).order_by("version"))
        return list(rows.scalars())


async def test_first_load_creates_the_tenant_version_1_history_and_regions(
    clean_db: Database, cache: Cache
) -> None:
    result = await service.load(rules=RULES, db=clean_db, cache=cache, path=DEMO)
    assert (result.code, result.status, result.version) == ("demo", "created", 1)
    assert result.regions_added == 30
    async with clean_db.read() as s:
        await _demo_scope(s)
        tenant = (await s.execute(select(Tenant))).scalar_one()
        history = (await s.execute(select(TenantConfigVersion))).scalar_one()
        s.expunge_all()
    assert tenant.config_hash == result.hash == history.config_hash
    assert tenant.names == {"en": "Demoland", "fr": "Démolande"}
    assert (tenant.default_locale, tenant.locales) == ("en", ["en", "fr"])
    assert history.source == str(DEMO)
    assert history.config == tenant.config
    regions = await _regions(clean_db)
    leaf = regions["NOR-01-01"]
    assert (leaf.parent_code, leaf.level, leaf.path) == ("NOR-01", 3, "/NOR/NOR-01/NOR-01-01/")
    assert leaf.name == {"en": "Hillcrest Town"}
    assert leaf.population["18-59"] > 0
    assert regions["NOR"].name == {"en": "Northern Province", "fr": "Province du Nord"}


async def test_loading_the_same_file_twice_is_unchanged(clean_db: Database, cache: Cache) -> None:
    first = await service.load(rules=RULES, db=clean_db, cache=cache, path=DEMO)
    again = await service.load(rules=RULES, db=clean_db, cache=cache, path=DEMO)
    assert (again.status, again.version, again.hash) == ("unchanged", 1, first.hash)
    assert await _versions(clean_db) == [1]


async def test_the_hash_ignores_formatting_and_key_order(
    clean_db: Database, cache: Cache, tmp_path: Path
) -> None:
    await service.load(rules=RULES, db=clean_db, cache=cache, path=DEMO)
    data = demo_config()
    reordered = dict(reversed(list(data.items())))
    path = write_config(tmp_path / "reformatted.yaml", reordered)
    assert path.read_text() != DEMO.read_text()
    result = await service.load(rules=RULES, db=clean_db, cache=cache, path=path)
    assert result.status == "unchanged"


async def test_a_changed_file_bumps_the_version_and_records_history(
    clean_db: Database, cache: Cache, tmp_path: Path
) -> None:
    first = await service.load(rules=RULES, db=clean_db, cache=cache, path=DEMO)
    data = demo_config()
    data["booking"]["days_ahead"] = 14
    changed = await service.load(
        rules=RULES, db=clean_db, cache=cache, path=write_config(tmp_path / "v2.yaml", data)
    )
    assert (changed.status, changed.version) == ("updated", 2)
    assert changed.hash != first.hash
    history = await service.get_history(db=clean_db, code="demo")
    assert [(h.version, h.config_hash) for h in history] == [
        (2, changed.hash),
        (1, first.hash),
    ]
    assert history[0].source.endswith("v2.yaml")
    tenant = await service.get_tenant_or_404(db=clean_db, cache=cache, code="demo")
    assert (tenant.version, tenant.config.booking.days_ahead) == (2, 14)


@pytest.mark.parametrize(
    "bad_text",
    [
        "code: demo\nname: [unclosed\n",
        "SURPRISE",
        None,  # an unknown field in an otherwise valid file
        "cycle",
    ],
)
async def test_a_bad_file_changes_nothing_and_the_previous_config_stays(
    clean_db: Database, cache: Cache, tmp_path: Path, bad_text: str | None
) -> None:
    first = await service.load(rules=RULES, db=clean_db, cache=cache, path=DEMO)
    before = await service.get_tenant_or_404(db=clean_db, cache=cache, code="demo")
    data = demo_config()
    data["booking"]["days_ahead"] = 3  # a real change, so only the error can stop it
    if bad_text is None:
        data["booking"]["colour"] = "red"
    elif bad_text == "cycle":
        region(data, "NOR").update(parent="NOR-01-01")
    bad = tmp_path / "bad.yaml"
    if bad_text in (None, "cycle"):
        write_config(bad, data)
    else:
        bad.write_text(bad_text)
    with pytest.raises(ConfigInvalid) as info:
        await service.load(rules=RULES, db=clean_db, cache=cache, path=bad)
    assert info.value.lines()
    assert all(line.startswith(f"{bad}: ") for line in info.value.lines())
    after = await service.get_tenant_or_404(db=clean_db, cache=cache, code="demo")
    assert (after.version, after.hash) == (before.version, first.hash)
    assert after.config.booking.days_ahead == 28
    assert await _versions(clean_db) == [1]
    assert all(r.active for r in (await _regions(clean_db)).values())


async def test_a_missing_file_is_a_clear_problem(clean_db: Database, cache: Cache) -> None:
    with pytest.raises(ConfigInvalid) as info:
        await service.load(rules=RULES, db=clean_db, cache=cache, path=Path("/nonexistent/x.yaml"))
    assert info.value.lines() == ["/nonexistent/x.yaml: (file): No such file or directory"]


async def test_regions_are_inserted_updated_and_deactivated_never_deleted(
    clean_db: Database, cache: Cache, tmp_path: Path
) -> None:
    await service.load(rules=RULES, db=clean_db, cache=cache, path=DEMO)
    ids_before = {code: r.id for code, r in (await _regions(clean_db)).items()}
    data = demo_config()
    region(data, "NOR-01-01")["name"] = "Hillcrest City"
    region(data, "CEN-02-02")["parent"] = "CEN-01"  # moved: new path
    items = data["regions"]["items"]
    data["regions"]["items"] = [r for r in items if not r["code"].startswith("SOU-03")]
    data["regions"]["items"].append({"code": "NOR-04", "parent": "NOR", "name": "Newtown"})
    result = await service.load(
        rules=RULES, db=clean_db, cache=cache, path=write_config(tmp_path / "v2.yaml", data)
    )
    assert (result.regions_added, result.regions_updated, result.regions_deactivated) == (1, 2, 3)
    regions = await _regions(clean_db)
    assert len(regions) == 31
    assert regions["NOR-01-01"].name == {"en": "Hillcrest City"}
    assert regions["CEN-02-02"].path == "/CEN/CEN-01/CEN-02-02/"
    assert regions["CEN-02-02"].parent_code == "CEN-01"
    assert sorted(c for c, r in regions.items() if not r.active) == [
        "SOU-03",
        "SOU-03-01",
        "SOU-03-02",
    ]
    assert regions["NOR-04"].level == 2
    # Same rows (other tables reference them by id or code), updated in place.
    assert all(regions[c].id == i for c, i in ids_before.items())

    back = await service.load(rules=RULES, db=clean_db, cache=cache, path=DEMO)
    assert (back.regions_added, back.regions_deactivated) == (0, 1)
    regions = await _regions(clean_db)
    assert regions["SOU-03-01"].active
    assert not regions["NOR-04"].active


async def test_concurrent_loads_of_one_new_tenant_create_it_once(
    clean_db: Database, cache: Cache
) -> None:
    results = await asyncio.gather(
        *(service.load(rules=RULES, db=clean_db, cache=cache, path=DEMO) for _ in range(4))
    )
    assert sorted(r.status for r in results) == ["created", "unchanged", "unchanged", "unchanged"]
    assert await _versions(clean_db) == [1]
    async with clean_db.read() as s:
        await _demo_scope(s)
        assert (await s.execute(select(func.count()).select_from(Tenant))).scalar() == 1
        assert (await s.execute(select(func.count()).select_from(Region))).scalar() == 30


async def test_concurrent_loads_of_different_files_get_distinct_versions(
    clean_db: Database, cache: Cache, tmp_path: Path
) -> None:
    await service.load(rules=RULES, db=clean_db, cache=cache, path=DEMO)
    paths = []
    for days in (7, 14, 21, 35):
        data = demo_config()
        data["booking"]["days_ahead"] = days
        paths.append(write_config(tmp_path / f"d{days}.yaml", data))
    results = await asyncio.gather(
        *(service.load(rules=RULES, db=clean_db, cache=cache, path=p) for p in paths)
    )
    assert sorted(r.version for r in results) == [2, 3, 4, 5]
    assert await _versions(clean_db) == [1, 2, 3, 4, 5]
    last = max(results, key=lambda r: r.version)
    tenant = await service.get_tenant_or_404(db=clean_db, cache=cache, code="demo")
    assert (tenant.version, tenant.hash) == (5, last.hash)


async def test_tenant_reads_are_cached_and_a_load_invalidates_them(
    clean_db: Database, cache: Cache, tmp_path: Path
) -> None:
    await service.load(rules=RULES, db=clean_db, cache=cache, path=DEMO)
    assert (await service.get_tenant_or_404(db=clean_db, cache=cache, code="demo")).name == (
        "Demoland"
    )
    # A change behind the service's back is not seen: the read came from the cache.
    async with clean_db.transaction() as uow:
        await uow.session.execute(update(Tenant).values(name="Edited directly"))
    cached = await service.get_tenant_or_404(db=clean_db, cache=cache, code="demo")
    assert cached.name == "Demoland"
    data = demo_config()
    data["name"] = {"en": "Demoland Republic", "fr": "République de Démolande"}
    await service.load(
        rules=RULES, db=clean_db, cache=cache, path=write_config(tmp_path / "n.yaml", data)
    )
    fresh = await service.get_tenant_or_404(db=clean_db, cache=cache, code="demo")
    assert (fresh.name, fresh.version) == ("Demoland Republic", 2)
