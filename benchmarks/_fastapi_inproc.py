"""Child of ``bench_fastapi.py``: time ASGI calls of ``_fastapi_app.py`` in-process, no HTTP.

Usage: ``AICM_BENCH_MODE=<mode> python _fastapi_inproc.py CALLS WARMUP``. Runs the app's
lifespan (the tracker delivers to nothing: ``batch_interval`` is long), then calls the app
with a ready-made ``POST /chat`` scope ``CALLS`` times and prints the latencies (µs) as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from _fastapi_app import app

SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "POST",
    "scheme": "http",
    "path": "/chat",
    "raw_path": b"/chat",
    "root_path": "",
    "query_string": b"",
    "headers": [(b"host", b"bench"), (b"x-customer", b"acme")],
    "client": ("127.0.0.1", 1),
    "server": ("127.0.0.1", 2),
}


async def main(calls: int, warmup: int) -> list[float]:
    """Latencies (µs) of ``calls`` sequential requests after ``warmup`` untimed ones."""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    times: list[float] = []
    async with app.router.lifespan_context(app) as state:
        for index in range(warmup + calls):
            scope = dict(SCOPE, state=dict(state or {}))
            start = time.perf_counter()
            await app(scope, receive, send)
            if index >= warmup:
                times.append((time.perf_counter() - start) * 1e6)
    return times


if __name__ == "__main__":
    sys.stdout.write(json.dumps(asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))) + "\n")
