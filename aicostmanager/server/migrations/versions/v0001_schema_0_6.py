"""The 0.6 schema; on SQLite also the in-place upgrade of a 0.5 or 0.6 file.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _statements(ddl: str) -> list[str]:
    return [part.strip() for part in ddl.split(";") if part.strip()]


def upgrade() -> None:
    """Create every table, index and view (``IF NOT EXISTS``: an older file keeps its data),
    upgrade an older SQLite file's tables, then make the indexes that a rebuilt table lost."""
    from aicostmanager.server import _rollups, _track_schema
    from aicostmanager.server._db_dialect import POSTGRES, SQLITE, postgres_ddl
    from aicostmanager.server.app import SCHEMA

    bind = op.get_bind()

    def run(sql: str) -> Sequence[Sequence[Any]]:
        result = bind.exec_driver_sql(sql)
        return list(result.fetchall()) if result.returns_rows else []

    postgres = bind.dialect.name == "postgresql"
    dialect = POSTGRES if postgres else SQLITE
    for statement in _statements(postgres_ddl(SCHEMA) if postgres else SCHEMA):
        run(statement)
    _track_schema.migrate(dialect, run)
    for statement in _rollups.INDEXES:
        run(statement)


def downgrade() -> None:
    """There is nothing older to go back to.

    Raises:
        NotImplementedError: always.
    """
    raise NotImplementedError("0001 is the first revision")
