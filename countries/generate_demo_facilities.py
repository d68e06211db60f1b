"""Generate ``countries/demo-facilities.csv``: the vaccination centres of Demoland.

Deterministic (a fixed seed, no clock): running it again writes the same bytes, and a
test checks that the committed file is exactly what this script produces. Everything is
invented: places in the fictional country's regions (read from ``demo.yaml``), phone
numbers in the 555-01xx range reserved for fiction, ``.example`` e-mail addresses.

    python countries/generate_demo_facilities.py            # rewrite the CSV
    python countries/generate_demo_facilities.py --check    # exit 1 if it is stale
"""

from __future__ import annotations

import csv
import io
import random
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "demo.yaml"
OUTPUT = HERE / "demo-facilities.csv"
SEED = 20_261_127
TOTAL = 300
COLUMNS = [
    "code", "name", "name_fr", "type", "region_code", "address", "postal_code",
    "latitude", "longitude", "phone", "email", "vaccines",
    "hours_mon", "hours_tue", "hours_wed", "hours_thu", "hours_fri", "hours_sat", "hours_sun",
    "exceptions", "accessibility", "accessibility_fr", "daily_capacity", "stations", "active",
]  # fmt: skip
# Province -> latitude band; district number -> longitude band (Demoland is invented,
# drawn where its time zone, America/Toronto, would put it).
PROVINCE_LAT = {"NOR": 48.0, "CEN": 46.0, "SOU": 44.0}
DISTRICT_LON = {"01": -79.5, "02": -77.0, "03": -74.5}
AREA_CODES = ("343", "613", "819")
HOLIDAYS = "2026-01-01 closed; 2026-07-01 closed; 2026-12-25 closed; 2026-12-26 closed"
STREETS = (
    "Main Street", "King Street", "Queen Street", "Church Road", "Station Road",
    "Lake Avenue", "Park Lane", "Mill Road", "River Road", "Market Square",
    "Hospital Road", "Elm Street", "Maple Avenue", "Harbour Street", "Hill Road",
)  # fmt: skip
WEEKDAY_HOURS = {
    "public": "08:00-12:00, 13:00-17:00",
    "private": "09:00-18:00",
}


def _name(region: dict[str, Any], lang: str) -> str:
    name = region["name"]
    return str(name if isinstance(name, str) else name.get(lang) or name["en"])


def _leaves(config: dict[str, Any]) -> list[dict[str, Any]]:
    items = config["regions"]["items"]
    parents = {r.get("parent") for r in items}
    return [r for r in items if r["code"] not in parents]


def _shares(leaves: list[dict[str, Any]]) -> list[int]:
    """Centres per municipality: three each, the rest in proportion to population."""
    people = [sum(r.get("population", {}).values()) for r in leaves]
    spare = TOTAL - 3 * len(leaves)
    raw = [spare * p / sum(people) for p in people]
    counts = [3 + int(x) for x in raw]
    by_remainder = sorted(range(len(leaves)), key=lambda i: raw[i] - int(raw[i]), reverse=True)
    for i in by_remainder[: TOTAL - sum(counts)]:
        counts[i] += 1
    return counts


def _postal_prefix(index: int) -> str:
    return f"D{index // 26 + 1}{chr(ord('A') + index % 26)}"


