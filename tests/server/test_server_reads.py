"""The signing key and reads of just-committed rows under concurrent reads on one connection."""

from __future__ import annotations

from pathlib import Path

import anyio

from aicostmanager.server import _signing
from aicostmanager.server._db import Database


async def test_new_key_is_read_back_while_the_reader_holds_an_old_snapshot(
    tmp_path: Path,
) -> None:
    """A key generated while another task's unfinished read pins the reader's snapshot is
    still found (it used to fail ``assert row is not None`` under concurrent load)."""
    db = await Database.open(
        str(tmp_path / "server.db"), _signing.SCHEMA + "CREATE TABLE t (x INTEGER);"
    )
    try:
        await db.execute("INSERT INTO t (x) VALUES (1), (2)")
        # Other requests' statements on every reader connection, stepped once and not yet
        # finished: their read transactions (snapshots) stay open until the cursors close.
        pinned = [await conn.execute("SELECT x FROM t") for conn in db.readers.connections]
        for cursor in pinned:
            assert await cursor.fetchone() == (1,)
        try:
            signer = await _signing.get_signer(db)
        finally:
            for cursor in pinned:
                await cursor.close()
        assert signer.public_pem.startswith("-----BEGIN PUBLIC KEY-----")
        stored = await db.fetchall("SELECT key_id FROM signing_keys")
        assert stored == [(signer.key_id,)]
    finally:
        await db.close()


async def test_a_read_sees_earlier_commits_while_other_tasks_read(tmp_path: Path) -> None:
    """A row committed before a read is found by it even while other tasks read on the same
    connection (a read used to leave its snapshot open between trips to SQLite's thread)."""
    db = await Database.open(
        str(tmp_path / "server.db"),
        "CREATE TABLE t (x INTEGER); CREATE TABLE k (x INTEGER PRIMARY KEY);",
    )
    try:
        await db.executemany("INSERT INTO t (x) VALUES (?)", [(i,) for i in range(50)])
        stop = anyio.Event()

        async def read_many_rows() -> None:
            while not stop.is_set():
                await db.fetchone("SELECT x FROM t")

        missed = []
        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(read_many_rows)
            for i in range(200):
                await db.execute("INSERT INTO k (x) VALUES (?)", (i,))
                if await db.fetchone("SELECT x FROM k WHERE x = ?", (i,)) != (i,):
                    missed.append(i)
            stop.set()
        assert missed == []
    finally:
        await db.close()
