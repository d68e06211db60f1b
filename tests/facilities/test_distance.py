"""Nearest-first order against a brute-force haversine reference, everywhere on the globe.

The database orders by squared chord length of unit vectors (no trigonometry in SQL);
these tests hold it to the great-circle distance on random points, with extra weight on
the antimeridian and the poles, where latitude/longitude boxes usually go wrong.
"""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.facilities import service
from vaxport.facilities.geo import (
    EARTH_RADIUS_KM,
    chord_for_km,
    haversine_km,
    km_for_chord2,
    unit_vector,
)
from vaxport.facilities.models import Facility
from vaxport.facilities.schemas import DirectoryQuery, Location
from vaxport.facilities.validation import location_columns
from vaxport.facilities.writes import new_facility
from vaxport.tenancy.schemas import TenantInfo

# Distances closer than this to each other (or to the radius) are ties: floating-point
# noise is ~1e-9 km, a millimetre is far above it and far below anything that matters.
TIE_KM = 1e-6

anywhere = st.tuples(st.floats(-90, 90), st.floats(-180, 180))
near_antimeridian = st.tuples(
    st.floats(-60, 60), st.one_of(st.floats(179.0, 180.0), st.floats(-180.0, -179.0))
)
near_a_pole = st.tuples(
    st.one_of(st.floats(89.0, 90.0), st.floats(-90.0, -89.0)), st.floats(-180, 180)
)
points = st.one_of(anywhere, near_antimeridian, near_a_pole)
radii = st.one_of(st.floats(1, 500), st.floats(500, 20_100), st.just(20_100.0))


def _chord2(a: tuple[float, float], b: tuple[float, float]) -> float:
    return sum((x - y) ** 2 for x, y in zip(unit_vector(*a), unit_vector(*b), strict=True))


@given(a=points, b=points, c=points)
def test_chord_order_is_haversine_order(
    a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]
) -> None:
    ab, ac = haversine_km(*a, *b), haversine_km(*a, *c)
    if abs(ab - ac) > TIE_KM:
        assert (ab < ac) == (_chord2(a, b) < _chord2(a, c))
    assert math.isclose(km_for_chord2(_chord2(a, b)), ab, rel_tol=1e-9, abs_tol=TIE_KM)


@given(st.floats(0, 20_100))
def test_chord_for_km_inverts_km_for_chord2(km: float) -> None:
    back = km_for_chord2(chord_for_km(km) ** 2)
    assert math.isclose(back, min(km, math.pi * EARTH_RADIUS_KM), rel_tol=1e-9, abs_tol=TIE_KM)


def test_known_distances() -> None:
    assert haversine_km(0, 179.5, 0, -179.5) == pytest.approx(111.2, abs=0.1)
    assert haversine_km(89.9, 0, 89.9, 180) == pytest.approx(22.24, abs=0.01)
    assert haversine_km(90, 0, -90, 0) == pytest.approx(math.pi * EARTH_RADIUS_KM)


async def _replace_points(
    db: Database, tenant: TenantInfo, places: list[tuple[float, float]]
) -> dict[str, tuple[float, float]]:
    now = utcnow()
    by_code = {}
    async with db.transaction(tenant_id=tenant.id) as uow:
        await uow.session.execute(delete(Facility).where(Facility.tenant_id == tenant.id))
        for i, (lat, lon) in enumerate(places):
            code = f"P{i:03d}"
            cols = {
                "name": {"en": code},
                "type": "public",
                "region_code": "NOR-01-01",
                "opening_hours": {"weekly": {}, "exceptions": []},
                "vaccines": [],
                **location_columns(Location(lat=lat, lon=lon)),
            }
            uow.session.add(new_facility(tenant.id, code, cols, now=now, active=True))
            by_code[code] = (cols["latitude"], cols["longitude"])  # as stored: rounded
    return by_code


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    places=st.lists(points, min_size=1, max_size=25),
    origin=points,
    radius=radii,
    page_size=st.integers(1, 7),
)
async def test_nearest_first_matches_brute_force_haversine(
    clean_db: Database,
    tenant: TenantInfo,
    places: list[tuple[float, float]],
    origin: tuple[float, float],
    radius: float,
    page_size: int,
) -> None:
    by_code = await _replace_points(clean_db, tenant, places)
    rounded = DirectoryQuery(lat=origin[0], lon=origin[1])
    assert rounded.lat is not None
    assert rounded.lon is not None
    origin = (rounded.lat, rounded.lon)
    got: list[str] = []
    cursor = None
    while True:  # through every page: the cursor must neither skip nor repeat
        query = DirectoryQuery(
            lat=origin[0], lon=origin[1], radius_km=radius, limit=page_size, cursor=cursor
        )
        page = await service.list_public(db=clean_db, tenant=tenant, query=query)
        for item in page.items:
            assert item.distance_km is not None
            exact = haversine_km(*origin, *by_code[item.code])
            assert item.distance_km == pytest.approx(exact, abs=0.001)
        got += [item.code for item in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(got) == len(set(got))
    distance = {code: haversine_km(*origin, *p) for code, p in by_code.items()}
    # The same set as the reference, but for points within a tie of the radius.
    expected = {c for c, d in distance.items() if d <= radius - TIE_KM}
    borderline = {c for c, d in distance.items() if abs(d - radius) <= TIE_KM}
    assert expected <= set(got) <= expected | borderline
    # In the reference's order, but for ties.
    ordered = [distance[c] for c in got]
    assert all(x <= y + TIE_KM for x, y in itertools.pairwise(ordered))
