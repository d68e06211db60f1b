"""Reading encrypted fields: keys fetched per SELECT in batches, lazy decryption on access.

After each SELECT (see ``orm._do_orm_execute``) the keys of every loaded row are fetched in
one query per tenant and key kind, and attached to the objects, so that reading
``person.phone`` later, outside SQLAlchemy's greenlet, never needs the database.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Mapper, Session

from vaxport.core.crypto.envelope import (
    CLASS_SUBJECT,
    Header,
    context_aad,
    decode_value,
    open_sealed,
    parse_header,
)
from vaxport.core.crypto.errors import (
    CryptoMisuseError,
    KeyNotFoundError,
    SubjectKeyDestroyedError,
)
from vaxport.core.crypto.fields import (
    KEYS_SLOT,
    PLAIN_CACHE,
    EncryptedField,
    ModelSpec,
    Pending,
    spec_for,
    subject_uuid,
)
from vaxport.core.crypto.keyring import TX_KEYS, in_greenlet
from vaxport.core.crypto.models import PURPOSE_DATA
from vaxport.core.crypto.state import get_keyring

LOADED = "vaxport.crypto.loaded"
_DESTROYED = b""  # marker in an object's key slot: the subject's key no longer exists


def _queue_loaded(target: Any, context: Any, *_: Any) -> None:
    if spec_for(type(target)) is None:
        return
    session = getattr(context, "session", None)
    if session is not None:
        session.info.setdefault(LOADED, []).append(target)


event.listen(Mapper, "load", _queue_loaded)
event.listen(Mapper, "refresh", _queue_loaded)


def _needed(obj: Any, spec: ModelSpec) -> list[tuple[EncryptedField[Any], bytes]]:
    d = obj.__dict__
    return [(f, raw) for f in spec.fields.values() if isinstance(raw := d.get(f.enc_attr), bytes)]


def _plan(
    loaded: list[Any],
) -> tuple[
    list[tuple[Any, uuid.UUID, list[tuple[str, Any]]]],
    set[tuple[uuid.UUID, int]],
    dict[uuid.UUID, set[uuid.UUID]],
]:
    """Which keys each loaded object needs, and the distinct keys to fetch."""
    versions: set[tuple[uuid.UUID, int]] = set()
    subjects: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    plan: list[tuple[Any, uuid.UUID, list[tuple[str, Any]]]] = []
    for obj in loaded:
        spec = spec_for(type(obj))
        tenant_id = obj.__dict__.get("tenant_id")
        if spec is None or not isinstance(tenant_id, uuid.UUID):
            continue  # tenant_id not loaded: read_field says so if a field is read
        refs: list[tuple[str, Any]] = []
        for f, raw in _needed(obj, spec):
            header = parse_header(raw)
            if header.key_class != CLASS_SUBJECT:
                versions.add((tenant_id, header.key_version))
                refs.append(("tenant", header.key_version))
                continue
            sid = obj.__dict__.get(f.subject) if f.subject else None
            if isinstance(sid, uuid.UUID):
                subjects[tenant_id].add(sid)
                refs.append(("subject", sid))
        if refs:
            plan.append((obj, tenant_id, refs))
    return plan, versions, subjects


def prepare_loaded(session: Session) -> None:
    """Fetch (in batches) and attach the keys of every object loaded since the last call."""
    loaded = session.info.pop(LOADED, None)
    if not loaded:
        return
    keyring = get_keyring()
    plan, versions, subjects = _plan(loaded)
    tenant_keys = {(t, v): keyring.key(session, t, PURPOSE_DATA, v) for t, v in versions}
    subject_keys = {t: keyring.subject_keys(session, t, ids) for t, ids in subjects.items()}
    for obj, tenant_id, refs in plan:
        slot: dict[tuple[str, Any], bytes] = obj.__dict__.setdefault(KEYS_SLOT, {})
        for kind, ref in refs:
            if kind == "tenant":
                slot[(kind, ref)] = tenant_keys[(tenant_id, ref)]
            else:
                slot[(kind, ref)] = subject_keys[tenant_id].get(ref, _DESTROYED)


def _key_for(obj: Any, f: EncryptedField[Any], header: Header, tenant_id: uuid.UUID) -> bytes:
    ref: tuple[str, Any]
    if header.key_class == CLASS_SUBJECT:
        ref = ("subject", subject_uuid(obj, f))
    else:
        ref = ("tenant", header.key_version)
    slot = obj.__dict__.get(KEYS_SLOT) or {}
    key = slot.get(ref)
    if key is None:
        key = _load_key_now(obj, ref, tenant_id)
    if key == _DESTROYED:
        raise SubjectKeyDestroyedError(
            f"{type(obj).__name__}.{f.name}: the subject's key was destroyed (erased person)"
        )
    return bytes(key)


def _can_query_now() -> bool:
    """Whether sync SQL may run here: inside SQLAlchemy's greenlet or with no event loop."""
    if in_greenlet():
        return True
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return True
    return False


