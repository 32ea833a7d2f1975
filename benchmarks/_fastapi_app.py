"""The app of ``bench_fastapi.py``: one route, with or without tracking (``AICM_BENCH_MODE``).

- ``plain``: a FastAPI app with no aicostmanager at all; the route answers at once.
- ``track``: ``aicm_lifespan`` + ``AICMMiddleware`` (customer from a header) and the same route
  awaiting ``tracker.track(...)`` (the event is committed to the queue file before answering).
- ``nowait``: as ``track``, with ``tracker.track_nowait(...)``.
- ``bind``: the lifespan and the middleware, and a route that does not track (the
  integration's own cost, without the tracker's).
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI

MODE = os.environ.get("AICM_BENCH_MODE", "plain")
USAGE = {"input_tokens": 120, "output_tokens": 48}

if MODE == "plain":
    app = FastAPI()

    @app.post("/chat")
    async def chat() -> dict[str, Any]:
        """The route without tracking."""
        return {"ok": True}

else:
    from aicostmanager.integrations.fastapi import AICMMiddleware, TrackerDep, aicm_lifespan

    app = FastAPI(lifespan=aicm_lifespan())
    app.add_middleware(AICMMiddleware, customer_key=lambda r: r.headers.get("x-customer"))

    if MODE == "bind":

        @app.post("/chat")
        async def chat_bound(tracker: TrackerDep) -> dict[str, Any]:
            """The route receiving the tracker but not tracking."""
            return {"ok": True}

    elif MODE == "track":

        @app.post("/chat")
        async def chat_tracked(tracker: TrackerDep) -> dict[str, Any]:
            """The route awaiting ``track()``."""
            await tracker.track("openai::gpt-4o-mini", USAGE)
            return {"ok": True}

    else:

        @app.post("/chat")
        async def chat_nowait(tracker: TrackerDep) -> dict[str, Any]:
            """The route calling ``track_nowait()``."""
            tracker.track_nowait("openai::gpt-4o-mini", USAGE)
            return {"ok": True}
