"""Measure field encryption and blind-index costs (run by hand; prints a small table).

    PYTHONPATH=src python bench/crypto_fields.py [--rows 2000]

1. per field: encode + AES-256-GCM seal + open + decode, with the real associated data;
2. per blind index: normalisation + HMAC-SHA256, for each kind;
3. end to end on a SQLite file: flushing and reading back rows with 8 encrypted fields,
   beside the same rows with 8 plain text columns (the ratio is what matters).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import MetaData, String, Uuid, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from vaxport import wiring
from vaxport.core import migrate
from vaxport.core.crypto import encrypted, set_keyring
from vaxport.core.crypto.blind import compute, normalise
from vaxport.core.crypto.envelope import (
    CLASS_TENANT,
    Header,
    context_aad,
    decode_value,
    encode_value,
    open_sealed,
    seal,
)
from vaxport.core.crypto.keyring import Keyring
from vaxport.core.crypto.providers import LocalKeyFileProvider
from vaxport.core.db import NAMING_CONVENTION, Database
from vaxport.core.ids import uuid7

PARTS = wiring.build()


def per_op_us(fn: Callable[[], object], n: int = 20_000, repeat: int = 5) -> float:
    """Median over ``repeat`` runs of the mean time of one call, in microseconds."""
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(runs)


def field_costs(key: bytes, kind: str, value: object) -> tuple[float, float, float]:
    """Microseconds to encrypt, to decrypt, and to do both with fresh associated data."""
    tenant, row = uuid.uuid4(), uuid7()
    aad = context_aad(tenant_id=tenant, table="people", field="f", row_id=row)
    header = Header(CLASS_TENANT, 1)
    blob = seal(key, header, encode_value(kind, value), aad)

    def both() -> object:
        a = context_aad(tenant_id=tenant, table="people", field="f", row_id=row)
        sealed = seal(key, header, encode_value(kind, value), a)
        a = context_aad(tenant_id=tenant, table="people", field="f", row_id=row)
        return decode_value(kind, open_sealed(key, sealed, a))

    return (
        per_op_us(lambda: seal(key, header, encode_value(kind, value), aad)),
        per_op_us(lambda: decode_value(kind, open_sealed(key, blob, aad))),
        per_op_us(both),
    )


def index_costs(key: bytes, kind: str, value: str, region: str | None) -> tuple[float, float]:
    """Microseconds to normalise, and to HMAC the normalised value."""
    norm = normalise(kind, value, region=region)
    return (
        per_op_us(lambda: normalise(kind, value, region=region), n=5000),
        per_op_us(lambda: compute(key, 1, kind, norm)),
    )


def micro() -> None:
    key = os.urandom(32)
    print("field encrypt+decrypt (encode, seal, open, decode; real AAD)")
    for kind, value in [
        ("phone", "+33612345678"),
        ("text", "Ngozi Adebayo-Okonkwo"),
        ("date", dt.date(1987, 3, 14)),
        ("json", {"line": "12 rue de la Paix", "city": "Lyon", "postcode": "69001"}),
        ("text", "x" * 2000),
    ]:
        enc, dec, both = field_costs(key, kind, value)
        label = f"{kind} ({len(encode_value(kind, value))} B)"
        print(f"  {label:<16} encrypt {enc:6.2f} us  decrypt {dec:6.2f} us  both {both:6.2f} us")
    print("blind index (normalise + HMAC-SHA256)")
    for kind, value, region in [
        ("phone", "+33 6 12 34 56 78", None),
        ("phone", "06 12 34 56 78", "FR"),
        ("email", " Jane.Doe@Example.org ", None),
        ("id_number", "AB-12.345 678", None),
        ("text", "  Ngozi   ADEBAYO ", None),
    ]:
        norm_us, mac_us = index_costs(key, kind, value, region)
        print(f"  {kind:<10} normalise {norm_us:6.2f} us  hmac {mac_us:5.2f} us")


class B(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {uuid.UUID: Uuid()}


class Enc(B):
    __tablename__ = "bench_enc"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    given_name = encrypted("text")
    family_name = encrypted("text", index=True)
    phone = encrypted("phone", index=True)
    email = encrypted("email", index=True)
    national_id = encrypted("id_number", index=True)
    birth_date = encrypted("date")
    address = encrypted("json")
    notes = encrypted("text")


class Plain(B):
    __tablename__ = "bench_plain"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    given_name: Mapped[str] = mapped_column(String(200))
    family_name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(200))
    national_id: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[dt.date] = mapped_column()
    address: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str] = mapped_column(String(200))


def values(i: int) -> dict[str, object]:
    return {
        "given_name": f"Given{i}",
        "family_name": f"Family{i % 500}",
        "phone": f"+336{i:08d}",
        "email": f"person{i}@example.org",
        "national_id": f"ID-{i:09d}",
        "birth_date": dt.date(1950 + i % 60, 1 + i % 12, 1 + i % 28),
        "address": {"line": f"{i} main street", "city": "Lyon"},
        "notes": "no known allergies",
    }


async def end_to_end(rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        set_keyring(Keyring(LocalKeyFileProvider(Path(tmp) / "k.json", create_if_missing=True)))
        db = Database(f"sqlite+aiosqlite:///{tmp}/b.db")
        await migrate.upgrade(db, metadata=PARTS.metadata)
        wiring.install(PARTS)
        async with db.engine.begin() as conn:
            await conn.run_sync(B.metadata.create_all)
        tenant = uuid.uuid4()
        print(f"end to end, SQLite file, {rows} rows x 8 fields (per row)")
        for cls in (Plain, Enc):
            t0 = time.perf_counter()
            async with db.transaction(tenant_id=tenant) as uow:
                for i in range(rows):
                    obj = cls(tenant_id=tenant)
                    for k, v in values(i).items():
                        setattr(obj, k, v if cls is Enc or k != "address" else str(v))
                    uow.session.add(obj)
            write = (time.perf_counter() - t0) / rows * 1e6
            t0 = time.perf_counter()
            async with db.read(tenant_id=tenant) as s:
                objs = (await s.execute(select(cls))).scalars().all()
                for o in objs:
                    for k in values(0):
                        getattr(o, k)
            read = (time.perf_counter() - t0) / rows * 1e6
            print(
                f"  {cls.__name__:<6} write {write:7.1f} us/row  read all fields {read:7.1f} us/row"
            )
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
    micro()
    asyncio.run(end_to_end(args.rows))


if __name__ == "__main__":
    main()
