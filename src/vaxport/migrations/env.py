"""Alembic environment: runs on the connection :mod:`vaxport.core.migrate` hands it."""

from __future__ import annotations

from typing import Any

from alembic import context

from vaxport.core.crypto.fields import BlindIndexBytes, Ciphertext
from vaxport.core.db import UTCDateTime


def _render_item(type_: str, obj: Any, autogen_context: Any) -> Any:
    # Our column types render as plain SQLAlchemy types so migrations never import app code.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, Ciphertext | BlindIndexBytes):
        return "sa.LargeBinary()"
    if (
        type_ == "type"
        and type(obj).__name__ == "JSON"
        and obj.__class__.__module__.startswith("sqlalchemy.sql")
    ):
        return "sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')"
    return False


connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only `vaxport db ...` drives migrations
    raise RuntimeError("run migrations with `vaxport db upgrade`, not the alembic CLI")

context.configure(
    connection=connection,
    # The application's tables, given by the caller (the composition root's model list);
    # only autogenerate reads them, so plain upgrades and downgrades need none.
    target_metadata=context.config.attributes.get("metadata"),
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    render_item=_render_item,
)
with context.begin_transaction():
    context.run_migrations()