def _load_key_now(obj: Any, ref: tuple[str, Any], tenant_id: uuid.UUID) -> bytes:
    """Keys of an object that no SELECT prepared (e.g. attached from another session)."""
    keyring = get_keyring()
    session = Session.object_session(obj)
    if session is not None:
        tx = session.info.get(TX_KEYS) or {}
        for k, v in tx.items():
            if k[1:] in (("subject", tenant_id, ref[1]), ("key", tenant_id, PURPOSE_DATA, ref[1])):
                return bytes(v)
        cached = keyring.peek(
            session.get_bind(),
            ("subject", tenant_id, ref[1])
            if ref[0] == "subject"
            else ("key", tenant_id, PURPOSE_DATA, ref[1]),
        )
        if cached is not None:
            return cached
        if _can_query_now():
            if ref[0] == "subject":
                return keyring.subject_keys(session, tenant_id, [ref[1]]).get(ref[1], _DESTROYED)
            return keyring.key(session, tenant_id, PURPOSE_DATA, ref[1])
    raise KeyNotFoundError(
        f"{type(obj).__name__}: its key is not loaded; read rows through a session query "
        "(keys are fetched after each SELECT)"
    )


def read_field(obj: Any, f: EncryptedField[Any]) -> Any:
    """The plaintext of one encrypted field of ``obj`` (decrypting at most once)."""
    raw = getattr(obj, f.enc_attr)
    if raw is None:
        return None
    if isinstance(raw, Pending):
        return raw.value
    cache: dict[str, tuple[bytes, Any]] = obj.__dict__.setdefault(PLAIN_CACHE, {})
    hit = cache.get(f.name)
    if hit is not None and hit[0] is raw:
        return hit[1]
    spec = spec_for(type(obj))
    assert spec is not None
    tenant_id = obj.tenant_id
    if not isinstance(tenant_id, uuid.UUID):
        raise CryptoMisuseError(f"{spec.cls.__name__}.tenant_id is not loaded")
    header = parse_header(raw)
    key = _key_for(obj, f, header, tenant_id)
    aad = context_aad(
        tenant_id=tenant_id, table=spec.table.name, field=f.name, row_id=getattr(obj, spec.pk_attr)
    )
    value = decode_value(f.kind, open_sealed(key, raw, aad))
    cache[f.name] = (raw, value)
    return value


def open_column(
    bind: Any,
    model: type,
    field: str,
    *,
    tenant_id: uuid.UUID,
    row_id: object,
    raw: bytes | None,
    subject_id: uuid.UUID | None = None,
    key: bytes | None = None,
) -> Any:
    """The plaintext of ``model.field`` read off the ORM (a Core or driver row), with the
    keys this process already holds for ``bind``'s database (or ``key``: the subject's, as
    ``Keyring.adopt_subject_key`` gave it).

    The same check and decryption as an attribute read (``read_field``); the key comes
    from the keyring's in-process cache only, so this never queries: when the key is not
    there, :class:`KeyNotFoundError` says to read through a session (which fetches and
    caches it), as the hot read paths then do once.
    """
    if raw is None:
        return None
    spec = spec_for(model)
    f = spec.fields.get(field) if spec is not None else None
    if spec is None or f is None:
        raise CryptoMisuseError(f"{model.__name__}.{field} is not an encrypted field")
    header = parse_header(raw)
    if header.key_class == CLASS_SUBJECT:
        if subject_id is None:
            raise CryptoMisuseError(f"{model.__name__}.{field}: its subject id is needed")
        ref: tuple[Any, ...] = ("subject", tenant_id, subject_id)
    else:
        ref = ("key", tenant_id, PURPOSE_DATA, header.key_version)
    if key is None or header.key_class != CLASS_SUBJECT:
        key = get_keyring().peek(bind, ref)
    if key is None:
        raise KeyNotFoundError(f"{model.__name__}.{field}: its key is not cached here")
    if key == _DESTROYED:
        raise SubjectKeyDestroyedError(f"{model.__name__}.{field}: the subject's key was destroyed")
    aad = context_aad(tenant_id=tenant_id, table=spec.table.name, field=f.name, row_id=row_id)
    return decode_value(f.kind, open_sealed(key, raw, aad))
