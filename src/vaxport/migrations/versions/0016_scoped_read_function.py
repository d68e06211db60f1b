"""PostgreSQL: ``vaxport_scoped_rows``, a hot read scoped to its tenant in one statement

A hot read (``core/fastread.py``) took three round trips: ``BEGIN READ ONLY`` with the
tenant's ``set_config``, the query, ``ROLLBACK``. Setting the scope inside the query
itself is not safe: the policies' ``current_setting`` and a ``set_config`` in the same
statement run in no specified order. This function sets the scope, then runs the query
(dynamic SQL, so it is planned after the scope is set), all as one autocommit statement:
the setting is local (``true``) and ends with that statement's implicit transaction.

SECURITY INVOKER: the query runs as the caller, row-level security applies unchanged.
STABLE: PL/pgSQL refuses any statement that writes (``INSERT``, ``UPDATE``, a writing
CTE, ``SELECT ... FOR UPDATE``) in a non-volatile function, so the read is read-only as
``BEGIN READ ONLY`` made it. SQLite (no RLS, no functions): nothing to do.

Revision ID: 0016_scoped_read_function
Revises: 0015_lookalike_index
Create Date: 2026-12-07 05:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0016_scoped_read_function"
down_revision = "0015_lookalike_index"
branch_labels = None
depends_on = None

_CREATE = """
CREATE OR REPLACE FUNCTION vaxport_scoped_rows(tenant uuid, query text, args text[])
RETURNS SETOF record
LANGUAGE plpgsql STABLE SECURITY INVOKER
AS $fn$
BEGIN
    IF tenant IS NULL THEN
        RAISE EXCEPTION 'vaxport_scoped_rows needs a tenant';
    END IF;
    PERFORM set_config('vaxport.tenant', tenant::text, true);
    RETURN QUERY EXECUTE query USING args;
END
$fn$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_CREATE)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION IF EXISTS vaxport_scoped_rows(uuid, text, text[])")
