"""API keys: storage (hashed), minting, and the FastAPI dependency that authenticates a request.

Table ``api_keys``: ``key_hash`` (sha256 hex of the full key, primary key), ``key_id`` (the
text after the key's last ``.``), ``team_uuid``, ``created_at`` (epoch seconds). The clear key is
never stored nor logged.
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
    "ApiKey",
    "CurrentKey",
    "KeyStore",
    "authenticated_key",
    "bearer_token",
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
"""

_NAMESPACE = uuid.UUID("6f1c2d0e-3b7a-4d59-9a8e-0c2b4f6a8d10")


@dataclass(frozen=True)
class ApiKey:
    """The authenticated caller: its key id and its team."""

    key_id: str
    team_uuid: str


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_id_of(key: str) -> str:
    """The key's id: the text after its last ``.`` (a hash-derived uuid when it has no ``.``)."""
    head, dot, tail = key.rpartition(".")
    if dot and tail:
        return tail
    return str(uuid.uuid5(_NAMESPACE, _hash(key)))


def new_key_text() -> str:
    """Mint a fresh key of the shape ``sk-test-<secret>.<uuid>``."""
    return f"sk-test-{secrets.token_hex(20)}.{uuid.uuid4()}"


class KeyStore:
    """Looks keys up by hash, with an in-memory cache (keys are never revoked)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._cache: dict[str, ApiKey] = {}

    async def add(self, key: str, team_uuid: str | None = None) -> ApiKey:
        """Register ``key`` (idempotent); a new team is created unless ``team_uuid`` is given."""
        digest = _hash(key)
        row = await self._db.fetchone(
            "SELECT key_id, team_uuid FROM api_keys WHERE key_hash = ?", (digest,)
        )
        if row is None:
            key_id = key_id_of(key)
            team = team_uuid or str(uuid.uuid4())
            await self._db.execute(
                "INSERT INTO api_keys (key_hash, key_id, team_uuid, created_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (digest, key_id, team, _clock.now_ts()),
            )
            row = await self._db.fetchone(
                "SELECT key_id, team_uuid FROM api_keys WHERE key_hash = ?", (digest,)
            )
            assert row is not None
        api_key = ApiKey(key_id=str(row[0]), team_uuid=str(row[1]))
        self._cache[digest] = api_key
        return api_key

    async def mint(self, team_uuid: str | None = None) -> tuple[str, ApiKey]:
        """Create and register a new key; returns the clear key (shown once) and its identity."""
        key = new_key_text()
        return key, await self.add(key, team_uuid)

    async def lookup(self, key: str) -> ApiKey | None:
        """The identity of ``key``, or None when unknown."""
        digest = _hash(key)
        found = self._cache.get(digest)
        if found is not None:
            return found
        row = await self._db.fetchone(
            "SELECT key_id, team_uuid FROM api_keys WHERE key_hash = ?", (digest,)
        )
        if row is None:
            return None
        found = ApiKey(key_id=str(row[0]), team_uuid=str(row[1]))
        self._cache[digest] = found
        return found


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
            session: ApiKey | None = sessions.get(request.cookies.get(SESSION_COOKIE, ""))
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
