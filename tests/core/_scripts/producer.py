"""Track events with ``await track()`` (persistent queue) and print each returned id.

Usage: ``AICM_API_KEY=... producer.py BASE_URL QUEUE_FILE INI_FILE COUNT`` (the key comes from
the environment, never the command line). Each ``response_id`` is printed
(and flushed) only after ``track()`` returned, so every printed id is a promise of delivery.
The parent kills this process with SIGKILL at a random point.
"""

from __future__ import annotations

import sys

import anyio

from aicostmanager import AsyncTracker


async def main(base_url: str, queue_file: str, ini_file: str, count: int) -> None:
    """Track ``count`` events, printing each id once ``track()`` returned."""
    async with AsyncTracker(
        aicm_api_base=base_url,
        ini_path=ini_file,
        db_path=queue_file,
        delivery_type="persistent_queue",
        batch_interval=0.01,
        max_batch_size=50,
        backoff_base=0.05,
        backoff_max=0.5,
        lease_seconds=1,
        timeout=5,
    ) as tracker:
        print("ready", flush=True)  # noqa: T201
        for i in range(count):
            result = await tracker.track(
                "openai::gpt-5-mini", {"input_tokens": i, "output_tokens": 1}, customer_key="acme"
            )
            if result.status != "queued":
                raise SystemExit(f"track() returned {result}")
            print(result.response_id, flush=True)  # noqa: T201
        await anyio.sleep_forever()  # the parent kills us


if __name__ == "__main__":
    base, queue, ini, n = sys.argv[1:5]
    anyio.run(main, base, queue, ini, int(n))
