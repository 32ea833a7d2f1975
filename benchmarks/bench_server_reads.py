"""Slow reads on a big team, and what they do to another team's reads (1,000,000 events).

Starts ``aicostmanager serve`` on a fresh database, stores 1,000,000 usage events for one team
(``big``: 2 cost events each, a context ``{"a": ...}``) and 2,000 for another (``small``),
then times the reads that used to take 17-20 s (``/usage/rollups/``, a ``context.a=%_%``
filter, a deep ``offset``), a walk of 5 pages through the cursor in ``next``, and the small
team's ``/spend/summary/`` alone and while the big team runs those slow reads in 3 threads.
Prints each answer's status (a 503 is a read stopped by the statement time limit).
``--quick``: 100,000 events. ``--db-dir DIR``: keep the database (and its two keys) in DIR and
reuse it on the next run instead of ingesting again (e.g. to measure two versions on one file).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
from _common import (
    Measurement,
    _process,
    free_port,
    new_api_key,
    parse_args,
    print_header,
    python,
    report,
    workdir,
)

NAME = "server_reads"
_BATCH = 1000
_DURING_SECONDS = 120.0  # stop sampling the other team after this long (old code: minutes each)
_SLOW = {
    "rollups daily (all time)": ("/usage/rollups/", {}),
    "costs context.a=%_%": ("/costs/", {"context.a": "%_%"}),
    "costs offset=2900000": ("/costs/", {"offset": 2_900_000}),
}


def _bodies(total: int, seed: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    now = time.time()
    for start in range(0, total, _BATCH):
        tracked = [
            {
                "service_key": "openai::gpt-4o-mini",
                "response_id": uuid.uuid4().hex,
                "timestamp": now - rng.random() * 30 * 86400,
                "customer_key": f"customer-{rng.randrange(50):02d}",
                "context": {"a": f"v{rng.randrange(100)}"},
                "payload": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
            }
            for _ in range(min(_BATCH, total - start))
        ]
        yield msgspec.json.encode({"tracked": tracked})


def _ingest(http: httpx.Client, total: int, seed: int) -> None:
    for index, body in enumerate(_bodies(total, seed)):
        http.post("/track", content=body, headers={"Content-Type": "application/json"})
        if index % 100 == 99:
            print(f"  ingested {(index + 1) * _BATCH:,} events")


def _timed(http: httpx.Client, path: str, params: dict[str, Any]) -> tuple[float, int]:
    started = time.perf_counter()
    status = http.get(path, params=params).status_code
    return (time.perf_counter() - started) * 1000, status


def _cursor_walk(http: httpx.Client, pages: int) -> float:
    started = time.perf_counter()
    url: str | None = "/costs/?limit=200"
    for _ in range(pages):
        if url is None:
            break
        response = http.get(url)
        response.raise_for_status()
        url = response.json()["next"]
    return (time.perf_counter() - started) * 1000


def _client(root: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=root, headers={"Authorization": f"Bearer {key}"}, timeout=300)


def _slow_reads(big: httpx.Client, repeat: int) -> list[Measurement]:
    out = []
    for name, (path, params) in _SLOW.items():
        values, statuses = [], []
        for _ in range(repeat):
            ms, status = _timed(big, path, params)
            values.append(ms)
            statuses.append(status)
        print(f"  {name}: median {statistics.median(values):.0f} ms, statuses {statuses}")
        out.append(Measurement(name, "ms", values, extra={"statuses": statuses}))
    walk = [_cursor_walk(big, 5) for _ in range(repeat)]
    print(f"  5 pages via next: median {statistics.median(walk):.0f} ms")
    out.append(Measurement("costs: 5 pages of 200 via next", "ms", walk))
    return out


def _isolation(root: str, big_key: str, small: httpx.Client) -> list[Measurement]:
    alone = [_timed(small, "/spend/summary/", {})[0] for _ in range(20)]
    stop = threading.Event()

    def hammer(path: str, params: dict[str, Any]) -> None:
        with _client(root, big_key) as http:
            while not stop.is_set():
                _timed(http, path, params)

    threads = [threading.Thread(target=hammer, args=spec, daemon=True) for spec in _SLOW.values()]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # let the slow reads start
    during: list[float] = []
    started = time.monotonic()
    while len(during) < 20 and (len(during) < 3 or time.monotonic() - started < _DURING_SECONDS):
        during.append(_timed(small, "/spend/summary/", {})[0])
    stop.set()
    for thread in threads:
        thread.join()
    print(
        f"  other team alone: {statistics.median(alone):.1f} ms; during: median"
        f" {statistics.median(during):.1f} ms, max {max(during):.1f} ms"
    )
    return [
        Measurement("other team's /spend/summary/ alone", "ms", alone),
        Measurement(
            "other team's /spend/summary/ during slow reads",
            "ms",
            during,
            extra={"max_ms": max(during)},
        ),
    ]


def _keys(directory: Path) -> tuple[list[str], bool]:
    """The two keys kept in ``directory`` (made when missing); True when data is there."""
    keys_file = directory / "keys.txt"
    if keys_file.exists() and (directory / "server.db").exists():
        return keys_file.read_text().split(), True
    keys = [new_api_key(), new_api_key()]
    keys_file.write_text("\n".join(keys) + "\n")
    return keys, False


def _run(args: argparse.Namespace, directory: Path, total: int) -> list[Measurement]:
    (big_key, small_key), filled = _keys(directory)
    port = free_port()
    # Two configured keys, two teams. (--api-key on the command line works on every version,
    # so the same script measures the code before the read limits too.)
    cmd = [python(), "-m", "aicostmanager.cli", "serve", "--port", str(port)]
    cmd += ["--db", str(directory / "server.db"), "--api-key", big_key, "--api-key", small_key]
    with _process(cmd, port) as (base, _):
        root = base + "/api/v1"
        with _client(root, big_key) as big, _client(root, small_key) as small:
            if not filled:
                started = time.perf_counter()
                _ingest(big, total, 1)
                _ingest(small, 2_000, 2)
                print(f"  ingested in {time.perf_counter() - started:.0f} s")
            measurements = _slow_reads(big, args.repeat)
            measurements += _isolation(root, big_key, small)
    return measurements


def main() -> None:
    """Fill the server (or reuse ``--db-dir``), then time the slow reads and the other team."""
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--db-dir", type=Path, default=None)
    known, rest = extra.parse_known_args(sys.argv[1:])
    args = parse_args(__doc__, rest)
    info = print_header(NAME, __doc__)
    total = 100_000 if args.quick else 1_000_000
    if known.db_dir is not None:
        known.db_dir.mkdir(parents=True, exist_ok=True)
        measurements = _run(args, known.db_dir, total)
    else:
        with workdir() as tmp:
            measurements = _run(args, tmp, total)
    report(NAME, measurements, {**info, "events": total}, args)


if __name__ == "__main__":
    main()
