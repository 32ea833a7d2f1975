"""Track a fixed workload with the durable queue, re-sending 10% of the ids, then flush.

Usage: ``AICM_API_KEY=... acceptance_producer.py BASE_URL QUEUE_FILE INI_FILE NAME COUNT``.
Event ``i`` of producer ``NAME`` has the id ``NAME-i``, customer ``cust-<i % 7>`` and token
counts that depend on ``i`` only, so two runs of the same workload cost the same to the cent.
Every tenth event re-sends the id (and usage) of an event tracked five events earlier.
Prints ``progress N`` every 100 events and a JSON line of the tracker's statistics at the end;
exits 1 when the queue did not drain or something was dead-lettered.
"""

from __future__ import annotations

import json
import sys

import anyio

from aicostmanager import AsyncTracker


def usage(i: int) -> dict[str, int]:
    """The usage of event ``i`` (a pure function of ``i``)."""
    return {"input_tokens": 100 + (i * 37) % 900, "output_tokens": 10 + i % 50}


async def main(base_url: str, queue_file: str, ini_file: str, name: str, count: int) -> int:
    """Track the workload, flush, report; returns the exit status."""
    async with AsyncTracker(
        aicm_api_base=base_url,
        ini_path=ini_file,
        db_path=queue_file,
        delivery_type="persistent_queue",
        batch_interval=0.01,
        max_batch_size=100,
        backoff_base=0.05,
        backoff_max=1.0,
        lease_seconds=5,
        timeout=10,
    ) as tracker:
        for i in range(count):
            again = i - 5 if i % 10 == 9 else None
            await tracker.track(
                "openai::gpt-5-mini",
                usage(i),
                response_id=f"{name}-{i}",
                customer_key=f"cust-{i % 7}",
            )
            if again is not None:
                await tracker.track(
                    "openai::gpt-5-mini",
                    usage(again),
                    response_id=f"{name}-{again}",
                    customer_key=f"cust-{again % 7}",
                )
            if i % 100 == 99:
                print("progress", i + 1, flush=True)  # noqa: T201
        drained = await tracker.flush(timeout=600)
        stats = tracker.statistics()
        print(json.dumps({"drained": drained, "delivered": stats.delivered,  # noqa: T201
                          "retries": stats.retries, "dead_lettered": stats.dead_lettered,
                          "last_error": stats.last_error}), flush=True)  # fmt: skip
        return 0 if drained and stats.dead_lettered == 0 else 1


if __name__ == "__main__":
    base, queue, ini, producer, n = sys.argv[1:6]
    sys.exit(anyio.run(main, base, queue, ini, producer, int(n)))
