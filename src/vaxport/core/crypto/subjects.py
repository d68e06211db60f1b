"""Crypto-shredding: erase a person by destroying their own key.

Fields declared with ``encrypted(..., subject="<column>")`` are sealed under a random key
of that subject, itself wrapped by the tenant's data key (table ``subject_keys``).
Erasing the subject deletes the key and clears those fields and their blind indexes in
every registered table (append-only tables keep ciphertext no key opens any more), so
neither the live database nor any copy of the ciphertext (exports, replicas, dumps taken
afterwards) can be decrypted again. See ``docs/keys.md``
for what this does and does not do for backups taken before the erasure.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from vaxport.core.crypto.fields import KEYS_SLOT, PLAIN_CACHE, registered_models, spec_for
from vaxport.core.crypto.models import SubjectKey
from vaxport.core.crypto.state import get_keyring


async def erase_subject(
    session: AsyncSession, *, tenant_id: uuid.UUID, subject_id: uuid.UUID
) -> int:
    """Destroy the subject's key and clear their subject-keyed fields; return rows cleared."""
    cleared = 0
    for spec in registered_models():
        if spec.table.info.get("append_only"):
            # The app may not change an append-only table's rows (core/rls.py grants it
            # INSERT and SELECT only); destroying the key below is what shreds them.
            continue
        by_column: dict[str, dict[str, None]] = {}
        for f in spec.fields.values():
            if f.subject is None:
                continue
            values = by_column.setdefault(f.subject, {})
            values[f.enc_attr] = None
            if f.index:
                values[f.bidx_attr] = None
        if spec.table.info.get("append_only"):
            # Rows nobody may change (history kept as written): destroying the key below
            # is what makes their ciphertext unreadable.
            continue
        for subject_attr, values in by_column.items():
            table = spec.table
            subject_col = spec.column(subject_attr)
            result = await session.execute(
                update(table)
                .where(table.c.tenant_id == tenant_id, subject_col == subject_id)
                .values({spec.column(a).name: v for a, v in values.items()})
            )
            cleared += int(getattr(result, "rowcount", 0) or 0)
    await session.execute(
        delete(SubjectKey).where(
            SubjectKey.tenant_id == tenant_id, SubjectKey.subject_id == subject_id
        )
    )
    conn = (await session.connection()).sync_connection
    assert conn is not None
    get_keyring().forget_subject(conn, tenant_id, subject_id)
    # Objects of this subject already in the session hold the old ciphertext and key:
    # expire them so nothing in memory still reads as the erased person.
    for obj in list(session.identity_map.values()):
        obj_spec = spec_for(type(obj))
        if obj_spec is None or obj.__dict__.get("tenant_id") != tenant_id:
            continue
        fields = obj_spec.fields.values()
        if any(f.subject and obj.__dict__.get(f.subject) == subject_id for f in fields):
            obj.__dict__.pop(KEYS_SLOT, None)
            obj.__dict__.pop(PLAIN_CACHE, None)
            session.expire(obj)
    return cleared
