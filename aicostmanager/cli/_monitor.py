"""``aicostmanager queue monitor``: a live view of a queue file (``rich``, or plain text).

Each refresh reads a ``QueueSnapshot`` (counts and index lookups: the same cost at any depth)
and shows the depth, the drain and dead-letter rates since the previous refresh, the time to
empty at that rate, the oldest record's age and last error, and why records are waiting.
With the ``cli`` extra (``rich``) and a terminal, the view is a live table; otherwise (or with
``--plain``) plain lines, which ``--once`` prints for one snapshot.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import anyio

from .._queue_admin import AsyncQueueManager, QueueSnapshot

__all__ = ("RICH_HINT", "monitor", "view_lines")

RICH_HINT = "for the live view install the 'cli' extra: pip install 'aicostmanager[cli]'"


@dataclass(frozen=True)
class _Rates:
    drained: float | None  # pending records gone per second (delivered or dead-lettered)
    dead: float | None  # records dead-lettered per second


def _rates(now: QueueSnapshot, before: QueueSnapshot | None) -> _Rates:
    if before is None or now.taken_at <= before.taken_at:
        return _Rates(None, None)
    seconds = now.taken_at - before.taken_at
    return _Rates((before.pending - now.pending) / seconds, (now.dead - before.dead) / seconds)


def _duration(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min {seconds % 60:02.0f} s"
    if seconds < 86400:
        return f"{seconds // 3600:.0f} h {seconds % 3600 // 60:02.0f} min"
    return f"{seconds / 86400:.1f} days"


def _state(snap: QueueSnapshot) -> str:
    """Why records are (not) moving, as far as the file can tell."""
    if not snap.pending:
        return "idle: nothing pending"
    due = snap.next_attempt_at
    if due is not None and due > snap.taken_at:
        why = "retry backoff, a paused or unreachable server, or batches in flight"
        return f"waiting {_duration(due - snap.taken_at)} for the next attempt ({why})"
    return "due now: a running tracker sends these records"


def view_lines(
    snap: QueueSnapshot, before: QueueSnapshot | None, last_dead: str | None = None
) -> list[tuple[str, str]]:
    """The monitor's rows as ``(label, value)``: what both views print."""
    rates = _rates(snap, before)
    drain = "n/a (first snapshot)" if rates.drained is None else f"{rates.drained:+,.1f}/s"
    dead_rate = "n/a" if rates.dead is None else f"{rates.dead:,.1f}/s"
    if not snap.pending:
        eta = "-"
    elif rates.drained is None or rates.drained <= 0:
        eta = "not draining"
    else:
        eta = _duration(snap.pending / rates.drained)
    oldest = "-"
    if snap.oldest_enqueued_at is not None:
        oldest = (
            f"{_duration(snap.taken_at - snap.oldest_enqueued_at)} "
            f"({snap.oldest_attempts} attempt(s))"
        )
    return [
        ("time", datetime.fromtimestamp(snap.taken_at, timezone.utc).strftime("%H:%M:%S UTC")),
        ("pending", f"{snap.pending:,} records, {snap.pending_bytes:,} bytes"),
        ("drain rate", drain),
        ("time to empty", eta),
        ("oldest record", oldest),
        ("last error", (snap.last_error or "-")[:200]),
        ("state", _state(snap)),
        ("dead-lettered", f"{snap.dead:,} ({dead_rate})"),
        ("last rejection", (last_dead or "-")[:200]),
    ]


async def _read(
    manager: AsyncQueueManager, before: QueueSnapshot | None
) -> tuple[QueueSnapshot, list[tuple[str, str]]]:
    snap = await manager.snapshot()
    last_dead = None
    if snap.dead:
        newest = await manager.list_failed(limit=1, offset=snap.dead - 1)
        last_dead = f"#{newest[0].id} {newest[0].reason}" if newest else None
    return snap, view_lines(snap, before, last_dead)


def _plain(rows: list[tuple[str, str]]) -> str:
    return "\n".join(f"{label + ':':<15}{value}" for label, value in rows)


def _table(rows: list[tuple[str, str]], path: str) -> Any:
    from rich.table import Table

    table = Table(title=f"aicostmanager queue: {path}", show_header=False, expand=False)
    table.add_column(style="bold")
    table.add_column()
    for label, value in rows:
        style = "red" if label in ("last error", "last rejection") and value != "-" else None
        table.add_row(label, value, style=style)
    return table


def _rich_available() -> bool:
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


async def monitor(
    manager: AsyncQueueManager,
    path: str,
    *,
    interval: float,
    count: int = 0,
    once: bool = False,
    plain: bool = False,
) -> None:
    """Show the queue every ``interval`` seconds (``count`` times, forever with 0)."""
    if once:
        print(_plain((await _read(manager, None))[1]))
        return
    live = not plain and sys.stdout.isatty()
    if live and not _rich_available():
        print(RICH_HINT, file=sys.stderr)
        live = False
    if live:
        await _live(manager, path, interval, count)
        return
    before: QueueSnapshot | None = None
    shown = 0
    while True:
        snap, rows = await _read(manager, before)
        print(_plain(rows), end="\n\n", flush=True)
        before = snap
        shown += 1
        if count and shown >= count:
            return
        await anyio.sleep(interval)


async def _live(manager: AsyncQueueManager, path: str, interval: float, count: int) -> None:
    from rich.live import Live

    before: QueueSnapshot | None = None
    shown = 0
    snap, rows = await _read(manager, None)
    with Live(_table(rows, path), auto_refresh=False) as view:
        while True:
            before, shown = snap, shown + 1
            if count and shown >= count:
                return
            await anyio.sleep(interval)
            snap, rows = await _read(manager, before)
            view.update(_table(rows, path), refresh=True)
