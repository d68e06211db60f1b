"""Distances on the sphere without trigonometry in SQL.

Each located facility also stores its position as a unit vector (x, y, z). The straight
line (chord) between two unit vectors grows strictly with the great-circle angle between
them, so ordering by squared chord length *is* ordering by haversine distance, and the
database only needs subtraction and multiplication (SQLite has no trig functions). The
same vectors give an exact prefilter: every point within chord ``c`` of ``p`` lies in the
cube ``|x - px| <= c``, ``|y - py| <= c``, ``|z - pz| <= c``, an indexed range on ``z``
(a latitude band). The antimeridian and the poles are not special cases in 3-D.
"""

from __future__ import annotations

import math

EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius
HALF_CIRCUMFERENCE_KM = math.pi * EARTH_RADIUS_KM


def unit_vector(lat: float, lon: float) -> tuple[float, float, float]:
    """The point at ``lat``/``lon`` (degrees) as a unit vector (x towards 0°E, z north)."""
    phi, lam = math.radians(lat), math.radians(lon)
    cos_phi = math.cos(phi)
    return cos_phi * math.cos(lam), cos_phi * math.sin(lam), math.sin(phi)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two points given in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def chord_for_km(distance_km: float) -> float:
    """The chord length (unit sphere) of a great-circle distance; 2 beyond half the globe."""
    if distance_km >= HALF_CIRCUMFERENCE_KM:
        return 2.0
    return 2.0 * math.sin(distance_km / (2.0 * EARTH_RADIUS_KM))


def km_for_chord2(chord2: float) -> float:
    """The great-circle distance in km of a squared chord length."""
    half = math.sqrt(max(0.0, chord2)) / 2.0
    return 2.0 * EARTH_RADIUS_KM * math.asin(min(1.0, half))
