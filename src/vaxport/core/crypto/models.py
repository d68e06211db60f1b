"""Key tables: per-tenant data keys (wrapped by the KEK) and per-subject keys.

Neither table ever holds a usable key: data keys are wrapped by the key provider's KEK,
subject keys by a tenant data key.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Index, Integer, LargeBinary, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from vaxport.core.clock import utcnow
from vaxport.core.db import Base
from vaxport.core.ids import uuid7

PURPOSE_DATA = "data"
PURPOSE_INDEX = "index"
STATE_ACTIVE = "active"
STATE_RETIRING = "retiring"
STATE_RETIRED = "retired"


class DataKey(Base):
    """One version of a tenant's data key (``data``) or blind-index key (``index``)."""

    __tablename__ = "data_keys"
    __table_args__ = (
        UniqueConstraint("tenant_id", "purpose", "version"),
        # At most one key per tenant and purpose encrypts new values.
        Index(
            "uq_data_keys_one_active",
            "tenant_id",
            "purpose",
            unique=True,
            sqlite_where=text("state = 'active'"),
            postgresql_where=text("state = 'active'"),
        ),
        {
            "info": {
                "cross_tenant": "wrapped keys only, useless without the KEK; rotate-kek must "
                "see every tenant's keys before an old KEK may be dropped"
            }
        },
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    provider: Mapped[str] = mapped_column(String(16))
    provider_key_id: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(16), default=STATE_ACTIVE)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class SubjectKey(Base):
    """A person's own key (crypto-shredding): deleting the row makes their fields unreadable."""

    __tablename__ = "subject_keys"
    __table_args__ = (UniqueConstraint("tenant_id", "subject_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    subject_id: Mapped[uuid.UUID] = mapped_column()
    # Sealed (envelope format) under the tenant data key of `data_key_version`.
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    data_key_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
