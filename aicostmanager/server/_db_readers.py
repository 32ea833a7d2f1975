"""The server's read connections: a small pool, a statement time limit, a share per team.

Each reader is its own SQLite connection with its own thread (aiosqlite), so a slow read
occupies one of them and the others keep answering. A team may use at most ``per_team`` of
them at once, which leaves at least one for every other team. Every statement on a reader is
interrupted once it has run ``time_limit`` seconds (a SQLite progress handler, called every
few thousand virtual-machine steps, compares the clock with the reader's deadline): the
caller gets :class:`ReadTimeoutError` instead of holding the reader for minutes.
"""

from __future__ import annotations

import contextvars
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import aiosqlite
import anyio

from ._pico import to_pico

__all__ = ("ReadConnection", "ReadTimeoutError", "ReaderPool", "TeamShares", "read_team")

read_team: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "aicm_server_read_team", default=None
)
"""The team a request reads for (set when it is authenticated); None for the server's own."""

# Progress-handler period in SQLite VM instructions: a clock read per few microseconds of work.
_PROGRESS_STEPS = 2000


class ReadTimeoutError(Exception):
    """A read ran longer than the statement time limit and was interrupted."""

    def __init__(self, limit: float) -> None:
        super().__init__(f"the query ran longer than the {limit:g} s limit")
        self.limit = limit


class _DecimalSum:
    """SQL aggregate ``aicm_decimal_sum(text)``: the exact sum of decimal texts, as text."""

    def __init__(self) -> None:
        self.total = Decimal(0)

    def step(self, value: Any, /) -> None:
        if value is not None:
            self.total += Decimal(value)

    def finalize(self) -> str:
        return format(self.total, "f")


class _Reader:
    """One read connection and the deadline of its running statement."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        self.deadline = float("inf")

    def expired(self) -> int:
        """The progress handler: non-zero interrupts the statement."""
        return 1 if time.monotonic() > self.deadline else 0


class _TeamShare:
    def __init__(self, slots: int) -> None:
        self.semaphore = anyio.Semaphore(slots)
        self.users = 0


class TeamShares:
    """At most ``per_team`` readers for one team (:data:`read_team`) at a time (any backend).

    Args:
        per_team: most readers one team may hold at once (at least 1).
    """

    def __init__(self, per_team: int) -> None:
        self._per_team = max(1, per_team)
        self._teams: dict[str, _TeamShare] = {}

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """Wait for a free share of the current team (none needed for the server's own)."""
        team = read_team.get()
        if team is None:
            yield
            return
        share = self._teams.get(team)
        if share is None:
            share = self._teams[team] = _TeamShare(self._per_team)
        share.users += 1
        try:
            async with share.semaphore:
                yield
        finally:
            share.users -= 1
            if share.users == 0:
                del self._teams[team]


class ReadConnection(sqlite3.Connection):
    """A SQLite connection with the server's SQL functions (``aicm_decimal_sum``,
    ``aicm_pico``).

    Pass as ``factory=`` to ``aiosqlite.connect``: it is then made in the connection's thread.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # typeshed's aggregate protocol says finalize() returns int; any SQLite value works.
        self.create_aggregate("aicm_decimal_sum", 1, _DecimalSum)  # type: ignore[arg-type]
        self.create_function("aicm_pico", 1, to_pico, deterministic=True)


class ReaderPool:
    """``size`` read connections; ``per_team`` of them at most for one team at a time.

    Args:
        readers: the open connections (closed by :meth:`close`).
        per_team: most readers one team may hold at once.
        time_limit: seconds a statement may run (``0`` or less: no limit).
    """

    def __init__(
        self, readers: Sequence[aiosqlite.Connection], per_team: int, time_limit: float
    ) -> None:
        self._readers = [_Reader(conn) for conn in readers]
        self._free = list(self._readers)
        self._slots = anyio.Semaphore(len(self._readers))
        self._shares = TeamShares(per_team)
        self.time_limit = time_limit

    @property
    def connections(self) -> list[aiosqlite.Connection]:
        """The read connections (for tests and maintenance)."""
        return [reader.conn for reader in self._readers]

    async def install(self) -> None:
        """Set the statement time limit's progress handler on every reader."""
        for reader in self._readers:
            handler: Callable[[], int] = reader.expired
            await reader.conn.set_progress_handler(handler, _PROGRESS_STEPS)

    @asynccontextmanager
    async def _reader(self) -> AsyncIterator[_Reader]:
        async with self._shares.hold(), self._slots:
            reader = self._free.pop()
            try:
                yield reader
            finally:
                self._free.append(reader)

    async def fetchall(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run one query on a free reader, to its end, within the time limit.

        Raises:
            ReadTimeoutError: the statement ran longer than the time limit.
        """
        async with self._reader() as reader:
            if self.time_limit > 0:
                reader.deadline = time.monotonic() + self.time_limit
            try:
                rows = await reader.conn.execute_fetchall(sql, params)
            except sqlite3.OperationalError as exc:
                if str(exc) == "interrupted":
                    raise ReadTimeoutError(self.time_limit) from None
                raise
            finally:
                reader.deadline = float("inf")
        return [tuple(row) for row in rows]

    async def close(self) -> None:
        """Close every reader."""
        for reader in self._readers:
            await reader.conn.close()
