"""API keys: storage (hashed), minting, revocation, and the FastAPI dependency that
authenticates a request.

Table ``api_keys``: ``key_hash`` (sha256 hex of the full key, primary key), ``key_id`` (the
text after the key's last ``.``), ``team_uuid``, ``created_at`` (epoch seconds). Table
``api_key_states``: ``key_hash``, ``name`` (a label given at creation, or NULL) and
``revoked_at`` (epoch seconds, NULL while the key is live); a table of its own so that databases
written by 0.5/0.6 need no ``ALTER TABLE``. The clear key is never stored nor logged.

Every request looks its key up in the database (no per-process cache): a key revoked through
one server process is refused by every process and host on the same database at once.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from . import _clock
from ._db import Database
from ._db_readers import read_team

__all__ = (
    "SCHEMA",
    "SESSION_COOKIE",
    "AmbiguousKeyError",
    "ApiKey",
    "CurrentKey",
    "KeyInfo",
    "KeyStore",
    "authenticated_key",
    "bearer_token",
    "hash_secret",
    "key_id_of",
    "new_key_text",
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_hash   TEXT PRIMARY KEY,
    key_id     TEXT NOT NULL,
    team_uuid  TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS api_keys_team ON api_keys (team_uuid);
CREATE INDEX IF NOT EXISTS api_keys_key_id ON api_keys (key_id);
CREATE TABLE IF NOT EXISTS api_key_states (
    key_hash   TEXT PRIMARY KEY,
    name       TEXT,
    revoked_at DOUBLE PRECISION
);
"""

_NAMESPACE = uuid.UUID("6f1c2d0e-3b7a-4d59-9a8e-0c2b4f6a8d10")

_LIVE_KEY = (
    "SELECT k.key_id, k.team_uuid FROM api_keys k WHERE k.key_hash = ? AND NOT EXISTS"
    " (SELECT 1 FROM api_key_states s WHERE s.key_hash = k.key_hash"
    " AND s.revoked_at IS NOT NULL)"
)
_ANY_KEY = "SELECT key_id, team_uuid FROM api_keys WHERE key_hash = ?"


@dataclass(frozen=True)
class ApiKey:
    """The authenticated caller: its key id and its team."""

    key_id: str
    team_uuid: str


@dataclass(frozen=True)
class KeyInfo:
    """What the database knows of one key (never the key, nor its hash).

    Attributes:
        key_id: the key's id.
        team_uuid: the team the key opens.
        name: the label given at creation, or None.
        created_at: epoch seconds.
        revoked_at: epoch seconds of the revocation, None while the key is live.
    """

    key_id: str
    team_uuid: str
    name: str | None
    created_at: float
    revoked_at: float | None


class AmbiguousKeyError(LookupError):
    """A key id names keys of several teams: the team must be given too."""


def hash_secret(secret: str) -> str:
    """The SHA-256 hex digest under which a secret (API key, session token) is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


def key_id_of(key: str) -> str:
    """The key's id: the text after its last ``.`` (a hash-derived uuid when it has no ``.``)."""
    head, dot, tail = key.rpartition(".")
    if dot and tail:
        return tail
    return str(uuid.uuid5(_NAMESPACE, hash_secret(key)))


def new_key_text() -> str:
    """Mint a fresh key of the shape ``sk-test-<secret>.<uuid>``."""
    return f"sk-test-{secrets.token_hex(20)}.{uuid.uuid4()}"


