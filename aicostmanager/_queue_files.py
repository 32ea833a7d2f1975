"""The queue file on disk: locating and creating it, checking it, moving a damaged one
aside, and reading what can still be read from it. Blocking helpers (run them in a thread)
and a salvage loop over any async row reader; no aiosqlite here (``_queue.py`` owns it).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

__all__ = (
    "Reader",
    "Row",
    "create_private_file",
    "identity",
    "locate",
    "move_aside",
    "quick_check",
    "readable_rows",
)

Row = tuple[Any, ...]
Reader = Callable[[int, int], Coroutine[Any, Any, "list[Row] | None"]]


def locate(path: str | os.PathLike[str], create: bool) -> tuple[Path, bool]:
    """The queue file's path, created if asked; and whether it was an existing empty file.

    Raises:
        FileNotFoundError: ``create`` is off and there is no such file.
    """
    target = Path(path).expanduser()
    if create:
        return target, create_private_file(target)
    if not target.is_file():
        raise FileNotFoundError(target)
    return target, False


def create_private_file(target: Path) -> bool:
    """Create the queue file (and its folder) readable by its owner only.

    Returns:
        True when the file already existed and was empty (0 bytes): a valid empty database
        to SQLite, but a queue file that was truncated looks exactly like that.
    """
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        was_empty = target.stat().st_size == 0
    except FileNotFoundError:
        was_empty = False
    os.close(os.open(target, os.O_CREAT | os.O_RDWR, 0o600))
    return was_empty


def identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file now at ``path``: tells whether someone replaced it."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def quick_check(path: Path, budget: float, busy_timeout: float) -> list[str]:
    """``PRAGMA quick_check`` on its own connection, interrupted after ``budget`` seconds.

    Returns:
        The problems found (empty: none found, or the check ran out of time).

    Raises:
        sqlite3.DatabaseError: the file is not a database.
    """
    conn = sqlite3.connect(str(path), timeout=busy_timeout, check_same_thread=False)

    def interrupt() -> None:
        try:
            conn.interrupt()
        except sqlite3.Error:  # the check finished and closed the connection meanwhile
            pass

    timer = threading.Timer(budget, interrupt)
    timer.start()
    try:
        rows = conn.execute("PRAGMA quick_check(10)").fetchall()
    except sqlite3.OperationalError as exc:
        if "interrupt" in str(exc).lower():
            return []  # a deep queue: the part checked was fine
        raise
    finally:
        timer.cancel()
        conn.close()
    problems = [str(row[0]) for row in rows]
    return [] if problems == ["ok"] else problems


def move_aside(path: Path) -> Path:
    """Rename ``path`` and its ``-wal`` / ``-shm`` to ``<name>.corrupt-<UTC time>``."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    os.replace(path, aside)
    for suffix in ("-wal", "-shm"):
        companion = Path(f"{path}{suffix}")
        if companion.exists():
            os.replace(companion, Path(f"{aside}{suffix}"))
    return aside


async def readable_rows(read: Reader, chunk_size: int = 500) -> AsyncIterator[list[Row]]:
    """Every row that can still be read, in id order and in chunks, skipping damaged pages.

    ``read(after, limit)`` returns up to ``limit`` rows with ``id > after`` in id order (the id
    first), or ``None`` when the read failed. A chunk that fails is re-read row by row up to
    the damage; then the first readable id after it is found by probing further and further,
    then bisecting back.
    """
    after = 0  # the queue's ids are positive (rowids assigned by SQLite)
    while True:
        chunk = await read(after, chunk_size)
        if chunk is None:
            rows: list[Row] = []
            while (one := await read(after, 1)) and one:
                rows.append(one[0])
                after = int(one[0][0])
            yield [row for row in rows if _plausible(row)]
            if one is not None:
                return  # the end of the table was readable after all
            resume = await _next_readable(read, after)
            if resume is None:
                return
            after = resume
            continue
        if not chunk:
            return
        yield [row for row in chunk if _plausible(row)]
        after = int(chunk[-1][0])


async def _next_readable(read: Reader, bad: int) -> int | None:
    """The smallest ``start > bad`` from which ``id > start`` reads, or ``None``."""
    step = 1
    good: int | None = None
    while step < 2**62:
        if await read(bad + step, 1) is not None:
            good = bad + step
            break
        bad, step = bad + step, step * 2
    if good is None:
        return None
    while good - bad > 1:
        middle = (bad + good) // 2
        if await read(middle, 1) is not None:
            good = middle
        else:
            bad = middle
    return good


def _plausible(row: Row) -> bool:
    """A salvaged row has the types its table declares (damaged pages may yield garbage)."""
    return (
        isinstance(row[0], int)
        and isinstance(row[1], bytes)
        and isinstance(row[2], str)
        and isinstance(row[3], (int, float))
    )
