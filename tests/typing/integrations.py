"""The integrations as users write them: type-checked by `mypy --strict` in CI, never run."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Mapping
from multiprocessing import Pool
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from typing_extensions import assert_type

from aicostmanager import AsyncTracker, Tracker, TrackResult, tracking_scope
from aicostmanager.integrations.fastapi import (
    AICMMiddleware,
    ClientsDep,
    TrackerDep,
    aicm_lifespan,
    get_client,
    get_tracker,
    tracking_scope_dependency,
)
from aicostmanager.integrations.pool import init_worker, worker_tracker
from aicostmanager.integrations.streamlit import shared_tracker


@contextlib.asynccontextmanager
async def own_lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    yield {"db": object()}


async def org_of(request: Request) -> str | None:
    return request.headers.get("x-org")


app = FastAPI(lifespan=aicm_lifespan(own_lifespan, close_timeout=10, db_path="queue.db"))
app.add_middleware(AICMMiddleware, customer_key=org_of, context=lambda r: {"path": r.url.path})
by_path = tracking_scope_dependency(customer_key=lambda r: r.path_params["org"])


@app.post("/chat", dependencies=[Depends(by_path)])
async def chat(
    tracker: TrackerDep,
    clients: ClientsDep,
    llm: Annotated[Any, Depends(get_client("openai"))],
    request: Request,
) -> str:
    assert_type(tracker, AsyncTracker)
    assert_type(clients, Mapping[str, Any])
    assert_type(get_tracker(request), AsyncTracker)
    result = await tracker.track("openai::gpt-5-mini", {"input_tokens": 1})
    assert_type(result, TrackResult)
    return result.response_id


def task(n: int) -> str:
    tracker = worker_tracker()
    assert_type(tracker, Tracker)
    return tracker.track("openai::gpt-5-mini", {"input_tokens": n}).response_id


def run_pool() -> list[str]:
    with Pool(2, initializer=functools.partial(init_worker, db_path="queue.db")) as pool:
        return pool.map(task, range(10))


def streamlit_page() -> None:
    tracker = shared_tracker(close_timeout=10)
    assert_type(tracker, Tracker)
    with tracking_scope(customer_key="acme"):
        tracker.track("openai::gpt-5-mini", {"input_tokens": 1})


def llm_frameworks(tracker: Tracker) -> None:
    """The LLM-framework integrations take a tracker (or None: the process's)."""
    from opentelemetry.sdk.trace import TracerProvider

    from aicostmanager.integrations.langchain import AICMCallbackHandler
    from aicostmanager.integrations.litellm import AICMLogger
    from aicostmanager.integrations.openai_agents import AICMTracingProcessor
    from aicostmanager.integrations.otel import AICMSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(AICMSpanProcessor(tracker))
    handlers: list[object] = [
        AICMCallbackHandler(tracker),
        AICMLogger(),
        AICMTracingProcessor(tracker, vendor="azure-openai"),
    ]
    assert handlers