class KeyStore:
    """The API keys of one database: looked up by hash on every call, never cached.

    Args:
        db: the server's database.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, key: str, team_uuid: str | None = None, name: str | None = None) -> ApiKey:
        """Register ``key`` (idempotent); a new team is created unless ``team_uuid`` is given.

        A key registered before keeps its team (and stays revoked if it was revoked).
        """
        digest = hash_secret(key)
        row = await self._db.fetchone(_ANY_KEY, (digest,))
        if row is None:
            async with self._db.transaction():
                await self._db.execute(
                    "INSERT INTO api_keys (key_hash, key_id, team_uuid, created_at)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT (key_hash) DO NOTHING",
                    (digest, key_id_of(key), team_uuid or str(uuid.uuid4()), _clock.now_ts()),
                )
                if name is not None:
                    await self._db.execute(
                        "INSERT INTO api_key_states (key_hash, name, revoked_at)"
                        " VALUES (?, ?, NULL) ON CONFLICT (key_hash) DO NOTHING",
                        (digest, name),
                    )
                row = await self._db.fetchone(_ANY_KEY, (digest,))
            assert row is not None
        return ApiKey(key_id=str(row[0]), team_uuid=str(row[1]))

    async def mint(
        self, team_uuid: str | None = None, name: str | None = None
    ) -> tuple[str, ApiKey]:
        """Create and register a new key; returns the clear key (shown once) and its identity."""
        key = new_key_text()
        return key, await self.add(key, team_uuid, name)

    async def lookup(self, key: str) -> ApiKey | None:
        """The identity of ``key``, or None when it is unknown or revoked."""
        row = await self._db.fetchone(_LIVE_KEY, (hash_secret(key),))
        return None if row is None else ApiKey(key_id=str(row[0]), team_uuid=str(row[1]))

    async def list_keys(self, team_uuid: str | None = None) -> list[KeyInfo]:
        """Every key (of one team when ``team_uuid`` is given), by team then creation."""
        where, params = ("WHERE k.team_uuid = ?", (team_uuid,)) if team_uuid else ("", ())
        rows = await self._db.fetchall(
            "SELECT k.key_id, k.team_uuid, s.name, k.created_at, s.revoked_at FROM api_keys k"
            f" LEFT JOIN api_key_states s ON s.key_hash = k.key_hash {where}"
            " ORDER BY k.team_uuid, k.created_at, k.key_id",
            params,
        )
        return [
            KeyInfo(
                key_id=str(r[0]),
                team_uuid=str(r[1]),
                name=None if r[2] is None else str(r[2]),
                created_at=float(r[3]),
                revoked_at=None if r[4] is None else float(r[4]),
            )
            for r in rows
        ]

    async def revoke(self, key_id: str, team_uuid: str | None = None) -> KeyInfo:
        """Revoke the key ``key_id`` (of ``team_uuid`` when given); idempotent.

        Every server process on this database refuses the key from the next request on, and
        the dashboard sessions it opened end with it.

        Raises:
            LookupError: no such key.
            AmbiguousKeyError: keys of several teams have this id and no team was given.
        """
        async with self._db.transaction():
            sql = "SELECT key_hash, team_uuid FROM api_keys WHERE key_id = ?"
            params: tuple[str, ...] = (key_id,)
            if team_uuid is not None:
                sql, params = sql + " AND team_uuid = ?", (key_id, team_uuid)
            rows = await self._db.fetchall(sql, params)
            if not rows:
                raise LookupError(f"no API key with id {key_id}")
            if len(rows) > 1:
                raise AmbiguousKeyError(
                    f"{len(rows)} teams have a key with id {key_id}: give the team too"
                )
            await self._db.execute(
                "INSERT INTO api_key_states (key_hash, name, revoked_at) VALUES (?, NULL, ?)"
                " ON CONFLICT (key_hash) DO UPDATE SET revoked_at ="
                " COALESCE(api_key_states.revoked_at, excluded.revoked_at)",
                (str(rows[0][0]), _clock.now_ts()),
            )
        return next(k for k in await self.list_keys(str(rows[0][1])) if k.key_id == key_id)

    async def live_count(self) -> int:
        """How many keys are not revoked."""
        row = await self._db.fetchone(
            "SELECT COUNT(*) FROM api_keys k WHERE NOT EXISTS (SELECT 1 FROM api_key_states s"
            " WHERE s.key_hash = k.key_hash AND s.revoked_at IS NOT NULL)"
        )
        return 0 if row is None else int(row[0])


def bearer_token(request: Request) -> str | None:
    """The bearer token of the request, or None."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


SESSION_COOKIE = "aicm_session"
"""Name of the dashboard's session cookie (HttpOnly, SameSite=Strict; never the key itself)."""

_SAFE_METHODS = frozenset({"GET", "HEAD"})


async def authenticated_key(request: Request) -> ApiKey:
    """The dependency behind :data:`CurrentKey`: the request's key (bearer or session).

    Raises:
        HTTPException: 401 without a valid key.
    """
    found = await _authenticate(request)
    read_team.set(found.team_uuid)  # the request's reads count against its team's share
    return found


async def _authenticate(request: Request) -> ApiKey:
    token = bearer_token(request)
    if token is None and request.method in _SAFE_METHODS:
        # The dashboard's session: read-only requests only, so a cookie can never change data.
        sessions = getattr(request.app.state, "sessions", None)
        if sessions is not None:
            cookie = request.cookies.get(SESSION_COOKIE, "")
            session: ApiKey | None = await sessions.get(request.app.state.db, cookie)
            if session is not None:
                return session
    if token is None:
        raise HTTPException(
            status_code=401,
            detail="Authentication credentials were not provided.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    store: KeyStore = request.app.state.keys
    found = await store.lookup(token)
    if found is None:
        raise HTTPException(
            status_code=401, detail="Invalid API key.", headers={"WWW-Authenticate": "Bearer"}
        )
    return found


CurrentKey = Annotated[ApiKey, Depends(authenticated_key)]
"""Route parameter annotation: ``key: CurrentKey`` authenticates the request."""
