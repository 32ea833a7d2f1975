"""One of several processes sharing a queue file: track, report, then flush with a deadline.

Usage: ``AICM_API_KEY=... sharer.py BASE_URL QUEUE_FILE INI_FILE COUNT``. Prints one JSON line
``{"committed": [ids]}`` once every ``await track()`` returned (the records are in the file),
then ``{"flushed": bool, "statistics": {...}}`` after ``flush(timeout=90)``; exits 0 when flushed.
"""

from __future__ import annotations

import dataclasses
import json
import sys

import anyio

from aicostmanager import AsyncTracker


async def main(base_url: str, queue_file: str, ini_file: str, count: int) -> int:
    """Track ``count`` events from 10 concurrent tasks, report them, flush."""
    ids: list[str] = []
    async with AsyncTracker(
        aicm_api_base=base_url,
        ini_path=ini_file,
        db_path=queue_file,
        delivery_type="persistent_queue",
        batch_interval=0.01,
        max_batch_size=100,
        backoff_base=0.05,
        backoff_max=0.5,
        lease_seconds=60,
        timeout=30,
    ) as tracker:

        async def produce(task: int) -> None:
            for i in range(task, count, 10):
                result = await tracker.track(
                    "openai::gpt-5-mini", {"input_tokens": i, "output_tokens": 1}
                )
                if result.status != "queued":
                    raise SystemExit(f"track() returned {result}")
                ids.append(result.response_id)

        async with anyio.create_task_group() as tg:
            for task in range(10):
                tg.start_soon(produce, task)
        print(json.dumps({"committed": ids}), flush=True)  # noqa: T201
        flushed = await tracker.flush(timeout=90)
        stats = {k: str(v) for k, v in dataclasses.asdict(tracker.statistics()).items()}
        print(json.dumps({"flushed": flushed, "statistics": stats}), flush=True)  # noqa: T201
    return 0 if flushed else 3


if __name__ == "__main__":
    base, queue, ini, n = sys.argv[1:5]
    sys.exit(anyio.run(main, base, queue, ini, int(n)))
