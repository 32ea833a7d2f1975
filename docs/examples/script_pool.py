"""A script that tracks from a ``multiprocessing`` pool, then once more from the parent.

Run it (the trackers read ``AICM_API_KEY``, ``AICM_API_BASE``... from the environment)::

    python docs/examples/script_pool.py --start-method spawn --tasks 100

Each pool worker gets its own ``Tracker`` from ``init_worker`` (created after the fork or
spawn, drained when the worker ends); the parent's ``Tracker`` is never closed explicitly:
it is drained at interpreter exit. Prints the ``response_id`` of every tracked event.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys

from aicostmanager import Tracker
from aicostmanager.integrations.pool import init_worker, worker_tracker


def task(n: int) -> str:
    """One unit of work: call an LLM (made up here) and record its usage."""
    usage = {"input_tokens": n + 1, "output_tokens": 7}
    result = worker_tracker().track("openai::gpt-5-mini", usage, customer_key=f"customer-{n % 5}")
    return result.response_id


def main() -> None:
    """Run the tasks in a pool, then record a summary event from the parent."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--start-method", default="spawn", choices=("fork", "spawn", "forkserver"))
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()

    context = multiprocessing.get_context(args.start_method)
    with context.Pool(args.processes, initializer=init_worker) as pool:
        ids = pool.map(task, range(args.tasks))

    tracker = Tracker()  # no close(): the atexit hook drains it with its close_timeout
    summary = tracker.track("openai::gpt-5-mini", {"input_tokens": 1}, customer_key="parent")
    sys.stdout.write("\n".join([*ids, summary.response_id]) + "\n")


if __name__ == "__main__":
    main()
