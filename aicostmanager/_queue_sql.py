"""The queue file's SQL, written once: the schema, each connection's settings, the insert.

Pure (no I/O): ``DurableQueue`` (aiosqlite) and the appenders (plain ``sqlite3``) both execute
what is built here, so the settings of every connection to a queue file and the chunked
multi-row insert have one home.
"""

from __future__ import annotations

import enum
import functools
import json
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

__all__ = (
    "BUSY_TIMEOUT",
    "DEAD_COLUMNS",
    "MAX_ROWS_PER_INSERT",
    "MIGRATIONS",
    "PENDING_COLUMNS",
    "SCHEMA_VERSION",
    "STATS_TABLE",
    "Role",
    "connection_settings",
    "decode_errors",
    "id_filter",
    "insert_chunks",
    "insert_sql",
    "split_script",
)

BUSY_TIMEOUT = 15.0
"""Seconds a statement waits for another process's lock before failing with "locked"."""

SCHEMA_VERSION = 1

MAX_ROWS_PER_INSERT = 256
"""Rows per multi-row ``INSERT`` (far below SQLite's limit of bound parameters)."""


class Role(enum.Enum):
    """Who holds a connection to the queue file; each role has its settings."""

    QUEUE = "queue"
    """``DurableQueue``'s own connection (aiosqlite's thread): every statement, checkpoints."""
    THREAD = "thread"
    """``BlockingAppender``: appends from the sync ``Tracker``'s calling threads."""
    LOOP = "loop"
    """``LoopAppender``: appends on the event loop's own thread; must never wait."""


def connection_settings(role: Role, synchronous: str, busy_timeout: float) -> tuple[str, ...]:
    """The ``PRAGMA`` statements a connection of ``role`` runs once opened, each with its reason.

    ``busy_timeout`` is ignored for ``Role.LOOP``, which never waits for a lock (0).
    """
    sync = "FULL" if synchronous == "FULL" else "NORMAL"
    if role is Role.QUEUE:
        return (
            "PRAGMA journal_mode=WAL",  # readers never block the writer; survives kill -9
            "PRAGMA temp_store=MEMORY",  # no temp files for the small sorts we do
            "PRAGMA cache_size=-8192",  # 8 MiB page cache: bounded memory even with a deep queue
            "PRAGMA foreign_keys=OFF",  # no foreign keys in this schema
            f"PRAGMA busy_timeout={int(busy_timeout * 1000)}",  # wait out other processes' locks
            f"PRAGMA synchronous={sync}",  # NORMAL survives kill -9; FULL survives power loss
        )
    common = "PRAGMA cache_size=-2048"  # it only appends: a small cache will do
    if role is Role.THREAD:
        return (
            f"PRAGMA busy_timeout={int(busy_timeout * 1000)}",  # a caller thread may wait
            f"PRAGMA synchronous={sync}",
            common,
        )
    return (
        "PRAGMA busy_timeout=0",  # another writer holding the lock: decline at once
        # Never checkpoints: a checkpoint copies the log into the file and syncs it (the
        # intake asks the queue's own connection instead, on aiosqlite's thread).
        "PRAGMA wal_autocheckpoint=0",
        # No fsync on the loop, ever. In WAL mode a NORMAL commit does not sync; the one sync
        # left is the log header's, by the first commit after a checkpoint restarted the log
        # (strace: up to 30 ms under write-back pressure). Skipping it loses nothing a NORMAL
        # commit would keep: the restart happens only once every frame is in the file, which
        # the checkpoint has synced. (The loop declines everything under FULL.)
        "PRAGMA synchronous=OFF",
        common,
    )


@functools.lru_cache(maxsize=MAX_ROWS_PER_INSERT)
def insert_sql(count: int) -> str:
    """``INSERT`` of ``count`` rows into ``pending``; parameters: key_fp, now, then the bodies.

    One multi-row statement costs about half as much per row as ``executemany`` of one-row
    statements (measured: 2.3 vs 5.1 µs per row in groups of 100).
    """
    values = ",".join(f"(?{index},?1,?2,?2)" for index in range(3, count + 3))
    return f"INSERT INTO pending (body, key_fp, enqueued_at, next_attempt_at) VALUES {values}"


