"""What looking the API key up in the database on every request costs (SQLite and PostgreSQL).

The server used to keep every key it had seen in a per-process dict forever (so a revoked key
stayed valid in every worker that had seen it). It now reads ``api_keys`` (joined with
``api_key_states`` for revocation) on each request. This script times, per backend: one
``KeyStore.lookup`` (the added cost per request), one dashboard-session lookup, and for
context a whole authenticated ``GET /api/v1/customers/`` through a running server (one client,
keep-alive, sequential). PostgreSQL runs when ``AICM_BENCH_PG_URL`` names an empty database
the script may fill (e.g. ``postgresql://postgres@127.0.0.1:55450/bench``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time

import httpx
from _common import Measurement, repeat_runs, run_and_report

from aicostmanager.server import LocalServer
from aicostmanager.server._auth import ApiKey, KeyStore, hash_secret
from aicostmanager.server._db import Database
from aicostmanager.server.app import SCHEMA
from aicostmanager.server.dashboard import Sessions

NAME = "server_auth"
_PG_ENV = "AICM_BENCH_PG_URL"


async def _lookups(db_target: str, count: int, runs: int) -> tuple[list[float], list[float]]:
    """µs per key lookup and per session lookup, one value per run."""
    db = await Database.open(db_target, SCHEMA)
    try:
        store, sessions = KeyStore(db), Sessions()
        key, identity = await store.mint()
        token = await sessions.create(db, identity, hash_secret(key))
        keys: list[float] = []
        tokens: list[float] = []
        for run in range(runs + 1):  # the first run warms up
            start = time.perf_counter()
            for _ in range(count):
                assert await store.lookup(key) == identity
            mid = time.perf_counter()
            for _ in range(count):
                assert await sessions.get(db, token) == identity
            end = time.perf_counter()
            if run:
                keys.append((mid - start) / count * 1e6)
                tokens.append((end - mid) / count * 1e6)
    finally:
        await db.close()
    return keys, tokens


def _dict_lookup(count: int) -> float:
    """µs per lookup in the old per-process cache (a dict keyed by the key's hash)."""
    cache = {hash_secret("k"): ApiKey("id", "team")}
    digest = hash_secret("k")
    start = time.perf_counter()
    for _ in range(count):
        assert cache.get(digest) is not None
    return (time.perf_counter() - start) / count * 1e6


def _request_ms(db_target: str, count: int) -> float:
    """ms per authenticated GET /customers/ through a running server."""
    with LocalServer(db=db_target, testing=True) as server:
        key = httpx.post(f"{server.url}/_testing/api-keys", json={}).json()["api_key"]
        with httpx.Client(
            base_url=server.api_root, headers={"Authorization": f"Bearer {key}"}
        ) as http:
            for _ in range(20):
                http.get("/customers/").raise_for_status()
            start = time.perf_counter()
            for _ in range(count):
                http.get("/customers/").raise_for_status()
            return (time.perf_counter() - start) / count * 1e3


def run(args: argparse.Namespace) -> list[Measurement]:
    count = 200 if args.quick else 2000
    backends = {"sqlite": os.path.join(tempfile.mkdtemp(prefix="aicm-auth-"), "auth.db")}
    if os.environ.get(_PG_ENV):
        backends["postgresql"] = os.environ[_PG_ENV]
    else:
        print(f"  (no {_PG_ENV}: PostgreSQL skipped)")
    out = [
        repeat_runs(
            Measurement("old per-process dict lookup", "µs/lookup", higher_is_better=False),
            args.repeat,
            lambda: _dict_lookup(count * 100),
        )
    ]
    for name, target in backends.items():
        keys, tokens = asyncio.run(_lookups(target, count, args.repeat))
        out.append(Measurement(f"{name}: key lookup", "µs/lookup", keys, higher_is_better=False))
        out.append(
            Measurement(f"{name}: session lookup", "µs/lookup", tokens, higher_is_better=False)
        )
        out.append(
            repeat_runs(
                Measurement(f"{name}: GET /customers/", "ms/request", higher_is_better=False),
                args.repeat,
                lambda target=target: _request_ms(target, count // 4),
                warmup=0,
            )
        )
    return out


def main() -> None:
    """Run the measurements and write ``results/server_auth.json``."""
    run_and_report(NAME, __doc__, run)


if __name__ == "__main__":
    main()
