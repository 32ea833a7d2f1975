"""``POST /track`` ingest rate of the local server (``aicostmanager serve``) in its own process.

Measures: records per second the server stores and prices when one client in this process
posts batches of 1000 records back to back (half OpenAI chat usage with cached tokens, half
Anthropic usage with cache reads; customer, context and current timestamps set; 3 cost events
per record). One value per run: 1000 / the median time of the run's batches; also the server
process's CPU time (user + system, psutil) per batch over the run, which a loaded machine
disturbs much less than wall time. A fresh server database per benchmark, one untimed warm-up
batch. No target: reported only (the SDK's delivery benchmarks show what the server bounds).
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid

import httpx
import msgspec
from _common import (
    Measurement,
    local_server_process,
    new_api_key,
    run_and_report,
    workdir,
)

NAME = "server_ingest"


def batch(prefix: str) -> bytes:
    """One ``/track`` body of 1000 records, each with its own response id."""
    stamp = time.time()
    records = []
    for i in range(1000):
        if i % 2:
            service = "openai::gpt-4o-mini"
            payload: dict[str, object] = {
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
                "timestamp": str(stamp + i / 1000),
                "customer_key": "acme",
                "context": {"env": "prod"},
                "payload": payload,
            }
        )
    return msgspec.json.encode({"tracked": records})


def run(args: argparse.Namespace) -> list[Measurement]:
    """``args.repeat`` runs of ``batches`` back-to-back batches each."""
    batches = 5 if args.quick else 25
    rate = Measurement("server /track ingest (1000-record batches)", "records/s")
    per_batch = Measurement(
        "server /track time per 1000-record batch", "ms", higher_is_better=False
    )
    cpu = Measurement("server CPU time per 1000-record batch", "ms", higher_is_better=False)
    rate.extra = per_batch.extra = cpu.extra = {"batches_per_run": batches}
    import psutil

    key = new_api_key()
    with workdir() as tmp, local_server_process(tmp, key) as (base, proc):
        server = psutil.Process(proc.pid)
        client = httpx.Client(
            base_url=base + "/api/v1",
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            timeout=60,
        )
        with client:
            client.post("/track", content=batch("warmup")).raise_for_status()
            for index in range(args.repeat):
                bodies = [batch(f"{index}-{b}-{uuid.uuid4().hex[:6]}") for b in range(batches)]
                times = []
                before = server.cpu_times()
                for body in bodies:
                    started = time.perf_counter()
                    response = client.post("/track", content=body)
                    times.append(time.perf_counter() - started)
                    if response.status_code != 202:
                        raise RuntimeError(f"{response.status_code}: {response.text[:300]}")
                after = server.cpu_times()
                used = (after.user - before.user) + (after.system - before.system)
                cpu.values.append(used / batches * 1e3)
                median = statistics.median(times)
                rate.values.append(1000 / median)
                per_batch.values.append(median * 1e3)
                print(
                    f"  run {index + 1}/{args.repeat}: {batches} x 1000 records, per batch "
                    f"median {median * 1e3:.1f} ms (min {min(times) * 1e3:.1f}, max "
                    f"{max(times) * 1e3:.1f}) -> {1000 / median:,.0f} records/s; server CPU "
                    f"{cpu.values[-1]:.1f} ms per batch"
                )
    return [rate, per_batch, cpu]


def main(argv: list[str] | None = None) -> list[Measurement]:
    """Run and report."""
    return run_and_report(NAME, __doc__, run, argv)


if __name__ == "__main__":
    main()
