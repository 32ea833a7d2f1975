"""``aicostmanager queue stats|failed|requeue|purge|monitor|keys|adopt``.

The queue file is the ``DB_PATH`` argument, else the tracker's own: ``AICM_DB_PATH``, the INI's
``AICM_DB_PATH``, else ``queue.db`` beside the INI (the rule of ``TrackerSettings.queue_path``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import anyio

from .._api_key import api_key_from_env
from .._config import TrackerSettings, resolve_settings
from .._exceptions import ConfigurationError
from .._queue import QueueError
from .._queue_admin import AsyncQueueManager
from ._monitor import monitor

__all__ = ("queue_main",)


_DB_HELP = "the queue file (default: $AICM_DB_PATH, else queue.db beside the INI)"


def _add_monitor_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-i", "--interval", type=float, default=1.0, help="seconds (default 1)")
    p.add_argument("--count", type=int, default=0, help="stop after N refreshes (0: never)")
    p.add_argument("--once", action="store_true", help="print one snapshot and exit")
    p.add_argument("--plain", action="store_true", help="plain text, even on a terminal")


def monitor_parser() -> argparse.ArgumentParser:
    """The parser of the ``queue-monitor`` command."""
    parser = argparse.ArgumentParser(
        prog="queue-monitor",
        description="Live view of a durable queue file: depth, rates, time to empty, the "
        "oldest record's age and last error, why records wait.",
    )
    parser.add_argument("db_path", metavar="DB_PATH", nargs="?", help=_DB_HELP)
    _add_monitor_options(parser)
    return parser


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aicostmanager queue", description="Inspect and repair a durable queue file."
    )
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text in (
        ("stats", "pending and dead-lettered counts"),
        ("failed", "list dead-lettered records with their reasons"),
        ("requeue", "send dead-lettered records again"),
        ("purge", "delete dead-lettered records"),
        ("monitor", "live view of the queue, refreshed every interval"),
        ("keys", "pending records per API-key fingerprint"),
        ("adopt", "give records queued with other keys to the key in $AICM_API_KEY"),
    ):
        p = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        p.add_argument("db_path", metavar="DB_PATH", nargs="?", help=_DB_HELP)
        if name in ("requeue", "purge"):
            p.add_argument("ids", nargs="*", type=int, help="row ids (default: all)")
        if name == "failed":
            p.add_argument(
                "--limit", type=int, default=20, help="show at most N records (default 20)"
            )
            p.add_argument("--json", action="store_true", help="one JSON object per line")
        if name == "stats":
            p.add_argument("--json", action="store_true", help="print JSON")
        if name == "adopt":
            p.add_argument("--from", dest="from_fp", metavar="FINGERPRINT", help="only this key")
        if name == "monitor":
            _add_monitor_options(p)
    return parser


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _db_path(given: str | None) -> Path:
    """``DB_PATH``, else the file a tracker with this environment would use.

    Raises:
        ConfigurationError: the environment or the INI holds a malformed option.
    """
    if given:
        return Path(given).expanduser()
    return resolve_settings(TrackerSettings).queue_path


async def _run(args: argparse.Namespace) -> int:
    async with AsyncQueueManager(args.db_path) as manager:
        if args.action == "stats":
            counts = await manager.stats()
            if args.json:
                print(json.dumps(dataclasses.asdict(counts)))
            else:
                print(f"pending:       {counts.pending} ({counts.pending_bytes} bytes)")
                print(f"dead-lettered: {counts.dead}")
        elif args.action == "failed":
            failed = await manager.list_failed(limit=args.limit)
            if not failed and not args.json:
                print("no failed records")
            for row in failed:
                if args.json:
                    print(json.dumps(dataclasses.asdict(row), default=str))
                else:
                    record = row.record
                    print(
                        f"#{row.id} {record.get('service_key')} {record.get('response_id')} "
                        f"failed {_when(row.failed_at)} after {row.attempts} attempt(s): "
                        f"{row.reason}"
                    )
        elif args.action == "requeue":
            print(f"requeued {await manager.requeue_failed(args.ids or None)}")
        elif args.action == "purge":
            print(f"purged {await manager.purge_failed(args.ids or None)}")
        elif args.action == "keys":
            key = api_key_from_env()
            current = None if key is None else key.fingerprint
            keys = await manager.keys()
            if not keys:
                print("no keys: nothing pending")
            for fingerprint, count in keys.items():
                mark = "  <- $AICM_API_KEY" if fingerprint == current else ""
                print(f"{fingerprint}  {count}{mark}")
        elif args.action == "adopt":
            api_key = api_key_from_env()
            if api_key is None:
                print("aicostmanager queue adopt: set AICM_API_KEY", file=sys.stderr)
                return 2
            print(f"adopted {await manager.adopt(api_key, args.from_fp)}")
        else:
            await monitor(
                manager,
                str(args.db_path),
                interval=args.interval,
                count=args.count,
                once=args.once,
                plain=args.plain,
            )
    return 0


def queue_main(argv: Sequence[str], *, as_monitor: bool = False) -> int:
    """Run a queue command (``queue-monitor`` with ``as_monitor``); returns the exit status."""
    if as_monitor:
        args = monitor_parser().parse_args(list(argv))
        args.action, name = "monitor", "queue-monitor"
    else:
        args = _parser().parse_args(list(argv))
        name = f"aicostmanager queue {args.action}"
    try:
        args.db_path = _db_path(args.db_path)
        return anyio.run(_run, args)
    except (QueueError, ConfigurationError) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
