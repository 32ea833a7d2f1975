"""``aicostmanager demo``: track a realistic mixed workload, then read the costs back.

By default an embedded local server is started on 127.0.0.1 (needs the ``server`` extra), so
the demo runs on one machine with no account and no internet.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import anyio.to_thread

from .._client import AsyncCostManagerClient
from .._exceptions import (
    AICMError,
    APIConnectionError,
    APIRequestError,
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
)
from .._tracker import AsyncTracker
from .._types import DeliveryType

__all__ = ("demo_main", "workload")

CUSTOMERS = ("acme", "globex", "initech", "umbrella", "hooli")
FEATURES = ("chat", "search", "summarize", "classify", "agent")


def _counts(
    rng: random.Random, prompt: tuple[int, int], completion: int, names: tuple[str, str, str]
) -> dict[str, Any]:
    """Random prompt and completion token counts (``prompt`` is the range of the first, the
    second is 20 to ``completion``) and their total, under the provider's three names."""
    made = rng.randint(*prompt), rng.randint(20, completion)
    return dict(zip(names, (*made, sum(made)), strict=True))


def _openai_chat(rng: random.Random) -> dict[str, Any]:
    usage = _counts(rng, (200, 6000), 1500, ("prompt_tokens", "completion_tokens", "total_tokens"))
    cached = rng.choice((0, 0, usage["prompt_tokens"] // 2))
    usage["prompt_tokens_details"] = {"cached_tokens": cached}
    reasoning = rng.randint(0, usage["completion_tokens"] // 2)
    usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return usage


def _openai_responses(rng: random.Random) -> dict[str, Any]:
    usage = _counts(rng, (200, 8000), 2000, ("input_tokens", "output_tokens", "total_tokens"))
    usage["input_tokens_details"] = {"cached_tokens": 0}
    reasoning = rng.randint(0, usage["output_tokens"] // 2)
    usage["output_tokens_details"] = {"reasoning_tokens": reasoning}
    return usage


def _anthropic(rng: random.Random) -> dict[str, Any]:
    return {
        "input_tokens": rng.randint(100, 5000),
        "output_tokens": rng.randint(20, 1200),
        "cache_creation_input_tokens": rng.choice((0, 0, 1024)),
        "cache_read_input_tokens": rng.choice((0, 0, 2048)),
    }


def _gemini(rng: random.Random) -> dict[str, Any]:
    names = ("promptTokenCount", "candidatesTokenCount", "totalTokenCount")
    return _counts(rng, (100, 7000), 1500, names)


def _bedrock(rng: random.Random) -> dict[str, Any]:
    return _counts(rng, (100, 4000), 1000, ("inputTokens", "outputTokens", "totalTokens"))


# (service key, usage factory, relative weight)
SERVICES = (
    ("openai::gpt-5-mini", _openai_responses, 30),
    ("openai::gpt-4o", _openai_chat, 15),
    ("anthropic::claude-sonnet-4", _anthropic, 20),
    ("anthropic::claude-haiku-4-5", _anthropic, 10),
    ("google::gemini-2.5-flash", _gemini, 15),
    ("amazon-bedrock::us.amazon.nova-pro-v1:0", _bedrock, 10),
)


def workload(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """A deterministic mixed workload of ``count`` track() calls."""
    rng = random.Random(seed)
    weights = [w for _, _, w in SERVICES]
    customer_weights = [40, 25, 15, 12, 8]
    events = []
    for _ in range(count):
        service_key, make_usage, _ = rng.choices(SERVICES, weights)[0]
        events.append(
            {
                "service_key": service_key,
                "usage": make_usage(rng),
                "customer_key": rng.choices(CUSTOMERS, customer_weights)[0],
                "context": {
                    "feature": rng.choice(FEATURES),
                    "env": rng.choice(("prod", "prod", "staging")),
                },
            }
        )
    return events


class _Progress:
    """A dependency-free progress bar on stderr."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label, self.done = total, label, 0
        self._shown = -1
        self._tty = sys.stderr.isatty()
        self._start = time.perf_counter()

    def advance(self, count: int = 1) -> None:
        self.done += count
        percent = self.done * 100 // max(self.total, 1)
        if percent == self._shown or (not self._tty and percent % 10 and self.done < self.total):
            return
        self._shown = percent
        width = 30
        filled = width * self.done // max(self.total, 1)
        rate = self.done / max(time.perf_counter() - self._start, 1e-9)
        line = (
            f"{self.label} [{'#' * filled}{'.' * (width - filled)}] "
            f"{self.done}/{self.total} {percent:3d}% {rate:,.0f}/s"
        )
        print(("\r" if self._tty else "") + line, end="" if self._tty else "\n", file=sys.stderr)
        if self._tty and self.done >= self.total:
            print(file=sys.stderr)


async def _track_all(tracker: AsyncTracker, events: list[dict[str, Any]], workers: int) -> float:
    progress = _Progress(len(events), "tracking")
    send, receive = anyio.create_memory_object_stream[dict[str, Any]](max_buffer_size=workers * 2)
    start = time.perf_counter()

    async def producer(events_in: anyio.abc.ObjectReceiveStream[dict[str, Any]]) -> None:
        async with events_in:
            async for event in events_in:
                await tracker.track(
                    event["service_key"],
                    event["usage"],
                    customer_key=event["customer_key"],
                    context=event["context"],
                    timestamp=event.get("timestamp"),
                )
                progress.advance()

    async with anyio.create_task_group() as group:
        async with receive:
            for _ in range(workers):
                group.start_soon(producer, receive.clone())
        async with send:
            for event in events:
                await send.send(event)
    return time.perf_counter() - start


async def _cost_table(client: AsyncCostManagerClient) -> dict[tuple[str, str], list[Any]]:
    table: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    async for rollup in client.iter_usage_rollups(granularity="daily"):
        row = table[(rollup.customer_key or "-", rollup.service_id)]
        row[0] += Decimal(str(rollup.quantity))
        row[1] += Decimal(str(rollup.cost))
    return dict(table)


def _print_table(table: dict[tuple[str, str], list[Any]]) -> None:
    header = f"{'customer':<10} {'service':<42} {'quantity':>14} {'cost (USD)':>14}"
    print(header)
    print("-" * len(header))
    total = Decimal(0)
    for customer in sorted({c for c, _ in table}):
        subtotal = Decimal(0)
        for (cust, service), (quantity, cost) in sorted(table.items()):
            if cust != customer:
                continue
            print(f"{customer:<10} {service:<42} {quantity:>14,.0f} {cost:>14.4f}")
            subtotal += cost
        print(f"{'':<10} {'subtotal ' + customer:<42} {'':>14} {subtotal:>14.4f}")
        total += subtotal
    print("-" * len(header))
    print(f"{'total':<10} {'':<42} {'':>14} {total:>14.4f}")


def _spread_over_week(events: list[dict[str, Any]], seed: int) -> None:
    """Date the events over the last 7 days (for --serve: the dashboard then has a history)."""
    rng = random.Random(seed)
    now = time.time()
    for event in events:
        event["timestamp"] = now - rng.random() ** 1.5 * 7 * 86400


async def _serve_dashboard(client: AsyncCostManagerClient, server: Any, api_key: str) -> None:
    """Add two usage limits, print the dashboard's address and key, serve until Ctrl-C."""
    await client.create_usage_limit(
        {"threshold_type": "alert", "amount": "5", "period": "day", "client": "acme"}
    )
    await client.create_usage_limit({"threshold_type": "limit", "amount": "500", "period": "month"})
    print(
        f"\ndashboard: {server.url}/\nsign in with the API key: {api_key}\n"
        "(the server keeps running; press Ctrl-C to stop it)",
        file=sys.stderr,
    )
    await anyio.sleep_forever()


class _DemoError(Exception):
    """A problem the demo reports in one line (exit status 1)."""


async def _check_server(api_base: str, api_key: str | None, ini_path: Path) -> None:
    """Fail fast on a server that is down, a wrong key or a wrong address.

    Raises:
        _DemoError: the server cannot be used (the message says why, in one line).
    """
    async with AsyncCostManagerClient(
        aicm_api_key=api_key,
        aicm_api_base=api_base,
        aicm_ini_path=str(ini_path),
        timeout=10,
        max_attempts=1,
    ) as client:
        root = client.api_root
        try:
            await client.list_usage_limits()
        except (AuthenticationError, PermissionDeniedError) as exc:
            raise _DemoError(
                f"the server at {root} refused the API key (HTTP {exc.status_code}): "
                "check --api-key / AICM_API_KEY"
            ) from None
        except NotFoundError:
            raise _DemoError(
                f"no AICostManager API at {root} (HTTP 404): check --api-base"
            ) from None
        except APIConnectionError as exc:
            raise _DemoError(f"cannot reach the server at {root}: {exc}") from None
        except APIRequestError as exc:
            raise _DemoError(f"the server at {root} answered HTTP {exc.status_code}") from None


async def _demo(args: argparse.Namespace) -> int:
    events = workload(args.events, args.seed)
    if args.serve:
        _spread_over_week(events, args.seed)
    with tempfile.TemporaryDirectory(prefix="aicm-demo-") as tmp:
        server: Any = None
        api_base, api_key = args.api_base, args.api_key
        if api_base is None:
            try:
                from ..server import LocalServer
                from ..server._auth import new_key_text
            except ImportError:
                print(
                    "the embedded server needs: pip install 'aicostmanager[server]'",
                    file=sys.stderr,
                )
                return 2
            api_key = new_key_text()
            server = LocalServer(
                port=args.port,
                db_path=str(Path(tmp) / "server.db"),
                api_keys=[api_key],
                testing=False,
            )
            await anyio.to_thread.run_sync(server.start)
            api_base = server.url
            print(f"embedded local server at {server.api_root}", file=sys.stderr)
        else:
            await _check_server(api_base, api_key, Path(tmp) / "AICM.INI")
        try:
            tracker = AsyncTracker(
                aicm_api_key=api_key,
                aicm_api_base=api_base,
                ini_path=Path(tmp) / "AICM.INI",
                db_path=Path(tmp) / "queue.db",
                delivery_type=DeliveryType.PERSISTENT_QUEUE,
            )
            async with tracker:
                elapsed = await _track_all(tracker, events, args.concurrency)
                flushed = await tracker.flush(timeout=60)
                stats = tracker.statistics()
            # The demo's queue file is in a temporary folder: what was not delivered is gone.
            lost = len(events) - stats.delivered - stats.dead_lettered
            print(
                f"tracked {len(events)} events in {elapsed:.2f} s "
                f"({len(events) / elapsed:,.0f}/s); delivered {stats.delivered}, "
                f"dead-lettered {stats.dead_lettered}, retries {stats.retries}"
                + (
                    ""
                    if flushed
                    else f"; {lost} not delivered within 60 s were discarded with the demo's "
                    f"temporary queue (last error: {stats.last_error})"
                ),
                file=sys.stderr,
            )
            if not flushed:
                return 1
            async with AsyncCostManagerClient(
                aicm_api_key=api_key,
                aicm_api_base=api_base,
                ini_path=str(Path(tmp) / "AICM.INI"),
            ) as client:
                table = await _cost_table(client)
                _print_table(table)
                if args.serve and server is not None:
                    await _serve_dashboard(client, server, api_key)
        finally:
            if server is not None:
                await anyio.to_thread.run_sync(server.stop)
    return 0


def demo_main(argv: Sequence[str]) -> int:
    """Run the demo; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="aicostmanager demo",
        description="Track a mixed workload across providers and customers, then print the "
        "cost per customer and service as read back from the server.",
    )
    parser.add_argument("--events", type=int, default=5000, help="events to track (5000)")
    parser.add_argument("--concurrency", type=int, default=50, help="concurrent producers (50)")
    parser.add_argument("--seed", type=int, default=7, help="workload seed (7)")
    parser.add_argument("--api-base", help="use this server instead of the embedded one")
    parser.add_argument("--api-key", help="API key for --api-base (default: AICM_API_KEY)")
    parser.add_argument(
        "--serve",
        action="store_true",
        help="then keep the embedded server running and print the dashboard's URL and key",
    )
    parser.add_argument("--port", type=int, default=0, help="port of the embedded server (free)")
    args = parser.parse_args(list(argv))
    if args.serve and args.api_base is not None:
        parser.error("--serve runs the embedded server: it cannot be combined with --api-base")
    if args.api_base is not None and not (args.api_key or os.environ.get("AICM_API_KEY")):
        print("aicostmanager demo: --api-base needs --api-key or AICM_API_KEY", file=sys.stderr)
        return 1
    try:
        return anyio.run(_demo, args)
    except KeyboardInterrupt:
        return 0
    except (_DemoError, AICMError) as exc:
        print(f"aicostmanager demo: {exc}", file=sys.stderr)
        return 1
