"""Dashboard sessions: random token -> the key's identity, capped per key and per team.

A key holder can open many sessions, but only ever evicts sessions of its own key (or, past
the team cap, of its own team): one team signing in 10,000 times never signs another out.
Past the global ceiling (a memory bound only), expired sessions are purged first, then the
oldest session of the team holding the most.
"""

from __future__ import annotations

import secrets
import time
from typing import TypeVar

from .._auth import ApiKey

__all__ = (
    "MAX_SESSIONS",
    "MAX_SESSIONS_PER_KEY",
    "MAX_SESSIONS_PER_TEAM",
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
"""Live sessions of the whole server (memory bound)."""

_KeyRef = tuple[str, str]  # (team_uuid, key_id): key ids are unique only within a team
_K = TypeVar("_K", str, _KeyRef)


class Sessions:
    """Dashboard sessions, each valid for ``lifetime`` seconds.

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
        self._lifetime = lifetime
        self._items: dict[str, tuple[ApiKey, float]] = {}
        # Tokens oldest first (dicts keep insertion order).
        self._by_key: dict[_KeyRef, dict[str, None]] = {}
        self._by_team: dict[str, dict[str, None]] = {}

    def __len__(self) -> int:
        return len(self._items)

    def create(self, key: ApiKey) -> str:
        """A new session for ``key``; returns its token."""
        ref = (key.team_uuid, key.key_id)
        mine = self._by_key.get(ref, {})
        if len(mine) >= self.per_key:
            self.drop(next(iter(mine)))
        team = self._by_team.get(key.team_uuid, {})
        if len(team) >= self.per_team:
            self.drop(next(iter(team)))
        if len(self._items) >= self.total:
            self._purge_expired()
        if len(self._items) >= self.total:
            largest = max(self._by_team.values(), key=len)
            self.drop(next(iter(largest)))
        token = secrets.token_urlsafe(32)
        self._items[token] = (key, time.monotonic() + self._lifetime)
        self._by_key.setdefault(ref, {})[token] = None
        self._by_team.setdefault(key.team_uuid, {})[token] = None
        return token

    def get(self, token: str) -> ApiKey | None:
        """The identity of a live session, or None."""
        item = self._items.get(token)
        if item is None:
            return None
        if item[1] <= time.monotonic():
            self.drop(token)
            return None
        return item[0]

    def drop(self, token: str) -> None:
        """End a session (unknown tokens are ignored)."""
        item = self._items.pop(token, None)
        if item is None:
            return
        key = item[0]
        _discard(self._by_key, (key.team_uuid, key.key_id), token)
        _discard(self._by_team, key.team_uuid, token)

    def _purge_expired(self) -> None:
        now = time.monotonic()
        for token in [t for t, (_, expiry) in self._items.items() if expiry <= now]:
            self.drop(token)


def _discard(index: dict[_K, dict[str, None]], name: _K, token: str) -> None:
    bucket = index.get(name)
    if bucket is not None:
        bucket.pop(token, None)
        if not bucket:
            del index[name]
