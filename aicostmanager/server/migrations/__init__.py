"""Versioned migrations of the server's schema (Alembic), for SQLite and PostgreSQL.

:func:`upgrade` creates or upgrades a database to the newest revision; the server calls it at
start-up (in a worker thread: Alembic is synchronous), and ``aicostmanager server migrate``
can run it ahead of a deploy. No ``alembic.ini`` is needed: the script location is this
package. Servers starting at once are safe: on PostgreSQL the upgrade runs in one transaction
holding an advisory lock (one migrates, the others wait and then find the schema current); on
SQLite it runs in one ``BEGIN IMMEDIATE`` transaction (the file's write lock).

Revision ``0001`` is the 0.6 schema. On SQLite it also adopts a file made by 0.5 or 0.6
(which has no ``alembic_version`` table): it upgrades the tables in place and stamps it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

__all__ = ("HEAD", "upgrade")

HEAD = "0001"
"""The newest revision."""

_LOCK = "aicostmanager:schema"
# Alembic keeps its running migration context in module globals: one upgrade per process at
# a time (other processes are kept apart by the database's own lock).
_process_lock = threading.Lock()


def _sqlite_engine(path: str) -> Any:
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    from .._db import PAGE_SIZE
    from .._db_sqlite import create_private

    create_private(path)
    engine = sqlalchemy.create_engine(
        f"sqlite:///{path}", poolclass=NullPool, connect_args={"timeout": 60}
    )

    @sqlalchemy.event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, record: Any) -> None:
        # Transactions are ours (BEGIN IMMEDIATE below), not the sqlite3 module's; the page
        # size must be set before anything writes a new file's first page.
        dbapi_connection.isolation_level = None
        dbapi_connection.execute(f"PRAGMA page_size={PAGE_SIZE}")
        dbapi_connection.execute("PRAGMA journal_mode=WAL")

    @sqlalchemy.event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        # Take the write lock at once: of processes migrating together, one runs, the others
        # wait (timeout above) and then find the file current.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _postgres_engine(url: str) -> Any:
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    scheme, rest = url.split("://", 1)
    return sqlalchemy.create_engine(f"postgresql+psycopg://{rest}", poolclass=NullPool)


def upgrade(db: str) -> None:
    """Create or upgrade the schema of ``db`` (a SQLite path or a ``postgresql://`` URL) to
    :data:`HEAD` (blocking).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be reached or a step failed (the
            upgrade is rolled back: it runs in one transaction).
    """
    import sqlalchemy
    from alembic import command
    from alembic.config import Config

    from .._db import advisory_key, is_postgres_url

    postgres = is_postgres_url(db)
    engine = _postgres_engine(db) if postgres else _sqlite_engine(db)
    try:
        with _process_lock, engine.connect() as connection:
            if postgres:
                connection.execute(
                    sqlalchemy.text("SELECT pg_advisory_xact_lock(:key)"),
                    {"key": advisory_key(_LOCK)},
                )
            config = Config()
            config.set_main_option("script_location", str(Path(__file__).parent))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
    finally:
        engine.dispose()
