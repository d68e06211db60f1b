"""PostgreSQL least privilege: the app role, its grants, and row-level security.

Run by ``vaxport db upgrade`` after the migrations, on the owner's connection, and
idempotent (each step checks before it changes anything, so a re-run takes no table
locks). Three walls behind the application's own tenant scoping:

- the app connects as a role that owns nothing and cannot bypass RLS;
- every table with a ``tenant_id`` column gets RLS *enabled and forced* with one policy,
  ``tenant_id = vaxport.tenant setting`` (``core/db.py`` sets it per transaction);
  a table that is cross-tenant by nature opts out with
  ``__table_args__ = {"info": {"cross_tenant": "why"}}`` (e.g. the outbox);
- append-only tables (``info={"append_only": True}``) are INSERT + SELECT for the app.

Tables are found in the live catalog, not only in the models, so a table added by a
future migration is covered by the next upgrade without anyone remembering to.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

POLICY = "vaxport_tenant_v1"
# NULLIF: once a pooled session has run set_config(..., true), the setting reads back
# as '' (not NULL) in later transactions; ''::uuid would raise instead of matching
# nothing. Unset therefore means "no tenant": zero rows, and every write refused.
TENANT_EXPR = "tenant_id = NULLIF(current_setting('vaxport.tenant', true), '')::uuid"
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class InsecureRoleError(RuntimeError):
    """The app role could escape least privilege; the message says how to fix it."""


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    if "\x00" in value:
        raise ValueError("NUL in a literal")
    return "'" + value.replace("'", "''") + "'"


def _models_info(metadata: MetaData) -> tuple[dict[str, str], set[str]]:
    cross = {
        t.name: str(t.info["cross_tenant"])
        for t in metadata.tables.values()
        if t.info.get("cross_tenant")
    }
    append_only = {t.name for t in metadata.tables.values() if t.info.get("append_only")}
    return cross, append_only


def tenant_tables(conn: Connection) -> list[str]:
    """Tables of the current schema that have a ``tenant_id`` column."""
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = c.oid "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') "
            "AND a.attname = 'tenant_id' AND NOT a.attisdropped ORDER BY c.relname"
        )
    )
    return [r[0] for r in rows]


def apply_rls(conn: Connection, *, metadata: MetaData) -> list[str]:
    """Enable, force and attach the tenant policy on every tenant table; the tables."""
    cross, _ = _models_info(metadata)
    state = {
        r.relname: (r.relrowsecurity, r.relforcerowsecurity)
        for r in conn.execute(
            text(
                "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
            )
        )
    }
    policies: dict[str, set[str]] = {}
    for r in conn.execute(
        text("SELECT tablename, policyname FROM pg_policies WHERE schemaname = current_schema()")
    ):
        policies.setdefault(r.tablename, set()).add(r.policyname)
    protected = []
    for table in tenant_tables(conn):
        q = _q(table)
        ours = {p for p in policies.get(table, set()) if p.startswith("vaxport_tenant")}
        if table in cross:
            for p in ours:  # declared cross-tenant since: undo what we did
                conn.execute(text(f"DROP POLICY {_q(p)} ON {q}"))
            if ours:
                conn.execute(text(f"ALTER TABLE {q} NO FORCE ROW LEVEL SECURITY"))
                conn.execute(text(f"ALTER TABLE {q} DISABLE ROW LEVEL SECURITY"))
            continue
        enabled, forced = state.get(table, (False, False))
        if not enabled:
            conn.execute(text(f"ALTER TABLE {q} ENABLE ROW LEVEL SECURITY"))
        if not forced:  # FORCE: the owner is filtered too (unless it has BYPASSRLS)
            conn.execute(text(f"ALTER TABLE {q} FORCE ROW LEVEL SECURITY"))
        for p in ours - {POLICY}:  # an older version of our policy
            conn.execute(text(f"DROP POLICY {_q(p)} ON {q}"))
        if POLICY not in ours:
            conn.execute(
                text(
                    f"CREATE POLICY {POLICY} ON {q} FOR ALL "
                    f"USING ({TENANT_EXPR}) WITH CHECK ({TENANT_EXPR})"
                )
            )
        protected.append(table)
    return protected


def ensure_app_role(conn: Connection, *, role: str, password: str | None = None) -> bool:
    """Create the app role if missing (True when created); refuse an unsafe existing one.

    Roles are cluster-wide and several databases (or test runs) may share one, so
    creation tolerates a concurrent creator, and an existing role's password is never
    changed here.
    """
    if not _ROLE_NAME.match(role):
        raise ValueError(f"app role name must match {_ROLE_NAME.pattern}: {role!r}")
    created = False
    if conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first() is None:
        ddl = (
            f"CREATE ROLE {_q(role)} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE "
            "NOREPLICATION INHERIT"
        )
        if password:
            ddl += f" PASSWORD {_literal(password)}"
        try:
            with conn.begin_nested():
                conn.execute(text(ddl))
            created = True
        except DBAPIError as exc:
            # duplicate_object / unique_violation: another run created it just now.
            if _sqlstate(exc) not in {"42710", "23505"}:
                raise
    check_app_role(conn, role=role)
    return created


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    for candidate in (orig, getattr(orig, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if code:
            return str(code)
    return None


def check_app_role(conn: Connection, *, role: str) -> None:
    """Raise :class:`InsecureRoleError` unless ``role`` is least-privileged here."""
    r = conn.execute(
        text(
            "SELECT rolsuper, rolbypassrls, rolcreaterole, "
            "pg_has_role(:r, current_user, 'USAGE') AS is_owner_member "
            "FROM pg_roles WHERE rolname = :r"
        ),
        {"r": role},
    ).first()
    if r is None:
        raise InsecureRoleError(f"app role {role!r} does not exist")
    problems = []
    if r.rolsuper:
        problems.append(f"ALTER ROLE {role} NOSUPERUSER")
    if r.rolbypassrls:
        problems.append(f"ALTER ROLE {role} NOBYPASSRLS")
    if r.rolcreaterole:
        problems.append(f"ALTER ROLE {role} NOCREATEROLE")
    if r.is_owner_member and role != _current_user(conn):
        problems.append(f"REVOKE {_current_user(conn)} FROM {role}  -- it inherits the owner")
    broad = conn.execute(
        text(
            "SELECT g.rolname FROM pg_roles g WHERE g.rolname IN "
            "('pg_write_all_data', 'pg_database_owner') AND pg_has_role(:r, g.oid, 'USAGE')"
        ),
        {"r": role},
    ).scalars()
    problems += [f"REVOKE {g} FROM {role}  -- it could change the audit log" for g in broad]
    owned = conn.execute(
        text(
            "SELECT c.relname FROM pg_class c JOIN pg_roles o ON o.oid = c.relowner "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE o.rolname = :r AND n.nspname = current_schema() ORDER BY 1 LIMIT 5"
        ),
        {"r": role},
    ).all()
    if owned:
        names = ", ".join(o[0] for o in owned)
        problems.append(f"ALTER TABLE ... OWNER TO <owner role>  -- {role} owns {names}")
    if problems:
        raise InsecureRoleError(
            f"app role {role!r} is not least-privileged; as a superuser run:\n  "
            + ";\n  ".join(problems)
        )


def _current_user(conn: Connection) -> str:
    return str(conn.execute(text("SELECT current_user")).scalar_one())


def grant_app_privileges(conn: Connection, *, role: str, metadata: MetaData) -> None:
    """Grant the app role exactly what it needs on every table of the current schema."""
    _, append_only = _models_info(metadata)
    q = _q(role)
    database = conn.execute(text("SELECT current_database()")).scalar_one()
    schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    conn.execute(text(f"GRANT CONNECT ON DATABASE {_q(database)} TO {q}"))
    conn.execute(text(f"GRANT USAGE ON SCHEMA {_q(schema)} TO {q}"))
    rows = conn.execute(
        text(
            "SELECT c.relname, c.relkind, ARRAY(SELECT a.privilege_type "
            "  FROM aclexplode(c.relacl) a JOIN pg_roles g ON g.oid = a.grantee "
            "  WHERE g.rolname = :r ORDER BY 1) AS privs "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm')"
        ),
        {"r": role},
    )
    for table, kind, privs in rows:
        if table == "alembic_version" or kind in ("v", "m"):
            wanted = ["SELECT"]
        elif table in append_only:
            wanted = ["INSERT", "SELECT"]
        else:
            wanted = ["DELETE", "INSERT", "SELECT", "UPDATE"]
        if sorted(privs or []) == wanted:
            continue  # already right: touch nothing
        t = _q(table)
        # In one transaction: nobody ever sees the table without its access.
        conn.execute(text(f"REVOKE ALL ON {t} FROM {q}"))
        conn.execute(text(f"GRANT {', '.join(wanted)} ON {t} TO {q}"))
    conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {_q(schema)} TO {q}"))


def secure(
    conn: Connection,
    *,
    metadata: MetaData,
    app_role: str | None,
    app_password: str | None = None,
) -> Any:
    """Everything above, in the caller's transaction (PostgreSQL only), for the tables of
    ``metadata`` (the application's, given by its composition root)."""
    if app_role and app_role != _current_user(conn):
        ensure_app_role(conn, role=app_role, password=app_password)
        grant_app_privileges(conn, role=app_role, metadata=metadata)
    return apply_rls(conn, metadata=metadata)
