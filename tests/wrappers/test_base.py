"""The shared wrapper machinery on a plain Python client: one table, real tracker and server."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest

from aicostmanager import AsyncTracker, tracking_scope, wrapper_statistics
from aicostmanager._usage import Observed
from aicostmanager.wrappers._base import ClientProxy, Endpoint, ProviderSpec
from aicostmanager.wrappers._recorder import Recorder

from .conftest import read_stored


class Reply:
    """A response with usage."""

    def __init__(self, rid: str) -> None:
        self.id = rid
        self.usage = {"input_tokens": 10, "output_tokens": 5}


class Events:
    """An SDK-like sync stream: iterator, context manager, close()."""

    def __init__(self, rid: str, count: int) -> None:
        self.rid, self.count, self.closed = rid, count, False
        self.response = "the raw HTTP response"

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for index in range(self.count):
            yield {"id": self.rid, "n": index}

    def __enter__(self) -> Events:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.closed = True


class AsyncEvents:
    """An SDK-like async stream."""

    def __init__(self, rid: str, count: int) -> None:
        self.rid, self.count = rid, count

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        for index in range(self.count):
            yield {"id": self.rid, "n": index}

    async def close(self) -> None:
        pass


class Messages:
    """The inference namespace."""

    def create(self, *, model: str, stream: bool = False, count: int = 3) -> Any:
        return Events("s-" + model, count) if stream else Reply("r-" + model)

    async def acreate(self, *, model: str, count: int = 3) -> AsyncEvents:
        return AsyncEvents("a-" + model, count)

    def count_tokens(self, *, model: str) -> Reply:
        return Reply("free")


class Client:
    """A client with one tracked namespace and other attributes."""

    def __init__(self) -> None:
        self.messages = Messages()
        self.settings = {"region": "eu"}


class Counter:
    """Accumulator: counts events; raises on an event with n == fail_at."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.rid: str | None = None
        self.seen = 0
        self.fail_at = fail_at

    def feed(self, event: Any) -> bool:
        if event["n"] == self.fail_at:
            raise ValueError("cannot read this event")
        self.rid = event["id"]
        self.seen += 1
        return False

    def result(self, source: Any) -> Observed | None:
        return Observed({"output_tokens": self.seen, "input_tokens": 1}, self.rid)


def _spec(fail_at: int | None = None) -> ProviderSpec:
    def usage(reply: Any) -> Observed:
        return Observed(dict(reply.usage), reply.id)

    return ProviderSpec(
        name="test",
        endpoints={
            ("messages", "create"): Endpoint(extract=usage, stream=lambda h: Counter(fail_at)),
            ("messages", "acreate"): Endpoint(kind="stream", stream=lambda h: Counter(fail_at)),
        },
    )


def _usage_of(stored: list[Any]) -> dict[str, dict[str, Any]]:
    return {event.response_id: event.usage for event in stored}


async def test_table_calls_are_tracked_and_the_rest_passes_through(
    tracker_options: dict[str, Any],
) -> None:
    """Table methods record one event each; other attributes are the client's own objects."""
    raw = Client()
    async with AsyncTracker(**tracker_options) as tracker:
        client: Any = ClientProxy(raw, _spec(), Recorder(tracker, "openai"))
        assert isinstance(client, Client) and isinstance(client.messages, Messages)
        assert client.settings is raw.settings
        with tracking_scope(customer_key="c1"):
            reply = client.messages.create(model="gpt-4o-mini")
            assert isinstance(reply, Reply)
            client.messages.count_tokens(model="gpt-4o-mini")  # not in the table
            with client.messages.create(model="gpt-4o-mini", stream=True, count=4) as stream:
                assert isinstance(stream, Events)
                assert stream.response == "the raw HTTP response"
                for _ in stream:
                    break
            assert stream.closed
        with anyio.fail_after(30):
            assert await tracker.flush()
    usage = _usage_of(await read_stored(tracker_options))
    assert usage == {
        "r-gpt-4o-mini": {"input_tokens": 10, "output_tokens": 5},
        "s-gpt-4o-mini": {"output_tokens": 1, "input_tokens": 1},
    }


async def test_a_failing_accumulator_never_stops_the_stream(
    tracker_options: dict[str, Any],
) -> None:
    """An event the accumulator cannot read is counted; the caller still gets every event."""
    before = wrapper_statistics().extraction_errors
    async with AsyncTracker(**tracker_options) as tracker:
        client: Any = ClientProxy(Client(), _spec(fail_at=2), Recorder(tracker, "openai"))
        events = list(client.messages.create(model="gpt-4o-mini", stream=True, count=5))
        assert [event["n"] for event in events] == [0, 1, 2, 3, 4]
        with anyio.fail_after(30):
            assert await tracker.flush()
    assert wrapper_statistics().extraction_errors == before + 1
    (event,) = await read_stored(tracker_options)
    assert event.usage == {"output_tokens": 2, "input_tokens": 1}  # what it had read


async def test_abandoned_async_stream_records_on_collection(
    tracker_options: dict[str, Any],
) -> None:
    """An async stream dropped after a break (never closed) records once when collected."""
    async with AsyncTracker(**tracker_options) as tracker:
        client: Any = ClientProxy(Client(), _spec(), Recorder(tracker, "openai"))
        with tracking_scope(customer_key="gone"):
            stream = await client.messages.acreate(model="gpt-4o-mini", count=9)
            async for _ in stream:
                break
        del stream
        gc.collect()
        with anyio.fail_after(30):
            assert await tracker.flush()
    (event,) = await read_stored(tracker_options)
    assert (event.customer_key, event.usage["output_tokens"]) == ("gone", 1)


def test_bad_tracker_is_refused() -> None:
    """Something that is not a tracker is refused when the wrapper is created."""
    with pytest.raises(TypeError, match="AsyncTracker or a Tracker"):
        Recorder(object(), "openai")  # type: ignore[arg-type]
