"""A FastAPI app that records one usage event per request, per customer.

Run it (the tracker reads ``AICM_API_KEY``, ``AICM_API_BASE``, ``AICM_DB_PATH``... from the
environment when the app starts)::

    pip install 'aicostmanager[fastapi,server]'
    uvicorn --app-dir docs/examples fastapi_app:app --workers 4
    curl -X POST -H 'x-customer: acme' localhost:8000/chat

Every worker process gets its own ``AsyncTracker`` on the shared queue file; shutting the
server down (Ctrl-C, SIGTERM) drains each one with a deadline.
"""

from __future__ import annotations

import os
from typing import Any

import anyio.lowlevel
from fastapi import Depends, FastAPI

from aicostmanager.integrations.fastapi import (
    AICMMiddleware,
    TrackerDep,
    aicm_lifespan,
    tracking_scope_dependency,
)

app = FastAPI(lifespan=aicm_lifespan())
# Each request's customer comes from a header; its route goes in the context.
app.add_middleware(
    AICMMiddleware,
    customer_key=lambda request: request.headers.get("x-customer"),
    context=lambda request: {"route": request.url.path},
)


@app.post("/chat")
async def chat(tracker: TrackerDep) -> dict[str, Any]:
    """Pretend to call an LLM, then record its usage for the request's customer."""
    await anyio.lowlevel.checkpoint()  # a real app awaits its LLM call (a wrapped client) here
    result = await tracker.track("openai::gpt-5-mini", {"input_tokens": 12, "output_tokens": 30})
    return {"response_id": result.response_id, "status": result.status, "pid": os.getpid()}


by_path = tracking_scope_dependency(customer_key=lambda request: request.path_params["customer"])


@app.post("/customers/{customer}/chat", dependencies=[Depends(by_path)])
async def customer_chat(customer: str, tracker: TrackerDep) -> dict[str, Any]:
    """The customer comes from the path (bound after routing, by the dependency)."""
    result = await tracker.track("openai::gpt-5-mini", {"input_tokens": 5, "output_tokens": 7})
    return {"response_id": result.response_id, "customer": customer}
