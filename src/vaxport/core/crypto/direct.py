"""Sealing declared fields outside the ORM flush (Core statements, middleware).

For writers that never hold an ORM object: one field's bytes (the idempotency store
writes with Core ``INSERT``/``UPDATE``), or a new row's values (:func:`seal_values`: a
registration's person and documents go in one ``write_batch``). The ciphertext is
exactly what the ORM hooks would write for the same field (same header, key and
associated data), so rotation, re-encryption and crypto-shredding treat it like any
other: the field must be declared on its model with
:func:`vaxport.core.crypto.encrypted`. The functions take the caller's transaction as the
keyring sees it (a sync session, ``await session.run_sync(...)``, or
``await uow.run_sync(...)``), so a key created here commits or rolls back with the row it
protects.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vaxport.core.crypto.blind import compute, normalise, region_for
from vaxport.core.crypto.envelope import (
    CLASS_SUBJECT,
    CLASS_TENANT,
    Header,
    context_aad,
    encode_value,
    open_sealed,
    parse_header,
    seal,
    seal_with,
)
from vaxport.core.crypto.errors import CryptoMisuseError, SubjectKeyDestroyedError
from vaxport.core.crypto.fields import EncryptedField, ModelSpec, spec_for
from vaxport.core.crypto.keyring import Keyring, KeySession
from vaxport.core.crypto.models import PURPOSE_DATA, PURPOSE_INDEX
from vaxport.core.crypto.state import get_keyring
from vaxport.core.crypto.uniqueness import check_unique_during_rotation

SUBJECT_KEY_VERSION = 1  # as the ORM hooks write it (vaxport.core.crypto.orm)


def _field(model: type, name: str) -> tuple[ModelSpec, EncryptedField[object]]:
    spec = spec_for(model)
    if spec is None or name not in spec.fields:
        raise CryptoMisuseError(f"{model.__name__}.{name} is not a declared encrypted field")
    return spec, spec.fields[name]


def _aad(spec: ModelSpec, name: str, tenant_id: uuid.UUID, row_id: object) -> bytes:
    return context_aad(tenant_id=tenant_id, table=spec.table.name, field=name, row_id=row_id)


def tenant_data_key(
    keyring: Keyring, session: KeySession, tenant_id: uuid.UUID
) -> tuple[bytes, Header]:
    """The tenant's active data key and the header that names its version (fields not
    sealed under a subject's key)."""
    active = keyring.active(session, tenant_id, PURPOSE_DATA)
    assert active is not None  # the keyring creates a tenant's first data key on demand
    version, key = active
    return key, Header(CLASS_TENANT, version)


def seal_bytes(
    session: KeySession,
    model: type,
    name: str,
    *,
    tenant_id: uuid.UUID,
    row_id: object,
    plaintext: bytes,
    subject_id: uuid.UUID | None = None,
) -> bytes:
    """The ciphertext of ``plaintext`` for field ``name`` of row ``row_id``.

    A subject-keyed field needs ``subject_id`` and an existing subject key: an erased (or
    never keyed) subject raises :class:`SubjectKeyDestroyedError` rather than getting a new
    key, since a new key would resurrect what erasure destroyed.
    """
    spec, f = _field(model, name)
    keyring = get_keyring()
    if f.subject is not None:
        if subject_id is None:
            raise CryptoMisuseError(f"{model.__name__}.{name} is sealed under a subject's key")
        key = keyring.subject_keys(session, tenant_id, [subject_id]).get(subject_id)
        if key is None:
            raise SubjectKeyDestroyedError(f"subject {subject_id} has no key (erased?)")
        header = Header(CLASS_SUBJECT, SUBJECT_KEY_VERSION)
    else:
        key, header = tenant_data_key(keyring, session, tenant_id)
    return seal(key, header, plaintext, _aad(spec, name, tenant_id, row_id))


def open_bytes(
    session: KeySession,
    model: type,
    name: str,
    *,
    tenant_id: uuid.UUID,
    row_id: object,
    blob: bytes,
    subject_id: uuid.UUID | None = None,
) -> bytes:
    """The plaintext of a ciphertext made by :func:`seal_bytes` (or the ORM hooks).

    Raises :class:`SubjectKeyDestroyedError` once the subject was erased, and
    :class:`~vaxport.core.crypto.DecryptionError` if the value was moved or tampered with.
    """
    spec, _ = _field(model, name)
    keyring = get_keyring()
    header = parse_header(blob)
    if header.key_class == CLASS_SUBJECT:
        if subject_id is None:
            raise CryptoMisuseError(f"{model.__name__}.{name}: a subject ciphertext needs its id")
        key = keyring.subject_keys(session, tenant_id, [subject_id]).get(subject_id)
        if key is None:
            raise SubjectKeyDestroyedError(f"subject {subject_id} has no key (erased?)")
    else:
        key = keyring.key(session, tenant_id, PURPOSE_DATA, header.key_version)
    return open_sealed(key, blob, _aad(spec, name, tenant_id, row_id))


