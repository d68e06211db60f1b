"""The facility list query: filters, distance order and keyset (cursor) pagination.

Without a point the list is in code order (unique per tenant); with one, nearest first,
by squared chord length (see ``geo.py``) then id. A cursor carries the last row's sort
key and a fingerprint of the filters, so it cannot be replayed against another search.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Select, and_, null, or_, select

from vaxport.core.errors import invalid
from vaxport.core.i18n import N_
from vaxport.facilities.geo import chord_for_km, unit_vector
from vaxport.facilities.models import Facility, FacilityVaccine
from vaxport.facilities.validation import fold, postal_key

DEFAULT_RADIUS_KM = 50.0


@dataclass(frozen=True, slots=True)
class Search:
    """A resolved list query (region subtree expanded, text folded)."""

    tenant_id: uuid.UUID
    region_codes: tuple[str, ...] | None = None
    type: str | None = None
    vaccine: str | None = None
    text: str | None = None
    postal_key: str | None = None
    point: tuple[float, float] | None = None
    radius_km: float = DEFAULT_RADIUS_KM
    active: bool | None = None
    limit: int = 20

    def fingerprint(self) -> str:
        """A short digest of everything but the paging, bound into cursors."""
        key = [
            str(self.tenant_id),
            list(self.region_codes) if self.region_codes is not None else None,
            self.type,
            self.vaccine,
            self.text,
            self.postal_key,
            list(self.point) if self.point else None,
            self.radius_km if self.point else None,
            self.active,
        ]
        return hashlib.sha256(orjson.dumps(key)).hexdigest()[:16]


def make_search(
    *,
    tenant_id: uuid.UUID,
    region_codes: tuple[str, ...] | None,
    type: str | None,
    vaccine: str | None,
    q: str | None,
    postal_code: str | None,
    lat: float | None,
    lon: float | None,
    radius_km: float | None,
    active: bool | None,
    limit: int,
) -> Search:
    """A :class:`Search` from query parameters (already shape-checked)."""
    return Search(
        tenant_id=tenant_id,
        region_codes=region_codes,
        type=type,
        vaccine=vaccine,
        text=fold(q) if q else None,
        postal_key=postal_key(postal_code) or None,
        point=(lat, lon) if lat is not None and lon is not None else None,
        radius_km=radius_km or DEFAULT_RADIUS_KM,
        active=active,
        limit=limit,
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _next_key(key: str) -> str:
    # Keys are upper-case letters and digits: bumping the last one bounds the prefix range.
    return key[:-1] + chr(ord(key[-1]) + 1)


def _distance2(point: tuple[float, float]) -> tuple[ColumnElement[Any], list[Any]]:
    px, py, pz = unit_vector(*point)
    dx, dy, dz = Facility.ux - px, Facility.uy - py, Facility.uz - pz
    return dx * dx + dy * dy + dz * dz, [px, py, pz]


def statement(search: Search, cursor: str | None) -> Select[Facility, Any]:
    """The SELECT of one page (one row more than the limit, to know if more follow).

    Rows are ``(Facility, distance2)``; ``distance2`` is None without a point.
    """
    conditions: list[ColumnElement[bool]] = [Facility.tenant_id == search.tenant_id]
    if search.active is not None:
        conditions.append(Facility.active.is_(search.active))
    if search.region_codes is not None:
        conditions.append(Facility.region_code.in_(search.region_codes))
    if search.type is not None:
        conditions.append(Facility.type == search.type)
    if search.vaccine is not None:
        conditions.append(
            Facility.id.in_(
                select(FacilityVaccine.facility_id).where(
                    FacilityVaccine.tenant_id == search.tenant_id,
                    FacilityVaccine.product_id == search.vaccine,
                )
            )
        )
    if search.text:
        conditions.append(Facility.search_text.like(f"%{_escape_like(search.text)}%", escape="\\"))
    if search.postal_key:
        conditions.append(Facility.postal_key >= search.postal_key)
        conditions.append(Facility.postal_key < _next_key(search.postal_key))
    after = decode_cursor(cursor, search) if cursor else None
    if search.point is None:
        if after is not None:
            conditions.append(Facility.code > after[0])
        return (
            select(Facility, null().label("distance2"))
            .where(*conditions)
            .order_by(Facility.code)
            .limit(search.limit + 1)
        )
    d2, (px, py, pz) = _distance2(search.point)
    chord = chord_for_km(search.radius_km)
    conditions += [
        Facility.uz.between(pz - chord, pz + chord),
        Facility.ux.between(px - chord, px + chord),
        Facility.uy.between(py - chord, py + chord),
        d2 <= chord * chord,
    ]
    if after is not None:
        last_d2, last_id = float(after[0]), uuid.UUID(after[1])
        conditions.append(or_(d2 > last_d2, and_(d2 == last_d2, Facility.id > last_id)))
    return (
        select(Facility, d2.label("distance2"))
        .where(*conditions)
        .order_by(d2, Facility.id)
        .limit(search.limit + 1)
    )


def encode_cursor(search: Search, facility: Facility, distance2: float | None) -> str:
    """The cursor that continues after ``facility``."""
    key: list[Any] = [facility.code] if search.point is None else [distance2, str(facility.id)]
    raw = orjson.dumps({"f": search.fingerprint(), "k": key})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, search: Search) -> list[Any]:
    """The sort key a cursor continues after; 422 on ``cursor`` if it is not ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        doc = orjson.loads(raw)
        key = doc["k"]
        fingerprint = doc["f"]
        valid = isinstance(key, list) and (
            (search.point is None and len(key) == 1 and isinstance(key[0], str))
            or (
                search.point is not None
                and len(key) == 2
                and isinstance(key[0], float | int)
                and isinstance(key[1], str)
                and uuid.UUID(key[1]) is not None
            )
        )
    except (binascii.Error, ValueError, TypeError, KeyError, orjson.JSONDecodeError) as exc:
        raise invalid("cursor", N_("is not a cursor this list gave out")) from exc
    if not valid:
        raise invalid("cursor", N_("is not a cursor this list gave out"))
    if fingerprint != search.fingerprint():
        raise invalid("cursor", N_("belongs to a different search; start again without it"))
    return list(key)
