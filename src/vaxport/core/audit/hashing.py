"""What an audit entry's hash covers, and how links chain: RFC 8785 JSON + SHA-256.

An entry's ``entry_hash`` is SHA-256 over the RFC 8785 (JCS) canonical JSON of its
content document; a chain link's ``chain_hash`` is SHA-256 over the canonical JSON of
(tenant, position, entry id, entry hash, previous link's hash). Changing any hashed field
of an entry, or the order, or removing a link, breaks verification from that point on.

The canonical JSON comes from orjson (sorted keys) for documents of plain JSON values:
for those its bytes are RFC 8785's (the same escapes, UTF-8 as is, integers in the exact
range written as decimals, ASCII keys in the same order); anything else (floats, large
integers, non-ASCII keys, subclasses, tuples, lone surrogates) goes through the
``rfc8785`` reference implementation, which then answers or refuses as it always did.
``tests/core/test_audit_canonical.py`` holds the two equal on generated documents.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import ipaddress
import re
import uuid
from typing import Any

import orjson
import rfc8785

from vaxport.core.scrub import contains_personal_data, is_personal_key

FORMAT = 1
GENESIS = "0" * 64
_SLUG = re.compile(r"^[a-z][a-z0-9_.:-]{0,63}$")
_DETAIL_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_MAX_DETAILS_BYTES = 2048
_MAX_INT = 2**53 - 1  # RFC 8785's exact integers: -(2**53 - 1) .. 2**53 - 1
_MAX_DEPTH = 32  # deeper documents go to the reference encoder (orjson stops at 255)
OUTCOMES = frozenset({"success", "failure", "denied"})


def _iso(ts: dt.datetime) -> str:
    # Microseconds, always: what PostgreSQL and SQLite both store and give back.
    utc = ts.astimezone(dt.UTC)
    if utc.year >= 1000:  # isoformat pads years to four digits, strftime does not
        return utc.isoformat(timespec="microseconds")[:26] + "Z"  # strftime's bytes, faster
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def content_document(
    *,
    format: int,
    id: uuid.UUID,
    tenant_id: uuid.UUID,
    occurred_at: dt.datetime,
    actor_id: uuid.UUID | None,
    actor_role: str,
    action: str,
    object_type: str,
    object_id: str | None,
    outcome: str,
    request_id: str | None,
    client_ip_hash: str | None,
    details: dict[str, Any],
) -> dict[str, Any]:
    """The hashed content of an entry, as plain JSON values."""
    if format != FORMAT:
        raise ValueError(f"unknown audit entry format {format}")
    return {
        "format": format,
        "id": str(id),
        "tenant_id": str(tenant_id),
        "occurred_at": _iso(occurred_at),
        "actor_id": str(actor_id) if actor_id is not None else None,
        "actor_role": actor_role,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "outcome": outcome,
        "request_id": request_id,
        "client_ip_hash": client_ip_hash,
        "details": details,
    }


def _plain(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` holds only values whose orjson form (sorted keys) is their
    RFC 8785 form: ``str``, ``bool``, ``None``, ``int`` in the exact range, and ``dict``
    (ASCII ``str`` keys: their code-point order is their UTF-16 order) and ``list`` of
    those, exactly these types (no subclass: enums, for one, are the reference's)."""
    t = type(value)
    if t is str or value is None or t is bool:
        return True
    if t is int:
        return bool(-_MAX_INT <= value <= _MAX_INT)
    if t is dict and depth < _MAX_DEPTH:
        return _plain_items(value, depth + 1)
    if t is list and depth < _MAX_DEPTH:
        return _plain_values(value, depth + 1)
    return False


def _plain_items(mapping: dict[Any, Any], depth: int) -> bool:
    for k, v in mapping.items():
        if type(k) is not str or not k.isascii():
            return False
        if type(v) is not str and v is not None and not _plain(v, depth):
            return False
    return True


def _plain_values(values: list[Any], depth: int) -> bool:
    return all(type(v) is str or v is None or _plain(v, depth) for v in values)


def canonical(document: Any) -> bytes:
    """The RFC 8785 (JCS) canonical JSON of ``document``: byte for byte what
    ``rfc8785.dumps`` gives (and refusing what it refuses), ~50 times faster for plain
    values (see the module's doc)."""
    if _plain(document):
        try:
            return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            pass  # a lone surrogate: the reference refuses it with its own error
    return rfc8785.dumps(document)