def _row(rng: random.Random, region: dict[str, Any], leaf_index: int, n: int) -> dict[str, str]:
    code = region["code"]
    province, district, municipality = code.split("-")
    town_en, town_fr = _name(region, "en"), _name(region, "fr")
    kind = rng.choices(("public", "private", "mobile", "outreach"), weights=(60, 25, 8, 7))[0]
    centre_lat = PROVINCE_LAT[province] + (0.45 if municipality == "01" else -0.45)
    centre_lon = DISTRICT_LON[district] + (0.5 if municipality == "02" else -0.3)
    located = kind in ("public", "private") or (kind == "mobile" and rng.random() < 0.5)
    lat = round(centre_lat + rng.gauss(0, 0.12), 5) if located else None
    lon = round(centre_lon + rng.gauss(0, 0.16), 5) if located else None
    if kind == "public":
        name_en = f"{town_en} Health Centre {n}" if n > 1 else f"{town_en} Health Centre"
        name_fr = f"Centre de santé {n} de {town_fr}" if n > 1 else f"Centre de santé de {town_fr}"
    elif kind == "private":
        name_en, name_fr = f"{town_en} Pharmacy {n}", f"Pharmacie {n} de {town_fr}"
    elif kind == "mobile":
        name_en, name_fr = f"{town_en} Mobile Unit {n}", f"Unité mobile {n} de {town_fr}"
    else:
        name_en, name_fr = f"{town_en} Outreach Team {n}", f"Équipe de proximité {n} de {town_fr}"
    vaccines = ["covid-mrna", "covid-protein", "mmr", "hpv"]
    offered = sorted(rng.sample(vaccines, rng.randint(1 if kind != "public" else 2, 4)))
    weekday = WEEKDAY_HOURS.get(kind, "09:00-15:00")
    days = dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), weekday)
    if kind == "mobile":  # on the road two days a week
        days = {d: (weekday if d in rng.sample(sorted(days), 2) else "") for d in days}
    days["sat"] = "09:00-13:00" if kind != "outreach" and rng.random() < 0.4 else ""
    days["sun"] = "10:00-14:00" if kind == "private" and rng.random() < 0.2 else ""
    accessible = kind in ("public", "private") and rng.random() < 0.6
    return {
        "code": f"{code}-{n:03d}",
        "name": name_en,
        "name_fr": name_fr,
        "type": kind,
        "region_code": code,
        "address": f"{rng.randint(1, 480)} {rng.choice(STREETS)}, {town_en}" if located else "",
        "postal_code": f"{_postal_prefix(leaf_index)} {rng.randint(0, 9)}"
        f"{chr(ord('A') + rng.randint(0, 25))}{rng.randint(0, 9)}",
        "latitude": "" if lat is None else f"{lat:.5f}",
        "longitude": "" if lon is None else f"{lon:.5f}",
        "phone": f"+1 {rng.choice(AREA_CODES)} 555 01{rng.randint(0, 99):02d}",
        "email": f"{code.lower()}-{n:03d}@demoland.example",
        "vaccines": ";".join(offered),
        **{f"hours_{d}": h for d, h in days.items()},
        "exceptions": HOLIDAYS if kind == "public" else "",
        "accessibility": "Step-free entrance and an accessible toilet." if accessible else "",
        "accessibility_fr": "Entrée de plain-pied et toilettes accessibles." if accessible else "",
        "daily_capacity": str(rng.randrange(80, 601, 20)) if kind != "outreach" else "",
        "stations": str(rng.randint(1, 8)) if kind in ("public", "private") else "",
        "active": "true",
    }


def generate() -> str:
    """The CSV text (UTF-8, CRLF line ends as RFC 4180 and spreadsheets write them)."""
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    rng = random.Random(SEED)  # noqa: S311 - sample data, not security
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    leaves = _leaves(config)
    for leaf_index, (region, count) in enumerate(zip(leaves, _shares(leaves), strict=True)):
        for serial in range(1, count + 1):
            writer.writerow(_row(rng, region, leaf_index, serial))
    return out.getvalue()


def main() -> int:
    """Write the CSV, or with ``--check`` only compare it."""
    text = generate()
    if "--check" in sys.argv[1:]:
        current = OUTPUT.read_bytes().decode("utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT.name} is stale: run {Path(__file__).name}")  # noqa: T201
            return 1
        return 0
    OUTPUT.write_bytes(text.encode("utf-8"))
    print(f"wrote {OUTPUT} ({text.count(chr(10)) - 1} facilities)")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
