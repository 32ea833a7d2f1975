"""Replaying the corpus: one tracker and one fresh API key per call style, results per recording.

``Runs.get(style, recordings)`` replays each recording once with ``style`` (on first use),
each call in its own ``tracking_scope(customer_key=...)``, then reads back what the local
server stored: the events of each recording, and the pricing notes of their cost lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from wrappers.conftest import Stored, read_stored

from aicostmanager import AsyncCostManagerClient, AsyncTracker, Tracker, tracking_scope

from .calls import APIS, Style, aclose, wrap
from .recordings import Recording
from .server import Received, ReplayServer


@dataclass
class Outcome:
    """What one recording's replay produced in a group: requests seen, events stored."""

    received: list[Received] = field(default_factory=list)
    stored: list[Stored] = field(default_factory=list)
    unpriced: set[str] = field(default_factory=set)
    estimated: bool = False
    error: BaseException | None = None


async def _pricing_notes(options: dict[str, Any]) -> dict[str, tuple[set[str], bool]]:
    """Per response id: the usage fields no rate covered, and whether it was estimated."""
    notes: dict[str, tuple[set[str], bool]] = {}
    client_options = {
        "aicm_api_key": options["aicm_api_key"],
        "aicm_api_base": options["aicm_api_base"],
        "ini_path": str(options["ini_path"]),
    }
    async with AsyncCostManagerClient(**client_options) as client:
        async for line in client.iter_cost_events():
            unpriced, estimated = notes.setdefault(line.response_id, (set(), False))
            unpriced.update(getattr(line, "unpriced_fields", None) or [])
            if getattr(line, "fully_priced", True) is False and not unpriced:
                unpriced.add("(not fully priced)")
            notes[line.response_id] = (unpriced, estimated or bool(getattr(line, "estimated", 0)))
    return notes


class Runs:
    """Replays every recording of a call style once, in one tracker on one fresh API key.

    One tracker and one read-back per style keeps the corpus fast; each recording is replayed
    in its own ``tracking_scope(customer_key=...)``, so its events are told apart exactly.
    """

    def __init__(self, replay: ReplayServer, admin: Any, root: Path, base: str) -> None:
        self.replay, self.admin, self.root, self.base = replay, admin, root, base
        self._done: dict[str, dict[str, Outcome]] = {}

    def _options(self, style: Style) -> dict[str, Any]:
        folder = self.root / style.__name__
        folder.mkdir()
        return {
            "aicm_api_key": self.admin.new_api_key()[0],
            "aicm_api_base": self.base,
            "ini_path": folder / "AICM.INI",
            "db_path": folder / "queue.db",
            "backoff_base": 0.05,
            "backoff_max": 0.5,
            "batch_interval": 0.005,
            "timeout": 5.0,
        }

    async def get(self, style: Style, recs: list[Recording]) -> dict[str, Outcome]:
        """The outcome of every recording replayed with ``style`` (replayed on first use)."""
        if style.__name__ not in self._done:
            options = self._options(style)
            before = {rec.key: len(self.replay.received(rec)) for rec in recs}
            if style.__name__.startswith("a"):
                outcomes = await self._run_async(style, recs, options)
            else:
                outcomes = await anyio.to_thread.run_sync(self._run_sync, style, recs, options)
            stored = await read_stored(options)
            notes = await _pricing_notes(options)
            for rec in recs:
                outcome = outcomes[rec.key]
                outcome.received = self.replay.received(rec)[before[rec.key] :]
                outcome.stored = [e for e in stored if e.customer_key == _customer(rec)]
                for event in outcome.stored:
                    unpriced, estimated = notes.get(event.response_id, (set(), False))
                    outcome.unpriced |= unpriced
                    outcome.estimated = outcome.estimated or estimated
            self._done[style.__name__] = outcomes
        return self._done[style.__name__]

    async def _run_async(
        self, style: Style, recs: list[Recording], options: dict[str, Any]
    ) -> dict[str, Outcome]:
        outcomes = {rec.key: Outcome() for rec in recs}
        async with AsyncTracker(**options) as tracker:
            for rec in recs:
                raw = APIS[rec.api][1](self.replay.base(rec), False)
                try:
                    with tracking_scope(customer_key=_customer(rec)):
                        await style(wrap(rec, raw, tracker), rec)
                except Exception as exc:  # reported by that recording's test
                    outcomes[rec.key].error = exc
                finally:
                    await aclose(raw)
            with anyio.fail_after(60):
                assert await tracker.flush()
        return outcomes

    def _run_sync(
        self, style: Style, recs: list[Recording], options: dict[str, Any]
    ) -> dict[str, Outcome]:
        outcomes = {rec.key: Outcome() for rec in recs}
        with Tracker(**options) as tracker:
            for rec in recs:
                raw = APIS[rec.api][1](self.replay.base(rec), True)
                try:
                    with tracking_scope(customer_key=_customer(rec)):
                        style(wrap(rec, raw, tracker), rec)
                except Exception as exc:  # reported by that recording's test
                    outcomes[rec.key].error = exc
                finally:
                    raw.close()
            assert tracker.flush(60)
        return outcomes


def _customer(rec: Recording) -> str:
    return "corpus-" + re.sub(r"[^A-Za-z0-9_-]", "_", rec.key)
