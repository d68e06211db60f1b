"""ORM integration: seal on flush, prepare keys on load, decrypt on attribute access.

* ``before_flush``: every pending plaintext of a registered model is sealed under the
  tenant's active data key (or the subject's key) with the row's tenant/table/field/id as
  associated data; blind indexes are computed beside it. A row id is assigned first if the
  object has none, since the ciphertext is bound to it.
* ``do_orm_execute``: ORM bulk INSERT / UPDATE-by-primary-key parameter lists may name the
  plaintext fields (``{"tenant_id": t, "phone": "+33..."}``); they are sealed the same way.
  After a SELECT, the keys of every loaded row are fetched in batches (one query per
  statement, not per row) and attached to the objects, so attribute access never needs
  the database.
* Misuse fails loudly: statement-level ``update(Model).values(phone=...)`` has no row to
  bind to and is rejected by SQLAlchemy; raw bytes or plaintext bound to a ``*_enc`` or
  ``*_bidx`` column are refused by the column types; changing ``tenant_id``/``id`` (or a
  subject column) of a row with ciphertexts is refused.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Mapper, ORMExecuteState, Session, UOWTransaction

from vaxport.core.crypto.blind import blind_index_sync
from vaxport.core.crypto.envelope import (
    CLASS_SUBJECT,
    CLASS_TENANT,
    Header,
    context_aad,
    decode_value,
    encode_value,
    open_sealed,
    parse_header,
    seal,
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
    spec_for_table,
    subject_uuid,
)
from vaxport.core.crypto.keyring import TX_KEYS, _in_greenlet
from vaxport.core.crypto.models import PURPOSE_DATA
from vaxport.core.crypto.state import get_keyring
from vaxport.core.crypto.uniqueness import check_unique_during_rotation

LOADED = "vaxport.crypto.loaded"
SEALED = "vaxport.crypto.sealed"
SUBJECT_KEY_VERSION = 1
_DESTROYED = b""  # marker in an object's key slot: the subject's key no longer exists


# ----------------------------------------------------------------------------- writing


def _seal_value(
    session: Session,
    spec: ModelSpec,
    f: EncryptedField[Any],
    *,
    tenant_id: uuid.UUID,
    row_id: object,
    subject_id: uuid.UUID | None,
    value: Any,
) -> tuple[bytes, bytes | None]:
    keyring = get_keyring()
    plaintext = encode_value(f.kind, value)
    if f.subject is not None:
        assert subject_id is not None
        key = keyring.subject_key(session, tenant_id, subject_id)
        header = Header(CLASS_SUBJECT, SUBJECT_KEY_VERSION)
    else:
        active = keyring.active(session, tenant_id, PURPOSE_DATA)
        assert active is not None
        version, key = active
        header = Header(CLASS_TENANT, version)
    aad = context_aad(tenant_id=tenant_id, table=spec.table.name, field=f.name, row_id=row_id)
    ct = seal(key, header, plaintext, aad)
    bidx = None
    if f.index:
        bidx = blind_index_sync(session, tenant_id=tenant_id, kind=f.kind, value=value)
    return ct, bidx


def _ensure_row_id(obj: Any, spec: ModelSpec) -> object:
    pk = spec.pk_attr
    row_id = getattr(obj, pk)
    if row_id is None:
        column = spec.column(pk)
        default = column.default
        if default is None or not default.is_callable:
            raise CryptoMisuseError(f"{spec.cls.__name__}.{pk} must be set before flushing")
        row_id = default.arg(None)
        setattr(obj, pk, row_id)
    return row_id


def _tenant_of(obj: Any, spec: ModelSpec) -> uuid.UUID:
    tenant_id = getattr(obj, "tenant_id", None)
    if not isinstance(tenant_id, uuid.UUID):
        raise CryptoMisuseError(f"{spec.cls.__name__}.tenant_id must be set to encrypt fields")
    return tenant_id


def _refuse_rebinding(obj: Any, spec: ModelSpec) -> None:
    state = inspect(obj)
    if state.key is None:
        return
    bound = {"tenant_id", spec.pk_attr} | {f.subject for f in spec.fields.values() if f.subject}
    for name in bound:
        if state.attrs[name].history.has_changes():
            raise CryptoMisuseError(
                f"{spec.cls.__name__}.{name} changed on a row with encrypted fields; their "
                "ciphertexts are bound to it (create a new row instead)"
            )


def _seal_pending(session: Session, obj: Any, spec: ModelSpec) -> None:
    _refuse_rebinding(obj, spec)
    d = obj.__dict__
    pending = [
        (f, d[f.enc_attr].value)
        for f in spec.fields.values()
        if isinstance(d.get(f.enc_attr), Pending)
    ]
    if not pending:
        return
    tenant_id = _tenant_of(obj, spec)
    row_id = _ensure_row_id(obj, spec)
    cache = d.setdefault(PLAIN_CACHE, {})
    sealed = session.info.setdefault(SEALED, [])
    for f, value in pending:
        if value is None:
            setattr(obj, f.enc_attr, None)
            if f.index:
                setattr(obj, f.bidx_attr, None)
            cache.pop(f.name, None)
            continue
        sid = subject_uuid(obj, f) if f.subject else None
        ct, bidx = _seal_value(
            session, spec, f, tenant_id=tenant_id, row_id=row_id, subject_id=sid, value=value
        )
        if f.index:
            check_unique_during_rotation(
                session,
                spec,
                f,
                tenant_id=tenant_id,
                row_id=row_id,
                value=value,
                get=lambda attr: getattr(obj, attr),
            )
        setattr(obj, f.enc_attr, ct)
        if f.index:
            setattr(obj, f.bidx_attr, bidx)
        cache[f.name] = (ct, value)
        sealed.append((obj, f, value))


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _ctx: UOWTransaction, _instances: object) -> None:
    for obj in (*session.new, *session.dirty):
        spec = spec_for(type(obj))
        if spec is not None:
            _seal_pending(session, obj, spec)


def _seal_params(
    session: Session, spec: ModelSpec, params: dict[str, Any], *, insert: bool
) -> dict[str, Any]:
    names = [n for n in params if n in spec.fields]
    if not names:
        return params
    out = dict(params)
    tenant_id = out.get("tenant_id")
    if not isinstance(tenant_id, uuid.UUID):
        raise CryptoMisuseError("bulk writes of encrypted fields need tenant_id in every row")
    pk = spec.pk_attr
    if out.get(pk) is None:
        if not insert:
            raise CryptoMisuseError("bulk updates of encrypted fields need the primary key")
        default = spec.column(pk).default
        if default is None or not default.is_callable:
            raise CryptoMisuseError(f"bulk insert needs {pk} in every row")
        out[pk] = default.arg(None)
    for name in names:
        f = spec.fields[name]
        value = out.pop(name)
        if value is None:
            out[f.enc_attr] = None
            if f.index:
                out[f.bidx_attr] = None
            continue
        sid = None
        if f.subject is not None:
            sid = out.get(f.subject)
            if not isinstance(sid, uuid.UUID):
                raise CryptoMisuseError(f"bulk write of {name} needs {f.subject} in every row")
        ct, bidx = _seal_value(
            session, spec, f, tenant_id=tenant_id, row_id=out[pk], subject_id=sid, value=value
        )
        if f.index:
            check_unique_during_rotation(
                session, spec, f, tenant_id=tenant_id, row_id=out[pk], value=value, get=out.get
            )
        out[f.enc_attr] = ct
        if f.index:
            out[f.bidx_attr] = bidx
    return out


def _bound_names(spec: ModelSpec) -> set[str]:
    """Attributes (and their column names) that ciphertexts of ``spec`` are bound to."""
    attrs = {"tenant_id", spec.pk_attr} | {f.subject for f in spec.fields.values() if f.subject}
    return attrs | {spec.column(a).name for a in attrs}


def _refuse_statement_rebinding(state: ORMExecuteState) -> None:
    """Refuse ``UPDATE ... SET tenant_id/id/<subject> = ...`` on tables with ciphertexts."""
    table = getattr(state.statement, "table", None)
    spec = spec_for_table(table) if table is not None else None
    values = getattr(state.statement, "_values", None)  # the statement's SET clause
    if spec is None or not values:
        return
    bound = _bound_names(spec)
    for key in values:
        name = getattr(key, "key", None) or getattr(key, "name", None) or str(key)
        if name in bound:
            raise CryptoMisuseError(
                f"UPDATE of {spec.table.name}.{name} would detach its encrypted fields"
            )


def _bulk_update_rows(session: Session, spec: ModelSpec, params: list[dict[str, Any]]) -> None:
    """Bulk UPDATE by primary key: take tenant/subject from the rows, refuse changing them."""
    pk = spec.pk_attr
    needed = ["tenant_id", *{f.subject for f in spec.fields.values() if f.subject}]
    ids = [p.get(pk) for p in params]
    if any(i is None for i in ids):
        raise CryptoMisuseError("bulk updates of encrypted fields need the primary key")
    cols = [spec.column(pk), *(spec.column(a) for a in dict.fromkeys(needed))]
    found = {
        row[0]: dict(zip(dict.fromkeys(needed), row[1:], strict=True))
        for i in range(0, len(ids), 500)
        for row in session.connection().execute(select(*cols).where(cols[0].in_(ids[i : i + 500])))
    }
    for p in params:
        current = found.get(p[pk])
        if current is None:
            continue  # no such row: the UPDATE matches nothing
        for attr, value in current.items():
            if attr in p and p[attr] != value:
                raise CryptoMisuseError(f"bulk update may not change {spec.cls.__name__}.{attr}")
            p[attr] = value


@event.listens_for(Session, "do_orm_execute")
def _do_orm_execute(state: ORMExecuteState) -> Any:
    session = state.session
    if state.is_insert or state.is_update:
        if state.is_update:
            _refuse_statement_rebinding(state)
        mapper = state.bind_mapper
        spec = spec_for(mapper.class_) if mapper is not None else None
        params: Any = state.parameters
        if spec is not None and params:
            rows = [dict(p) for p in params] if isinstance(params, list) else [dict(params)]
            if not any(n in spec.fields for r in rows for n in r):
                return None
            if state.is_update:
                _bulk_update_rows(session, spec, rows)
            sealed = [_seal_params(session, spec, r, insert=state.is_insert) for r in rows]
            state.parameters = sealed if isinstance(params, list) else sealed[0]
        return None
    if not state.is_select:
        return None
    options = state.execution_options
    if options.get("yield_per") or options.get("stream_results"):
        return None  # streamed rows: keys come from the cache or fail loudly on access
    # Buffer the rows so every object is loaded (and its keys fetched in one go) before
    # the caller sees them; AsyncSession buffers anyway, Session.get() does not.
    frozen = state.invoke_statement().freeze()
    prepare_loaded(session)
    return frozen()


# ----------------------------------------------------------------------------- reading


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
    if _in_greenlet():
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


# ----------------------------------------------------------------------------- transaction end


@event.listens_for(Session, "after_soft_rollback")
def _after_soft_rollback(session: Session, _previous: Any) -> None:
    # Keys created in a rolled-back transaction no longer exist: forget them, and put the
    # plaintext back on new objects sealed under them, so a retried flush seals again.
    session.info.pop(TX_KEYS, None)
    session.info.pop(LOADED, None)
    for obj, f, value in session.info.pop(SEALED, []):
        st = inspect(obj)
        if st.transient or st.pending:
            setattr(obj, f.enc_attr, Pending(value))


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    session.info.pop(TX_KEYS, None)
    session.info.pop(SEALED, None)
    session.info.pop(LOADED, None)
