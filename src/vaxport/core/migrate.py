"""Schema migrations driven from Python (CLI, demo, tests) on our own async engine."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData
from sqlalchemy.engine import make_url

from vaxport.core.db import Database
from vaxport.settings import Settings


def alembic_config() -> Config:
    """An Alembic config pointing at the packaged migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(files("vaxport") / "migrations"))
    return cfg


async def upgrade(
    db: Database,
    revision: str = "head",
    *,
    metadata: MetaData,
    app_role: str | None = None,
    app_password: str | None = None,
) -> None:
    """Migrate the schema up to ``revision``; on PostgreSQL then secure it (core/rls.py).

    ``db`` connects as the owner. ``metadata`` holds the application's tables (from the
    composition root): their ``info`` says which are cross-tenant or append-only.
    ``app_role`` (PostgreSQL) is the role the app runs as: created if missing, granted
    its privileges; RLS is applied to every tenant table.
    """
    await _run(db, lambda cfg: command.upgrade(cfg, revision), metadata=metadata)
    if db.is_postgres:
        await secure(db, metadata=metadata, app_role=app_role, app_password=app_password)


async def secure(
    db: Database, *, metadata: MetaData, app_role: str | None, app_password: str | None = None
) -> list[str]:
    """Apply the app role, its grants and row-level security; the RLS-protected tables."""
    from vaxport.core import rls

    async with db.engine.begin() as conn:
        protected: list[str] = await conn.run_sync(
            lambda c: rls.secure(c, metadata=metadata, app_role=app_role, app_password=app_password)
        )
    return protected


@dataclass(frozen=True, slots=True)
class MigrationPlan:
    """Who migrates (the owner's URL) and who the app runs as (PostgreSQL)."""

    owner_url: str
    app_role: str | None
    app_password: str | None
    problem: str | None


def migration_plan(settings: Settings) -> MigrationPlan:
    """Derive the owner connection and the app role from the settings."""
    app_url = settings.effective_database_url
    owner_url = settings.database_migration_url.get_secret_value() or app_url
    if not owner_url.startswith("postgresql"):
        return MigrationPlan(owner_url, None, None, None)
    app = make_url(app_url)
    owner = make_url(owner_url)
    role = settings.database_app_role or app.username
    problem = None
    if not role or role == owner.username:
        problem = (
            "the app and the migrations use the same database role, so the app owns its "
            "tables and could lift row-level security; set VAXPORT_DATABASE_MIGRATION_URL "
            "to an owner role (see docs/database.md)"
        )
        role = None
    return MigrationPlan(owner_url, role, app.password if role else None, problem)


async def downgrade(db: Database, revision: str) -> None:
    """Migrate the schema down to ``revision`` (e.g. ``-1``)."""
    await _run(db, lambda cfg: command.downgrade(cfg, revision))


async def current(db: Database) -> str | None:
    """The revision the database is at, or ``None`` when empty."""
    async with db.engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


def head() -> str | None:
    """The newest revision shipped with this code."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def _run(db: Database, action: Any, *, metadata: MetaData | None = None) -> None:
    cfg = alembic_config()
    cfg.attributes["metadata"] = metadata  # migrations/env.py: autogenerate compares to it

    def run(sync_conn: Any) -> None:
        if sync_conn.dialect.name == "postgresql":
            # A data migration must see every tenant's rows or fail loudly: with forced
            # RLS and no tenant set it would otherwise silently change nothing. (The
            # owner needs BYPASSRLS for such migrations; see docs/database.md.)
            sync_conn.exec_driver_sql("SET LOCAL row_security = off")
        cfg.attributes["connection"] = sync_conn
        action(cfg)

    async with db.engine.begin() as conn:
        await conn.run_sync(run)


async def revision(
    db: Database, message: str, rev_id: str | None = None, *, metadata: MetaData
) -> None:
    """Autogenerate a migration from ``metadata`` (the models) against ``db`` (a developer tool)."""
    await _run(
        db,
        lambda cfg: command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id),
        metadata=metadata,
    )