def seal_values(session: KeySession, model: type, values: Mapping[str, Any]) -> dict[str, Any]:
    """The columns of a new row of ``model`` for a Core insert: ``values`` with each declared
    field's plaintext replaced by its ciphertext (``<field>_enc``) and, for an indexed field,
    its blind index (``<field>_bidx``), exactly as the ORM flush seals a new object's.

    ``values`` name the row's id, ``tenant_id`` and the subject column of subject-keyed
    fields; a declared field absent from them is left out, a ``None`` one is stored as
    NULL. A subject with no key yet gets one in the caller's transaction, as on a flush.
    The fields under one key share one cipher and the blind indexes one look-up of the
    index key: a person's nine fields cost one key look-up, not nine (no ORM object, no
    attribute instrumentation read back).
    """
    spec = spec_for(model)
    if spec is None:
        raise CryptoMisuseError(f"{model.__name__} has no encrypted fields")
    tenant_id = values.get("tenant_id")
    if not isinstance(tenant_id, uuid.UUID):
        raise CryptoMisuseError(f"{model.__name__} rows need tenant_id to encrypt fields")
    row_id = values.get(spec.pk_attr)
    if row_id is None:
        raise CryptoMisuseError(f"{model.__name__}.{spec.pk_attr} must be set to encrypt fields")
    keys = _RowKeys(session, tenant_id)
    out = {k: v for k, v in values.items() if k not in spec.fields}
    for name, f in spec.fields.items():
        if name not in values:
            continue
        value = values[name]
        if value is None:
            out[f.enc_attr] = None
            if f.index:
                out[f.bidx_attr] = None
            continue
        cipher, head = keys.cipher(_subject_of(model, f, values))
        aad = context_aad(tenant_id=tenant_id, table=spec.table.name, field=name, row_id=row_id)
        out[f.enc_attr] = seal_with(cipher, head, encode_value(f.kind, value), aad)
        if f.index:
            out[f.bidx_attr] = keys.blind_index(f.kind, value)
            if keys.rotating():
                check_unique_during_rotation(
                    session,
                    spec,
                    f,
                    tenant_id=tenant_id,
                    row_id=row_id,
                    value=value,
                    get=values.get,
                )
    return out


class _RowKeys:
    """The keys of one row's fields, each looked up once: a cipher per key (the subject's
    or the tenant's data key), the active index key."""

    __slots__ = ("_ciphers", "_index", "_rotating", "keyring", "session", "tenant_id")

    def __init__(self, session: KeySession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.keyring = get_keyring()
        self._ciphers: dict[uuid.UUID | None, tuple[AESGCM, bytes]] = {}
        self._index: tuple[int, bytes] | None = None
        self._rotating: bool | None = None

    def cipher(self, subject_id: uuid.UUID | None) -> tuple[AESGCM, bytes]:
        """The cipher and packed header of the subject's key (``None``: the tenant's)."""
        hit = self._ciphers.get(subject_id)
        if hit is None:
            if subject_id is not None:
                key = self.keyring.subject_key(self.session, self.tenant_id, subject_id)
                header = Header(CLASS_SUBJECT, SUBJECT_KEY_VERSION)
            else:
                key, header = tenant_data_key(self.keyring, self.session, self.tenant_id)
            hit = self._ciphers[subject_id] = (AESGCM(key), header.pack())
        return hit

    def blind_index(self, kind: str, value: Any) -> bytes:
        """The value's blind index under the tenant's active index key."""
        if self._index is None:
            self._index = self.keyring.active(self.session, self.tenant_id, PURPOSE_INDEX)
            assert self._index is not None  # the keyring creates a first key on demand
        version, key = self._index
        return compute(
            key, version, kind, normalise(kind, value, region=region_for(self.tenant_id))
        )

    def rotating(self) -> bool:
        """Whether an index-key rotation is under way (unique indexes are then checked)."""
        if self._rotating is None:
            live = self.keyring.live(self.session, self.tenant_id, PURPOSE_INDEX)
            self._rotating = len(live) > 1
        return self._rotating


def _subject_of(model: type, f: EncryptedField[Any], values: Mapping[str, Any]) -> uuid.UUID | None:
    if f.subject is None:
        return None
    sid = values.get(f.subject)
    if not isinstance(sid, uuid.UUID):
        raise CryptoMisuseError(
            f"{model.__name__}.{f.subject} must be set (a UUID) to encrypt {f.name} under "
            "the subject's key"
        )
    return sid
