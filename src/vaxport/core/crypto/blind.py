"""Blind indexes: keyed HMAC-SHA256 of a normalised value, for equality lookup and uniqueness.

A blind index is ``version (u16 BE) || HMAC-SHA256(index key, domain || kind || value)``
where the index key is the tenant's own ``index`` key (never its data key). Without the
key, the index reveals only equality between rows of one tenant. The version prefix lets
a lookup try every live index key while ``rotate-index`` rebuilds, and lets the rebuild
find rows it has not reached yet.
"""

from __future__ import annotations

import functools
import hashlib
import re
import struct
import threading
import unicodedata
import uuid
from collections.abc import Callable
from typing import Any, Literal

from sqlalchemy import ColumnElement, false
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from vaxport.core.contacts import normalise_email, normalise_phone
from vaxport.core.crypto.errors import InvalidFieldValueError
from vaxport.core.crypto.keyring import KeySession
from vaxport.core.crypto.models import PURPOSE_INDEX
from vaxport.core.crypto.state import get_keyring
from vaxport.core.errors import ValidationFailed

IndexKind = Literal["phone", "email", "id_number", "text", "date"]
INDEX_KINDS: tuple[str, ...] = ("phone", "email", "id_number", "text", "date")
BIDX_LEN = 2 + 32
_ID_SEPARATORS = re.compile(r"[\s\-./_:]+")
_SPACES = re.compile(r"\s+")

RegionResolver = Callable[[uuid.UUID], str | None]
_region_resolver: RegionResolver | None = None
_resolver_lock = threading.Lock()


def set_phone_region_resolver(resolver: RegionResolver | None) -> None:
    """Tell the crypto layer each tenant's default phone region (ISO 3166 alpha-2).

    The tenancy context installs this; it must answer from memory (it is called while a
    flush is in progress). Without it, national-format numbers are refused.
    """
    global _region_resolver  # noqa: PLW0603 - one process-wide hook, installed at start-up
    with _resolver_lock:
        _region_resolver = resolver


def region_for(tenant_id: uuid.UUID) -> str | None:
    resolver = _region_resolver
    return resolver(tenant_id) if resolver is not None else None


def normalise(kind: str, value: Any, *, region: str | None = None) -> str:
    """The canonical form a blind index is computed over (raises on unusable input)."""
    if kind == "date":
        if not hasattr(value, "isoformat"):
            raise InvalidFieldValueError("not a date")
        return str(value.isoformat())
    if not isinstance(value, str):
        raise InvalidFieldValueError(f"{kind} must be a string")
    if kind in ("phone", "email"):
        # The one contact rule, so an index matches the stored form whoever stored it.
        try:
            if kind == "phone":
                return normalise_phone(value, region=region, field=kind)
            return normalise_email(value, field=kind)
        except ValidationFailed as exc:
            raise InvalidFieldValueError(str(exc)) from None
    if kind == "id_number":
        out = _ID_SEPARATORS.sub("", unicodedata.normalize("NFKC", value)).upper()
        if not out:
            raise InvalidFieldValueError("empty ID number")
        return out
    if kind == "text":
        out = _SPACES.sub(" ", unicodedata.normalize("NFKC", value)).strip().casefold()
        if not out:
            raise InvalidFieldValueError("empty text")
        return out
    raise InvalidFieldValueError(f"unknown blind index kind {kind!r}")


def compute(key: bytes, version: int, kind: str, normalised: str) -> bytes:
    """The stored blind index of an already normalised value:
    ``HMAC-SHA256(key, domain || kind || value)`` after the key's version."""
    inner, outer = _mac_prefix(key, kind)
    mac = inner.copy()
    mac.update(normalised.encode())
    out = outer.copy()
    out.update(mac.digest())
    digest: bytes = out.digest()
    return _VERSION.pack(version) + digest


_VERSION = struct.Struct(">H")
_BLOCK = 64  # SHA-256's block size: HMAC pads (or hashes) its key to it
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


@functools.lru_cache(maxsize=256)
def _mac_prefix(key: bytes, kind: str) -> tuple[Any, Any]:
    """HMAC-SHA256 under ``key`` with the domain and ``kind`` already absorbed: its inner
    and outer hash states (RFC 2104), copied for each value instead of keying an HMAC
    and hashing the prefix again (a fifth of the cost of ``hmac.new`` per index).

    Index keys only (tenant-wide, never crypto-shredded; the keyring holds them too);
    a few hundred at most are kept, the least recently used dropped first.
    """
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\x00")
    inner = hashlib.sha256(key.translate(_IPAD))
    inner.update(b"vaxport.bidx.v1\x00" + kind.encode() + b"\x00")
    return inner, hashlib.sha256(key.translate(_OPAD))


def index_version(bidx: bytes) -> int:
    """The index key version a stored blind index was computed with."""
    return int(struct.unpack_from(">H", bidx)[0])


def blind_index_sync(
    session: KeySession,
    *,
    tenant_id: uuid.UUID,
    kind: str,
    value: Any,
    region: str | None = None,
    create: bool = True,
) -> bytes | None:
    """The blind index new rows get (active index key); sync form for ORM hooks."""
    norm = normalise(kind, value, region=region or region_for(tenant_id))
    active = get_keyring().active(session, tenant_id, PURPOSE_INDEX, create=create)
    if active is None:
        return None
    version, key = active
    return compute(key, version, kind, norm)


def blind_index_candidates_sync(
    session: KeySession, *, tenant_id: uuid.UUID, kind: str, value: Any, region: str | None = None
) -> list[bytes]:
    """The blind index under every live index key (several only while rotate-index runs)."""
    norm = normalise(kind, value, region=region or region_for(tenant_id))
    return [
        compute(key, version, kind, norm)
        for version, key in get_keyring().live(session, tenant_id, PURPOSE_INDEX)
    ]


async def blind_index(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    kind: IndexKind,
    value: Any,
    region: str | None = None,
) -> bytes:
    """The blind index of ``value`` under the tenant's active index key.

    Use it to compare with a ``<field>_bidx`` column; prefer :func:`blind_match` for
    lookups, which stays correct while an index-key rotation is in progress.
    """

    def run(s: Session) -> bytes:
        out = blind_index_sync(s, tenant_id=tenant_id, kind=kind, value=value, region=region)
        assert out is not None
        return out

    return await session.run_sync(run)


async def blind_match(
    session: AsyncSession,
    column: Any,
    *,
    tenant_id: uuid.UUID,
    kind: IndexKind,
    value: Any,
    region: str | None = None,
) -> ColumnElement[bool]:
    """A WHERE clause matching rows whose ``column`` (a ``_bidx`` column) equals ``value``.

    Raises :class:`InvalidFieldValueError` for a value that cannot be normalised (a
    lookup by a malformed phone number is a client error, not an empty result).
    """
    candidates = await session.run_sync(
        lambda s: blind_index_candidates_sync(
            s, tenant_id=tenant_id, kind=kind, value=value, region=region
        )
    )
    if not candidates:
        return false()
    if len(candidates) == 1:
        result: ColumnElement[bool] = column == candidates[0]
        return result
    in_clause: ColumnElement[bool] = column.in_(candidates)
    return in_clause
