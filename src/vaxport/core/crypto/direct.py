"""Sealing one declared field's bytes outside the ORM flush (Core statements, middleware).

For writers that never hold an ORM object (the idempotency store writes with Core
``INSERT``/``UPDATE``). The ciphertext is exactly what the ORM hooks would write for the
same field (same header, key and associated data), so rotation, re-encryption and
crypto-shredding treat it like any other: the field must be declared on its model with
:func:`vaxport.core.crypto.encrypted`. Both functions take the caller's *sync* session
(``await session.run_sync(...)``), so a key created here commits or rolls back with the
row it protects.
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from vaxport.core.crypto.envelope import (
    CLASS_SUBJECT,
    CLASS_TENANT,
    Header,
    context_aad,
    open_sealed,
    parse_header,
    seal,
)
from vaxport.core.crypto.errors import CryptoMisuseError, SubjectKeyDestroyedError
from vaxport.core.crypto.fields import EncryptedField, ModelSpec, spec_for
from vaxport.core.crypto.keyring import Keyring
from vaxport.core.crypto.models import PURPOSE_DATA
from vaxport.core.crypto.state import get_keyring

SUBJECT_KEY_VERSION = 1  # as the ORM hooks write it (vaxport.core.crypto.orm)


def _field(model: type, name: str) -> tuple[ModelSpec, EncryptedField[object]]:
    spec = spec_for(model)
    if spec is None or name not in spec.fields:
        raise CryptoMisuseError(f"{model.__name__}.{name} is not a declared encrypted field")
    return spec, spec.fields[name]


def _aad(spec: ModelSpec, name: str, tenant_id: uuid.UUID, row_id: object) -> bytes:
    return context_aad(tenant_id=tenant_id, table=spec.table.name, field=name, row_id=row_id)


def tenant_data_key(
    keyring: Keyring, session: Session, tenant_id: uuid.UUID
) -> tuple[bytes, Header]:
    """The tenant's active data key and the header that names its version (fields not
    sealed under a subject's key)."""
    active = keyring.active(session, tenant_id, PURPOSE_DATA)
    assert active is not None  # the keyring creates a tenant's first data key on demand
    version, key = active
    return key, Header(CLASS_TENANT, version)


def seal_bytes(
    session: Session,
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
    session: Session,
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
