"""The ciphertext format of personal fields (AES-256-GCM, versioned header, bound context).

Layout of a stored value (format 1)::

    0xFA | format (1) | key class (1) | key version (u32 BE) | nonce (12) | ciphertext+tag

* ``0xFA`` never starts valid UTF-8, so no text can be mistaken for a ciphertext.
* key class 1: the tenant's data key of that version; key class 2: the subject's own key
  (crypto-shredding), which is itself wrapped by a tenant data key.
* The associated data is the header plus tenant, table, field and row id, so a
  ciphertext copied to another row, column or tenant fails authentication.
* Plaintext is padded to a multiple of 16 bytes (ISO/IEC 7816-4) so lengths of names and
  ID numbers leak only coarsely.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import struct
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vaxport.core.crypto.errors import CryptoMisuseError, DecryptionError

MAGIC = 0xFA
FORMAT_V1 = 1
CLASS_TENANT = 1
CLASS_SUBJECT = 2
HEADER = struct.Struct(">BBBI")
HEADER_LEN = HEADER.size  # 7
NONCE_LEN = 12
TAG_LEN = 16
MIN_LEN = HEADER_LEN + NONCE_LEN + TAG_LEN
PAD_BLOCK = 16

ValueKind = Literal["text", "phone", "email", "id_number", "date", "json"]
VALUE_KINDS: tuple[str, ...] = ("text", "phone", "email", "id_number", "date", "json")


@dataclass(frozen=True, slots=True)
class Header:
    """The clear part of a ciphertext: enough to find the key, nothing about the value."""

    key_class: int
    key_version: int

    def pack(self) -> bytes:
        return HEADER.pack(MAGIC, FORMAT_V1, self.key_class, self.key_version)


def parse_header(blob: bytes) -> Header:
    """Read and check the header of a stored ciphertext."""
    if not looks_like_ciphertext(blob):
        raise DecryptionError("value is not a vaxport ciphertext (bad header or too short)")
    _magic, _fmt, key_class, version = HEADER.unpack_from(blob)
    return Header(key_class, version)


def looks_like_ciphertext(blob: object) -> bool:
    """Whether ``blob`` is structurally a format-1 ciphertext (not whether it authenticates)."""
    if not isinstance(blob, bytes | bytearray | memoryview) or len(blob) < MIN_LEN:
        return False
    b = bytes(blob[:3])
    return b[0] == MAGIC and b[1] == FORMAT_V1 and b[2] in (CLASS_TENANT, CLASS_SUBJECT)


def _lp(data: bytes) -> bytes:
    return struct.pack(">H", len(data)) + data


def row_id_bytes(row_id: object) -> bytes:
    """A canonical byte form of a primary key (UUIDs as their 16 bytes)."""
    if isinstance(row_id, uuid.UUID):
        return row_id.bytes
    if isinstance(row_id, int | str):
        return str(row_id).encode()
    raise CryptoMisuseError(f"unsupported primary key type {type(row_id).__name__}")


@functools.lru_cache(maxsize=1024)
def _place(table: str, field: str) -> bytes:
    return _lp(table.encode()) + _lp(field.encode())


def context_aad(*, tenant_id: uuid.UUID, table: str, field: str, row_id: object) -> bytes:
    """Associated data (after the header) binding a field ciphertext to its exact place."""
    return b"".join(
        (
            b"vaxport.field.v1",
            _lp(tenant_id.bytes),
            _place(table, field),
            _lp(row_id_bytes(row_id)),
        )
    )


def subject_key_aad(*, tenant_id: uuid.UUID, subject_id: uuid.UUID) -> bytes:
    """Associated data binding a wrapped subject key to its tenant and subject."""
    return b"vaxport.subject-key.v1" + _lp(tenant_id.bytes) + _lp(subject_id.bytes)


def _pad(data: bytes) -> bytes:
    pad = PAD_BLOCK - (len(data) % PAD_BLOCK)
    return data + b"\x80" + b"\x00" * (pad - 1)


def _unpad(data: bytes) -> bytes:
    idx = data.rfind(b"\x80")
    if idx < 0 or data[idx + 1 :].strip(b"\x00"):
        raise DecryptionError("bad padding in authenticated plaintext")
    return data[:idx]


def seal(key: bytes, header: Header, plaintext: bytes, aad_context: bytes) -> bytes:
    """Encrypt ``plaintext`` under ``key`` with a fresh random 96-bit nonce."""
    return seal_with(AESGCM(key), header.pack(), plaintext, aad_context)


def seal_with(cipher: AESGCM, head: bytes, plaintext: bytes, aad_context: bytes) -> bytes:
    """:func:`seal` with the key's cipher and packed header made by the caller, once for
    several values under one key (a new row's fields): the same ciphertext format."""
    nonce = os.urandom(NONCE_LEN)
    return head + nonce + cipher.encrypt(nonce, _pad(plaintext), head + aad_context)


def open_sealed(key: bytes, blob: bytes, aad_context: bytes) -> bytes:
    """Decrypt and authenticate a value produced by :func:`seal`."""
    head = bytes(blob[:HEADER_LEN])
    nonce = bytes(blob[HEADER_LEN : HEADER_LEN + NONCE_LEN])
    try:
        padded = AESGCM(key).decrypt(
            nonce, bytes(blob[HEADER_LEN + NONCE_LEN :]), head + aad_context
        )
    except InvalidTag as exc:
        raise DecryptionError(
            "ciphertext failed authentication (moved to another row/column/tenant, "
            "tampered, or wrong key)"
        ) from exc
    return _unpad(padded)


def encode_value(kind: str, value: Any) -> bytes:
    """The plaintext bytes of a field value, checked against the field's kind."""
    if kind == "date":
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            raise CryptoMisuseError(
                f"a date field needs a datetime.date, got {type(value).__name__}"
            )
        return value.isoformat().encode()
    if kind == "json":
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except TypeError as exc:
            raise CryptoMisuseError(f"a json field needs JSON-serialisable data: {exc}") from exc
    if not isinstance(value, str):
        raise CryptoMisuseError(f"a {kind} field needs a str, got {type(value).__name__}")
    return value.encode()


def decode_value(kind: str, data: bytes) -> Any:
    """Inverse of :func:`encode_value`."""
    if kind == "date":
        return dt.date.fromisoformat(data.decode())
    if kind == "json":
        return orjson.loads(data)
    return data.decode()
