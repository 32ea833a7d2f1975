"""The public API as users write it: type-checked by `mypy --strict` in CI, never run."""

from __future__ import annotations

from decimal import Decimal

from typing_extensions import assert_type

from aicostmanager import (
    AsyncCostManagerClient,
    AsyncQueueManager,
    AsyncTracker,
    CostManagerClient,
    DeliveryType,
    QueueFullPolicy,
    Tracker,
    TrackerStatistics,
    TrackResult,
    tracking_scope,
)
from aicostmanager.models import CostEventFilters, CustomerIn, CustomerOut


async def async_usage() -> None:
    async with AsyncTracker(
        delivery_type=DeliveryType.PERSISTENT_QUEUE,
        customer_key="acme",
        queue_full_policy=QueueFullPolicy.DROP_OLDEST.value,
        timeout=5.0,
    ) as tracker:
        result = await tracker.track("openai::gpt-5-mini", {"input_tokens": 1}, context={"a": 1})
        assert_type(result, TrackResult)
        assert_type(tracker.track_nowait("openai::gpt-5-mini", {"input_tokens": 1}), str)
        assert_type(await tracker.track_batch([]), list[TrackResult])
        assert_type(await tracker.flush(timeout=5), bool)
        assert_type(tracker.statistics(), TrackerStatistics)
        with tracker.scope(customer_key="globex"), tracking_scope(context={"route": "/x"}):
            tracker.check_limits("openai::gpt-5-mini")
        await tracker.aclose(timeout=2)

    async with AsyncCostManagerClient() as client:
        customer = await client.create_customer(CustomerIn(customer_key="acme", name="Acme"))
        assert_type(customer, CustomerOut)
        async for event in client.iter_cost_events(CostEventFilters(customer_key=["acme"])):
            assert_type(event.cost, Decimal)

    async with AsyncQueueManager("queue.db") as manager:
        assert_type((await manager.stats()).pending, int)


def sync_usage() -> None:
    with Tracker() as tracker:
        assert_type(tracker.track("openai::gpt-5-mini", {"input_tokens": 1}), TrackResult)
        assert_type(tracker.flush(timeout=1), bool)
    with CostManagerClient(headers={"X-Team": "a"}) as client:
        assert_type(client.api_root, str)


def wrapper_usage(tracker: Tracker, atracker: AsyncTracker) -> None:
    from openai import AsyncOpenAI, OpenAI
    from openai.types.chat import ChatCompletion

    from aicostmanager import (
        OpenAIChatWrapper,
        ServiceWrapper,
        WrapperStatistics,
        wrapper_statistics,
    )

    client = OpenAIChatWrapper(OpenAI(), tracker=tracker, vendor="openai")
    assert_type(client, OpenAI)
    reply = client.chat.completions.create(model="gpt-5-mini", messages=[])
    assert_type(reply, ChatCompletion)
    assert_type(OpenAIChatWrapper(AsyncOpenAI(), tracker=atracker), AsyncOpenAI)
    assert_type(ServiceWrapper(OpenAI(), service_key="openai::gpt-5-mini"), OpenAI)
    assert_type(wrapper_statistics(), WrapperStatistics)
