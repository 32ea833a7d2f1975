# ruff: noqa: T201  (a command-line script: it reports on stdout)
"""Measure the ``/track`` ingest rate of the local server (not collected by pytest).

Starts ``aicostmanager serve`` in its own process on a temporary database, then posts
``--batches`` batches of 1000 records back to back from this process (half OpenAI chat usage
with cached tokens, half Anthropic usage with cache reads; customer, context and current
timestamps set; 3 cost events per record) and prints the median/min/max time per batch and the
median rate. Usage::

    python tests/server/ingest_rate_check.py [--batches 25] [--rounds 3]
"""

from __future__ import annotations

import argparse
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from importlib.metadata import version

import httpx
import msgspec

KEY = f"sk-test-bench.{uuid.uuid4()}"


def _batch(prefix: str) -> bytes:
    now = time.time()
    records = []
    for i in range(1000):
        if i % 2:
            service = "openai::gpt-4o-mini"
            payload = {
                "prompt_tokens": 1000 + i,
                "completion_tokens": 200,
                "total_tokens": 1200 + i,
                "prompt_tokens_details": {"cached_tokens": 100},
            }
        else:
            service = "anthropic::claude-sonnet-4-5"
            payload = {"input_tokens": 100 + i, "output_tokens": 50, "cache_read_input_tokens": 10}
        records.append(
            {
                "service_key": service,
                "response_id": f"{prefix}-{i}",
                "timestamp": str(now + i / 1000),
                "customer_key": "acme",
                "context": {"env": "prod"},
                "payload": payload,
            }
        )
    return msgspec.json.encode({"tracked": records})


def main() -> int:
    """Run the measurement; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    print(
        f"python {platform.python_version()}, aicostmanager {version('aicostmanager')},"
        f" genai-prices {version('genai-prices')}, uvicorn {version('uvicorn')}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen(
            [sys.executable, "-m", "aicostmanager.server._cli", "--port", str(port)]
            + ["--db", f"{tmp}/bench.db", "--api-key", KEY],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            root = f"http://127.0.0.1:{port}/api/v1"
            client = httpx.Client(
                base_url=root,
                headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
                timeout=60,
            )
            deadline = time.monotonic() + 60
            while True:
                try:
                    client.get("/openapi.json").raise_for_status()
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            client.post("/track", content=_batch("warmup"))  # warm-up
            for round_ in range(args.rounds):
                bodies = [
                    _batch(f"{round_}-{b}-{uuid.uuid4().hex[:6]}") for b in range(args.batches)
                ]
                times = []
                for body in bodies:
                    started = time.perf_counter()
                    response = client.post("/track", content=body)
                    times.append(time.perf_counter() - started)
                    assert response.status_code == 202, response.text[:300]
                median = statistics.median(times)
                print(
                    f"round {round_ + 1}: {args.batches} x 1000 records, per batch median"
                    f" {median * 1000:.1f} ms (min {min(times) * 1000:.1f}, max"
                    f" {max(times) * 1000:.1f}) -> {1000 / median:,.0f} records/s"
                )
            client.close()
        finally:
            server.terminate()
            server.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
