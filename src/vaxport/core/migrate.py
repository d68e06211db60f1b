"""Schema migrations driven from Python (CLI, demo, tests) on our own async engine."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from vaxport.core.db import Database


def alembic_config() -> Config:
    """An Alembic config pointing at the packaged migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(files("vaxport") / "migrations"))
    return cfg


async def upgrade(db: Database, revision: str = "head") -> None:
    """Migrate the schema up to ``revision``."""
    await _run(db, lambda cfg: command.upgrade(cfg, revision))


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


async def _run(db: Database, action: Any) -> None:
    cfg = alembic_config()

    def run(sync_conn: Any) -> None:
        cfg.attributes["connection"] = sync_conn
        action(cfg)

    async with db.engine.begin() as conn:
        await conn.run_sync(run)


async def revision(db: Database, message: str, rev_id: str | None = None) -> None:
    """Autogenerate a migration from the models against ``db`` (a developer tool)."""
    await _run(
        db, lambda cfg: command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id)
    )
