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

import uuid
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from vaxport.core.crypto.blind import blind_index_sync
from vaxport.core.crypto.direct import seal_values, tenant_data_key
from vaxport.core.crypto.envelope import (
    CLASS_SUBJECT,
    Header,
    context_aad,
    encode_value,
    seal,
)
from vaxport.core.crypto.errors import (
    CryptoMisuseError,
)
from vaxport.core.crypto.fields import (
    PLAIN_CACHE,
    EncryptedField,
    ModelSpec,
    Pending,
    spec_for,
    spec_for_table,
    subject_uuid,
)
from vaxport.core.crypto.keyring import TX_KEYS, KeySession
from vaxport.core.crypto.orm_read import LOADED, prepare_loaded
from vaxport.core.crypto.state import get_keyring
from vaxport.core.crypto.uniqueness import check_unique_during_rotation

SEALED = "vaxport.crypto.sealed"
SUBJECT_KEY_VERSION = 1
_DESTROYED = b""  # marker in an object's key slot: the subject's key no longer exists


# ----------------------------------------------------------------------------- writing


def _seal_value(
    session: KeySession,
    spec: ModelSpec,
    f: EncryptedField[Any],
    *,
    tenant_id: uuid.UUID,
    row_id: object,
    subject_id: uuid.UUID | None,
    value: Any,
    fresh: bool = False,
) -> tuple[bytes, bytes | None]:
    keyring = get_keyring()
    plaintext = encode_value(f.kind, value)
    if f.subject is not None:
        assert subject_id is not None
        key = keyring.subject_key(session, tenant_id, subject_id, fresh=fresh)
        header = Header(CLASS_SUBJECT, SUBJECT_KEY_VERSION)
    else:
        key, header = tenant_data_key(keyring, session, tenant_id)
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


def _refuse_rebinding(obj: Any, spec: ModelSpec) -> bool:
    """Refuse moving a stored row's ciphertexts; ``True`` when the row is not stored yet."""
    state = inspect(obj)
    if state.key is None:
        return True
    bound = {"tenant_id", spec.pk_attr} | {f.subject for f in spec.fields.values() if f.subject}
    for name in bound:
        if state.attrs[name].history.has_changes():
            raise CryptoMisuseError(
                f"{spec.cls.__name__}.{name} changed on a row with encrypted fields; their "
                "ciphertexts are bound to it (create a new row instead)"
            )
    return False


def _seal_pending(session: KeySession, obj: Any, spec: ModelSpec) -> None:
    new_row = _refuse_rebinding(obj, spec)
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
        # A new row keyed by its own new id (a new person) is a new subject: create its
        # key without looking for one first.
        fresh = new_row and f.subject == spec.pk_attr
        ct, bidx = _seal_value(
            session,
            spec,
            f,
            tenant_id=tenant_id,
            row_id=row_id,
            subject_id=sid,
            value=value,
            fresh=fresh,
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


def seal_new(session: KeySession, obj: Any) -> None:
    """Seal the pending fields of a new ``obj`` now, as a flush would (for rows written by
    Core statements instead of the unit of work: :func:`vaxport.core.db.write_batch`)."""
    spec = spec_for(type(obj))
    if spec is not None:
        _seal_pending(session, obj, spec)


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _ctx: UOWTransaction, _instances: object) -> None:
    for obj in (*session.new, *session.dirty):
        spec = spec_for(type(obj))
        if spec is not None:
            _seal_pending(session, obj, spec)


def _seal_params(
    session: Session, spec: ModelSpec, params: dict[str, Any], *, insert: bool
) -> dict[str, Any]:
    if not any(n in spec.fields for n in params):
        return params
    out = dict(params)
    if not isinstance(out.get("tenant_id"), uuid.UUID):
        raise CryptoMisuseError("bulk writes of encrypted fields need tenant_id in every row")
    pk = spec.pk_attr
    if out.get(pk) is None:
        if not insert:
            raise CryptoMisuseError("bulk updates of encrypted fields need the primary key")
        default = spec.column(pk).default
        if default is None or not default.is_callable:
            raise CryptoMisuseError(f"bulk insert needs {pk} in every row")
        out[pk] = default.arg(None)
    return seal_values(session, spec.cls, out)


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


# ----------------------------------------------------------------------------- transaction end


@event.listens_for(Session, "after_soft_rollback")
def _after_soft_rollback(session: Session, _previous: Any) -> None:
    forget_transaction(session.info)


def forget_transaction(info: dict[Any, Any]) -> None:
    """A transaction rolled back (``info``: its session's, or its unit of work's keys'):
    keys created in it no longer exist, so forget them, and put the plaintext back on new
    objects sealed under them, so a retried flush (or :func:`seal_new`) seals again."""
    info.pop(TX_KEYS, None)
    info.pop(LOADED, None)
    for obj, f, value in info.pop(SEALED, []):
        st = inspect(obj)
        if st.transient or st.pending:
            setattr(obj, f.enc_attr, Pending(value))


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    session.info.pop(TX_KEYS, None)
    session.info.pop(SEALED, None)
    session.info.pop(LOADED, None)
