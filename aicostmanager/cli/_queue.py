"""``aicostmanager queue stats|failed|requeue|purge|monitor``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone

import anyio

from .._api_key import api_key_from_env
from .._exceptions import ConfigurationError
from .._queue import QueueError
from .._queue_admin import AsyncQueueManager

__all__ = ("queue_main",)


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
        p = sub.add_parser(name, help=text)
        p.add_argument("db_path", metavar="DB_PATH", help="the queue file (AICM_DB_PATH)")
        if name in ("requeue", "purge"):
            p.add_argument("ids", nargs="*", type=int, help="row ids (default: all)")
        if name == "failed":
            p.add_argument("--limit", type=int, default=20)
            p.add_argument("--json", action="store_true", help="one JSON object per line")
        if name == "stats":
            p.add_argument("--json", action="store_true", help="print JSON")
        if name == "adopt":
            p.add_argument("--from", dest="from_fp", metavar="FINGERPRINT", help="only this key")
        if name == "monitor":
            p.add_argument("-i", "--interval", type=float, default=1.0, help="seconds (default 1)")
            p.add_argument("--count", type=int, default=0, help="stop after N refreshes")
    return parser


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


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
            for row in await manager.list_failed(limit=args.limit):
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
            for fingerprint, count in (await manager.keys()).items():
                mark = "  <- $AICM_API_KEY" if fingerprint == current else ""
                print(f"{fingerprint}  {count}{mark}")
        elif args.action == "adopt":
            api_key = api_key_from_env()
            if api_key is None:
                print("aicostmanager queue adopt: set AICM_API_KEY", file=sys.stderr)
                return 2
            print(f"adopted {await manager.adopt(api_key, args.from_fp)}")
        else:
            await _monitor(manager, args.interval, args.count)
    return 0


async def _monitor(manager: AsyncQueueManager, interval: float, count: int) -> None:
    previous: int | None = None
    shown = 0
    while True:
        counts = await manager.stats()
        failed = await manager.list_failed(limit=10)
        rate = ""
        if previous is not None and interval > 0:
            rate = f"  ({(previous - counts.pending) / interval:+.0f}/s drained)"
        previous = counts.pending
        if sys.stdout.isatty():
            print("\x1b[2J\x1b[H", end="")
        print(f"aicostmanager queue  {time.strftime('%H:%M:%S')}")
        print(f"pending:       {counts.pending}{rate}")
        print(f"pending bytes: {counts.pending_bytes}")
        print(f"dead-lettered: {counts.dead}")
        for row in failed:
            print(f"  #{row.id} attempts={row.attempts} {row.reason[:100]}")
        sys.stdout.flush()
        shown += 1
        if count and shown >= count:
            return
        await anyio.sleep(interval)


def queue_main(argv: Sequence[str]) -> int:
    """Run a queue command; returns the exit status."""
    args = _parser().parse_args(list(argv))
    try:
        return anyio.run(_run, args)
    except (QueueError, ConfigurationError) as exc:
        print(f"aicostmanager queue: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
