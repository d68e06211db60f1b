"""Uniqueness of blind indexes while an index-key rotation is under way.

A unique index over ``<field>_bidx`` compares values computed with one index key. While
``rotate-index`` rebuilds, rows not yet rebuilt hold values under the old key, which the
unique index cannot compare with new ones. So, only during that window, a write of a
unique blind index also looks for the same value under every older live index key and
refuses a duplicate with the same ``IntegrityError`` the unique index would raise.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Index, UniqueConstraint, exists, inspect, select
from sqlalchemy.exc import IntegrityError

from vaxport.core.crypto.blind import compute, normalise, region_for
from vaxport.core.crypto.errors import CryptoError
from vaxport.core.crypto.fields import EncryptedField, ModelSpec
from vaxport.core.crypto.keyring import KeySession
from vaxport.core.crypto.models import PURPOSE_INDEX
from vaxport.core.crypto.state import get_keyring


class DuplicateBlindIndexError(CryptoError):
    """Another row holds the same unique value under an older index key."""


def _unique_groups(spec: ModelSpec, column: Any) -> list[list[Any]]:
    table = spec.table
    groups: list[list[Any]] = []
    for c in table.constraints:
        if isinstance(c, UniqueConstraint) and column in list(c.columns):
            groups.append(list(c.columns))
    for ix in table.indexes:
        if isinstance(ix, Index) and ix.unique and column in list(ix.columns):
            groups.append(list(ix.columns))
    return groups


def check_unique_during_rotation(
    session: KeySession,
    spec: ModelSpec,
    f: EncryptedField[Any],
    *,
    tenant_id: uuid.UUID,
    row_id: object,
    value: Any,
    get: Callable[[str], Any],
) -> None:
    """Raise ``IntegrityError`` if a unique blind index would duplicate a not-yet-rebuilt row."""
    live = get_keyring().live(session, tenant_id, PURPOSE_INDEX)
    if len(live) < 2:
        return
    bidx_col = spec.column(f.bidx_attr)
    groups = _unique_groups(spec, bidx_col)
    if not groups:
        return
    norm = normalise(f.kind, value, region=region_for(tenant_id))
    olds = [compute(key, version, f.kind, norm) for version, key in live[1:]]
    pk = spec.column(spec.pk_attr)
    mapper: Any = inspect(spec.cls)
    mapper_attr = {c: mapper.get_property_by_column(c).key for c in spec.table.c}
    for columns in groups:
        conditions = [bidx_col.in_(olds), pk != row_id]
        for c in columns:
            if c is not bidx_col:
                conditions.append(c == get(mapper_attr[c]))
        if session.connection().execute(select(exists().where(*conditions))).scalar():
            raise IntegrityError(
                f"duplicate {spec.table.name}.{f.name} (blind index under an older index key)",
                None,
                DuplicateBlindIndexError("unique blind index duplicate during index rotation"),
            )
