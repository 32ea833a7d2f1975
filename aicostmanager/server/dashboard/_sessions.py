"""Dashboard sessions, kept in the database: every server process and host sees the same ones.

A session is a random token (in the browser's cookie) whose SHA-256 is stored with the key's
identity and an expiry. A key holder can open many sessions, but only ever evicts sessions of
its own key (or, past the team cap, of its own team): one team signing in 10,000 times never
signs another out. Past the global ceiling (a storage bound only), expired sessions are purged
first, then the oldest session of the team holding the most. A session ends with its key: one
whose key was revoked is refused.

Table ``dashboard_sessions``: ``token_hash`` (primary key), ``key_hash``, ``key_id``,
``team_uuid``, ``created_at`` and ``expires_at`` (epoch seconds, wall clock: shared by hosts).
The caps are checked at sign-in, in one transaction holding the team's lock (the one ``/track``
takes), so the per-key and per-team caps hold across processes; sign-ins of different teams
racing past the global ceiling may overshoot it by their number until the next sign-in.
"""

from __future__ import annotations

import secrets
import time

from .._auth import ApiKey, hash_secret
from .._db import Database

__all__ = (
    "MAX_SESSIONS",
    "MAX_SESSIONS_PER_KEY",
    "MAX_SESSIONS_PER_TEAM",
    "SCHEMA",
    "SESSION_SECONDS",
    "Sessions",
)

SESSION_SECONDS = 12 * 3600
"""Lifetime of a session."""
MAX_SESSIONS_PER_KEY = 100
"""Live sessions of one key; a new one evicts that key's oldest."""
MAX_SESSIONS_PER_TEAM = 1_000
"""Live sessions of one team (all its keys); a new one evicts the team's oldest."""
MAX_SESSIONS = 100_000
"""Live sessions of the whole server (storage bound)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS dashboard_sessions (
    token_hash TEXT PRIMARY KEY,
    key_hash   TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    team_uuid  TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS dashboard_sessions_key
    ON dashboard_sessions (team_uuid, key_id, created_at);
CREATE INDEX IF NOT EXISTS dashboard_sessions_team ON dashboard_sessions (team_uuid, created_at);
CREATE INDEX IF NOT EXISTS dashboard_sessions_expiry ON dashboard_sessions (expires_at);
"""

_LIVE = (
    "SELECT s.key_id, s.team_uuid FROM dashboard_sessions s WHERE s.token_hash = ?"
    " AND s.expires_at > ? AND NOT EXISTS (SELECT 1 FROM api_key_states k"
    " WHERE k.key_hash = s.key_hash AND k.revoked_at IS NOT NULL)"
)
_OLDEST = (
    "DELETE FROM dashboard_sessions WHERE token_hash IN (SELECT token_hash"
    " FROM dashboard_sessions WHERE {where} ORDER BY created_at, token_hash LIMIT ?)"
)


class Sessions:
    """Dashboard sessions in a database, each valid for ``lifetime`` seconds.

    The caps are kept as the attributes ``per_key``, ``per_team`` and ``total``.

    Args:
        per_key: most live sessions of one key.
        per_team: most live sessions of one team.
        total: most live sessions overall.
        lifetime: seconds a session lives.
    """

    def __init__(
        self,
        per_key: int = MAX_SESSIONS_PER_KEY,
        per_team: int = MAX_SESSIONS_PER_TEAM,
        total: int = MAX_SESSIONS,
        lifetime: float = SESSION_SECONDS,
    ) -> None:
        self.per_key, self.per_team, self.total = per_key, per_team, total
        self.lifetime = lifetime

    async def count(self, db: Database) -> int:
        """How many sessions are stored (expired ones not yet purged included)."""
        row = await db.fetchone("SELECT COUNT(*) FROM dashboard_sessions")
        return 0 if row is None else int(row[0])

    async def create(self, db: Database, key: ApiKey, key_hash: str) -> str:
        """A new session for ``key`` (whose stored hash is ``key_hash``); returns its token."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        async with db.transaction(team=key.team_uuid):
            await _trim(
                db, "team_uuid = ? AND key_id = ?", (key.team_uuid, key.key_id), self.per_key
            )
            await _trim(db, "team_uuid = ?", (key.team_uuid,), self.per_team)
            if await _count(db, "", ()) >= self.total:
                await db.execute("DELETE FROM dashboard_sessions WHERE expires_at <= ?", (now,))
                if await _count(db, "", ()) >= self.total:
                    largest = await db.fetchone(
                        "SELECT team_uuid FROM dashboard_sessions GROUP BY team_uuid"
                        " ORDER BY COUNT(*) DESC, team_uuid LIMIT 1"
                    )
                    assert largest is not None
                    await db.execute(_OLDEST.format(where="team_uuid = ?"), (str(largest[0]), 1))
            await db.execute(
                "INSERT INTO dashboard_sessions (token_hash, key_hash, key_id, team_uuid,"
                " created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (hash_secret(token), key_hash, key.key_id, key.team_uuid, now, now + self.lifetime),
            )
        return token

    async def get(self, db: Database, token: str) -> ApiKey | None:
        """The identity of a live session whose key is not revoked, or None."""
        if not token:
            return None
        row = await db.fetchone(_LIVE, (hash_secret(token), time.time()))
        return None if row is None else ApiKey(key_id=str(row[0]), team_uuid=str(row[1]))

    async def drop(self, db: Database, token: str) -> None:
        """End a session (unknown tokens are ignored)."""
        if token:
            await db.execute(
                "DELETE FROM dashboard_sessions WHERE token_hash = ?", (hash_secret(token),)
            )


async def _count(db: Database, where: str, params: tuple[str, ...]) -> int:
    clause = f" WHERE {where}" if where else ""
    row = await db.fetchone(f"SELECT COUNT(*) FROM dashboard_sessions{clause}", params)
    return 0 if row is None else int(row[0])


async def _trim(db: Database, where: str, params: tuple[str, ...], cap: int) -> None:
    """Delete the oldest sessions matching ``where`` so that one more stays within ``cap``."""
    excess = await _count(db, where, params) - cap + 1
    if excess > 0:
        await db.execute(_OLDEST.format(where=where), (*params, excess))