def sha256_jcs(document: Any) -> str:
    """Hex SHA-256 of the RFC 8785 canonical JSON of ``document``."""
    return hashlib.sha256(canonical(document)).hexdigest()


def entry_hash(*, details_json: bytes | None = None, **content: Any) -> str:
    """The content hash of an entry (keyword arguments as :func:`content_document`).

    ``details_json``: the canonical JSON of ``content["details"]`` when the caller has it
    already (:func:`check_details` returns it): it is put in the document as it is, so
    an entry's details are encoded once.
    """
    document = content_document(**content)
    if details_json is not None:
        details = document.pop("details")
        if _plain(document):
            document["details"] = orjson.Fragment(details_json)
            try:
                return hashlib.sha256(
                    orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
                ).hexdigest()
            except orjson.JSONEncodeError:
                pass  # the reference refuses it
        document["details"] = details
    return sha256_jcs(document)


def row_entry_hash(row: Any) -> str:
    """Recompute the content hash from a row carrying the entry's columns."""
    return entry_hash(
        format=row.format,
        id=row.id,
        tenant_id=row.tenant_id,
        occurred_at=row.occurred_at,
        actor_id=row.actor_id,
        actor_role=row.actor_role,
        action=row.action,
        object_type=row.object_type,
        object_id=row.object_id,
        outcome=row.outcome,
        request_id=row.request_id,
        client_ip_hash=row.client_ip_hash,
        details=row.details,
    )


def chain_hash(
    *, tenant_id: uuid.UUID, position: int, entry_id: uuid.UUID, entry_hash: str, prev_hash: str
) -> str:
    """The hash of chain link ``position``, binding it to the link before."""
    return sha256_jcs(
        {
            "tenant_id": str(tenant_id),
            "position": position,
            "entry_id": str(entry_id),
            "entry_hash": entry_hash,
            "prev_hash": prev_hash,
        }
    )


@functools.lru_cache(maxsize=4)
def _ip_key(secret: str) -> bytes:
    # A sub-key, so the process secret itself never keys anything stored.
    base = secret.encode() or b"vaxport-development-only"  # production demands a secret
    return hmac.new(base, b"vaxport/audit/client-ip/v1", hashlib.sha256).digest()


def client_ip_hash(ip: str, secret: str) -> str:
    """HMAC-SHA256 of the normalised client IP under a key derived from ``secret``.

    Entries from the same address correlate; the address itself cannot be read back
    (an unkeyed hash of the 2^32 IPv4 space would be reversed in minutes).
    """
    text = ip.strip()
    try:
        text = ipaddress.ip_address(text).compressed
    except ValueError:
        text = text[:64]
    return hmac.new(_ip_key(secret), text.encode(), hashlib.sha256).hexdigest()


def check_slug(field: str, value: str) -> None:
    """Actions, object types and roles are short lower-case slugs, never free text."""
    if not _SLUG.match(value):
        raise ValueError(f"audit {field} must match {_SLUG.pattern}: {value!r}")


def check_details(details: dict[str, Any]) -> bytes:
    """Details are small, JSON-exact (no floats), and carry no personal data; their
    canonical JSON (for :func:`entry_hash`'s ``details_json``)."""
    _check_detail_value("details", details, 0)
    encoded = canonical(details)
    if len(encoded) > _MAX_DETAILS_BYTES:
        raise ValueError(f"audit details exceed {_MAX_DETAILS_BYTES} bytes")
    return encoded


def _check_detail_value(path: str, value: Any, depth: int) -> None:
    if depth > 3:
        raise ValueError(f"audit {path}: nested too deeply")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str) or not _DETAIL_KEY.match(k):
                raise ValueError(f"audit {path}: keys must match {_DETAIL_KEY.pattern}")
            if is_personal_key(k):
                raise ValueError(f"audit {path}.{k}: personal data has no place in the audit")
            _check_detail_value(f"{path}.{k}", v, depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_detail_value(f"{path}.{i}", v, depth + 1)
    else:
        _check_detail_scalar(path, value)


def _check_detail_scalar(path: str, value: Any) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > _MAX_INT:
            raise ValueError(f"audit {path}: integer out of the exact JSON range")
        return
    if not isinstance(value, str):
        raise ValueError(f"audit {path}: {type(value).__name__} is not allowed (no floats)")
    if "\x00" in value or len(value) > 200:
        raise ValueError(f"audit {path}: strings must be short and without NUL")
    if contains_personal_data(value):
        raise ValueError(f"audit {path}: looks like personal data")