def insert_chunks(
    bodies: Sequence[bytes], key_fp: str, now: float
) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """The statements (SQL, parameters) that insert ``bodies``, in order.

    One statement when there are at most ``MAX_ROWS_PER_INSERT`` bodies (in autocommit mode, its
    own transaction); more must run inside one transaction.
    """
    for start in range(0, len(bodies), MAX_ROWS_PER_INSERT):
        chunk = bodies[start : start + MAX_ROWS_PER_INSERT]
        yield insert_sql(len(chunk)), (key_fp, now, *chunk)


# The counters' table; also re-created at open when a damaged file lost it.
STATS_TABLE = """
    CREATE TABLE IF NOT EXISTS stats (
        id      INTEGER PRIMARY KEY CHECK (id = 1),
        pending INTEGER NOT NULL,
        bytes   INTEGER NOT NULL,
        dead    INTEGER NOT NULL
    );
"""

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE IF NOT EXISTS pending (
        id              INTEGER PRIMARY KEY,
        body            BLOB    NOT NULL,
        key_fp          TEXT    NOT NULL,
        enqueued_at     REAL    NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL    NOT NULL,
        lease_owner     TEXT,
        last_error      TEXT
    );
    CREATE INDEX IF NOT EXISTS pending_due ON pending (key_fp, next_attempt_at);
    CREATE INDEX IF NOT EXISTS pending_leased ON pending (lease_owner)
        WHERE lease_owner IS NOT NULL;
    CREATE TABLE IF NOT EXISTS dead_letter (
        id          INTEGER PRIMARY KEY,
        body        BLOB    NOT NULL,
        key_fp      TEXT    NOT NULL,
        enqueued_at REAL    NOT NULL,
        failed_at   REAL    NOT NULL,
        attempts    INTEGER NOT NULL,
        reason      TEXT    NOT NULL,
        errors      TEXT
    );
    CREATE TABLE IF NOT EXISTS stats (
        id      INTEGER PRIMARY KEY CHECK (id = 1),
        pending INTEGER NOT NULL,
        bytes   INTEGER NOT NULL,
        dead    INTEGER NOT NULL
    );
    INSERT OR IGNORE INTO stats (id, pending, bytes, dead) VALUES (1, 0, 0, 0);
    CREATE TRIGGER IF NOT EXISTS pending_in AFTER INSERT ON pending BEGIN
        UPDATE stats SET pending = pending + 1, bytes = bytes + length(NEW.body) WHERE id = 1;
    END;
    CREATE TRIGGER IF NOT EXISTS pending_out AFTER DELETE ON pending BEGIN
        UPDATE stats SET pending = pending - 1, bytes = bytes - length(OLD.body) WHERE id = 1;
    END;
    CREATE TRIGGER IF NOT EXISTS dead_in AFTER INSERT ON dead_letter BEGIN
        UPDATE stats SET dead = dead + 1 WHERE id = 1;
    END;
    CREATE TRIGGER IF NOT EXISTS dead_out AFTER DELETE ON dead_letter BEGIN
        UPDATE stats SET dead = dead - 1 WHERE id = 1;
    END;
    """,
)

PENDING_COLUMNS = (
    "id, body, key_fp, enqueued_at, attempts, next_attempt_at, lease_owner, last_error"
)
DEAD_COLUMNS = "id, body, key_fp, enqueued_at, failed_at, attempts, reason, errors"


def split_script(script: str) -> list[str]:
    """Split a migration into statements (triggers contain ``;`` inside BEGIN...END)."""
    statements: list[str] = []
    current = ""
    for line in script.strip().splitlines():
        current += line + "\n"
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements


def decode_errors(text: Any) -> list[str]:
    """A dead-lettered row's ``errors`` column as a list of strings (whatever it holds)."""
    try:
        value = json.loads(text or "[]")
    except (TypeError, ValueError):
        return [str(text)]
    return [str(item) for item in value] if isinstance(value, list) else [str(value)]


def id_filter(ids: Sequence[int] | None) -> tuple[str, tuple[Any, ...]]:
    """A ``WHERE`` clause and its parameters selecting ``ids`` (everything when empty)."""
    if not ids:
        return "", ()
    return "WHERE id IN (SELECT value FROM json_each(?))", (json.dumps([int(i) for i in ids]),)
