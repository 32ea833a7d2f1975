"""The server's signing key is created once and read back even while readers hold snapshots."""

from __future__ import annotations

from pathlib import Path

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
        # Another request's statement on the reader connection, stepped once and not yet
        # finished: its read transaction (snapshot) stays open until the cursor is closed.
        pinned = await db._reader.execute("SELECT x FROM t")
        assert await pinned.fetchone() == (1,)
        try:
            signer = await _signing.get_signer(db)
        finally:
            await pinned.close()
        assert signer.public_pem.startswith("-----BEGIN PUBLIC KEY-----")
        stored = await db.fetchall("SELECT key_id FROM signing_keys")
        assert stored == [(signer.key_id,)]
    finally:
        await db.close()
