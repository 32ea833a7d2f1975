"""Record validation at the call site, identity, timestamps, scopes and anonymization."""

from __future__ import annotations

import json
import math
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from aicostmanager import (
    AsyncTracker,
    BatchSizeLimitExceeded,
    InvalidRecordError,
    tracking_scope,
)

GOOD_KEY = "openai::gpt-5-mini"
GOOD_USAGE = {"input_tokens": 10, "output_tokens": 20}

_deep: dict[str, Any] = {"n": 1}
for _ in range(20):
    _deep = {"n": _deep}

# (case id, service_key, usage, extra keyword arguments, field named by the error)
BAD_INPUTS: list[tuple[str, Any, Any, dict[str, Any], str]] = [
    ("key-none", None, GOOD_USAGE, {}, "service_key"),
    ("key-int", 123, GOOD_USAGE, {}, "service_key"),
    ("key-empty", "", GOOD_USAGE, {}, "service_key"),
    ("key-no-separator", "openai", GOOD_USAGE, {}, "service_key"),
    ("key-single-colon", "openai:gpt-4o", GOOD_USAGE, {}, "service_key"),
    ("key-no-vendor", "::gpt-4o", GOOD_USAGE, {}, "service_key"),
    ("key-no-service", "openai::", GOOD_USAGE, {}, "service_key"),
    ("key-upper-vendor", "OpenAI::gpt-4o", GOOD_USAGE, {}, "service_key"),
    ("key-space-vendor", "open ai::gpt-4o", GOOD_USAGE, {}, "service_key"),
    ("key-space-service", "openai::gpt 4o", GOOD_USAGE, {}, "service_key"),
    ("key-newline", "openai::gpt-4o\n", GOOD_USAGE, {}, "service_key"),
    ("key-long-vendor", "a" * 70 + "::x", GOOD_USAGE, {}, "service_key"),
    ("usage-none", GOOD_KEY, None, {}, "usage"),
    ("usage-list", GOOD_KEY, [1, 2], {}, "usage"),
    ("usage-str", GOOD_KEY, "10 tokens", {}, "usage"),
    ("usage-empty", GOOD_KEY, {}, {}, "usage"),
    ("usage-negative", GOOD_KEY, {"input_tokens": -1}, {}, "usage.input_tokens"),
    ("usage-negative-float", GOOD_KEY, {"seconds": -0.5}, {}, "usage.seconds"),
    ("usage-nan", GOOD_KEY, {"input_tokens": math.nan}, {}, "usage.input_tokens"),
    ("usage-inf", GOOD_KEY, {"input_tokens": math.inf}, {}, "usage.input_tokens"),
    ("usage-int-key", GOOD_KEY, {1: 2}, {}, "usage"),
    ("usage-empty-key", GOOD_KEY, {"": 1}, {}, "usage"),
    ("usage-object", GOOD_KEY, {"x": object()}, {}, "usage.x"),
    ("usage-bytes", GOOD_KEY, {"x": b"raw"}, {}, "usage.x"),
    ("usage-set", GOOD_KEY, {"x": {1, 2}}, {}, "usage.x"),
    ("usage-nested-negative", GOOD_KEY, {"d": {"cached": -3}}, {}, "usage.d.cached"),
    ("usage-list-nan", GOOD_KEY, {"d": [1, math.nan]}, {}, "usage.d[1]"),
    ("usage-too-deep", GOOD_KEY, _deep, {}, "usage"),
    ("usage-long-string", GOOD_KEY, {"note": "x" * 20_000}, {}, "usage.note"),
    ("usage-oversize", GOOD_KEY, {f"f{i}": "y" * 15_000 for i in range(6)}, {}, "usage"),
    ("rid-empty", GOOD_KEY, GOOD_USAGE, {"response_id": ""}, "response_id"),
    ("rid-int", GOOD_KEY, GOOD_USAGE, {"response_id": 42}, "response_id"),
    ("rid-control", GOOD_KEY, GOOD_USAGE, {"response_id": "a\nb"}, "response_id"),
    ("rid-long", GOOD_KEY, GOOD_USAGE, {"response_id": "r" * 300}, "response_id"),
    ("ts-text", GOOD_KEY, GOOD_USAGE, {"timestamp": "yesterday"}, "timestamp"),
    ("ts-bool", GOOD_KEY, GOOD_USAGE, {"timestamp": True}, "timestamp"),
    ("ts-negative", GOOD_KEY, GOOD_USAGE, {"timestamp": -5}, "timestamp"),
    ("ts-nan", GOOD_KEY, GOOD_USAGE, {"timestamp": math.nan}, "timestamp"),
    ("ts-list", GOOD_KEY, GOOD_USAGE, {"timestamp": []}, "timestamp"),
    ("ts-future", GOOD_KEY, GOOD_USAGE, {"timestamp": time.time() + 10 * 86400}, "timestamp"),
    ("customer-empty", GOOD_KEY, GOOD_USAGE, {"customer_key": ""}, "customer_key"),
    ("customer-int", GOOD_KEY, GOOD_USAGE, {"customer_key": 5}, "customer_key"),
    ("context-str", GOOD_KEY, GOOD_USAGE, {"context": "prod"}, "context"),
    ("context-nan", GOOD_KEY, GOOD_USAGE, {"context": {"k": math.nan}}, "context.k"),
    ("context-int-key", GOOD_KEY, GOOD_USAGE, {"context": {1: "x"}}, "context"),
]


@pytest.mark.parametrize("method", ["track", "track_nowait"])
@pytest.mark.parametrize(
    ("service_key", "usage", "kwargs", "field"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_INPUTS],
)
async def test_bad_input_raises_typed_error_and_enqueues_nothing(
    tracker_options: dict[str, Any],
    method: str,
    service_key: Any,
    usage: Any,
    kwargs: dict[str, Any],
    field: str,
) -> None:
    """Each bad input raises InvalidRecordError naming its field; nothing reaches the queue."""
    async with AsyncTracker(**tracker_options) as tracker:
        with pytest.raises(InvalidRecordError) as caught:
            result = getattr(tracker, method)(service_key, usage, **kwargs)
            if method == "track":
                await result
        assert caught.value.field.startswith(field), caught.value.field
        assert isinstance(caught.value, ValueError)
        assert await tracker.flush(timeout=5)
        stats = tracker.statistics()
        assert (stats.enqueued, stats.buffered, stats.pending) == (0, 0, 0)


def test_at_least_thirty_bad_inputs() -> None:
    """The table covers at least 30 distinct bad inputs."""
    assert len({case[0] for case in BAD_INPUTS}) >= 30


async def test_track_batch_is_all_or_nothing(tracker_options: dict[str, Any]) -> None:
    """One bad record in a batch rejects the whole batch; over 1000 records is a typed error."""
    good = {"service_key": GOOD_KEY, "usage": GOOD_USAGE}
    async with AsyncTracker(**tracker_options) as tracker:
        with pytest.raises(InvalidRecordError) as caught:
            await tracker.track_batch([good, good, {"service_key": GOOD_KEY}])
        assert caught.value.field == "records[2].usage"
        with pytest.raises(InvalidRecordError, match="unknown field"):
            await tracker.track_batch([{**good, "tokens": 3}])
        with pytest.raises(InvalidRecordError):
            await tracker.track_batch([good, {**good, "usage": {"x": -1}}])
        with pytest.raises(BatchSizeLimitExceeded) as too_many:
            await tracker.track_batch([good] * 1001)
        assert (too_many.value.batch_size, too_many.value.max_batch_size) == (1001, 1000)
        assert await tracker.track_batch([]) == []
        assert tracker.statistics().enqueued == 0
        results = await tracker.track_batch([good] * 3)
        assert [r.status for r in results] == ["queued"] * 3
        assert len({r.response_id for r in results}) == 3


def build(
    tracker: AsyncTracker, service_key: Any, usage: Any, **args: Any
) -> tuple[str, bytes, str | None]:
    """Validate and encode a record as ``track()`` would, without tracking it."""
    return tracker._core.build(service_key, usage, args)


def _decode(body: bytes) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(body)
    return value


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        (datetime(2025, 1, 15, 10, 30, tzinfo=timezone.utc), 1736937000.0),
        ("2025-01-15T10:30:00Z", 1736937000.0),
        ("2025-01-15T11:30:00+01:00", 1736937000.0),
        (1736937000, 1736937000.0),
        (1736937000.25, 1736937000.25),
        ("1736937000.25", 1736937000.25),
    ],
)
async def test_timestamps_are_sent_as_epoch_seconds(
    tracker_options: dict[str, Any], timestamp: Any, expected: float
) -> None:
    """datetime, ISO 8601 (with Z or an offset) and epoch seconds all become epoch text."""
    async with AsyncTracker(**tracker_options) as tracker:
        _, body, _ = build(tracker, GOOD_KEY, GOOD_USAGE, timestamp=timestamp)
    assert float(_decode(body)["timestamp"]) == expected


async def test_naive_datetime_is_local_time(tracker_options: dict[str, Any]) -> None:
    """A naive datetime is taken as local time, as Python does."""
    naive = datetime.now() - timedelta(minutes=5)
    async with AsyncTracker(**tracker_options) as tracker:
        _, body, _ = build(tracker, GOOD_KEY, GOOD_USAGE, timestamp=naive)
    assert float(_decode(body)["timestamp"]) == pytest.approx(naive.timestamp(), abs=1e-6)


async def test_response_id_is_fixed_before_sending(tracker_options: dict[str, Any]) -> None:
    """Ids are generated once per record (32 hex digits) or taken from the caller unchanged."""
    async with AsyncTracker(**tracker_options) as tracker:
        rid, body, _ = build(tracker, GOOD_KEY, GOOD_USAGE)
        assert len(rid) == 32 and int(rid, 16) >= 0
        assert _decode(body)["response_id"] == rid
        given, body2, _ = build(tracker, GOOD_KEY, GOOD_USAGE, response_id="resp-1")
        assert given == "resp-1" and _decode(body2)["response_id"] == "resp-1"
        assert len({build(tracker, GOOD_KEY, GOOD_USAGE)[0] for _ in range(1000)}) == 1000


async def test_customer_and_context_precedence(tracker_options: dict[str, Any]) -> None:
    """customer_key: call > scope > tracker default; context keys merge in that order."""
    async with AsyncTracker(
        **tracker_options, customer_key="default-co", context={"env": "prod", "app": "a"}
    ) as tracker:
        _, body, customer = build(tracker, GOOD_KEY, GOOD_USAGE)
        record = _decode(body)
        assert customer == record["customer_key"] == "default-co"
        assert record["context"] == {"env": "prod", "app": "a"}
        with tracker.scope(customer_key="scoped-co", context={"env": "staging"}):
            record = _decode(build(tracker, GOOD_KEY, GOOD_USAGE)[1])
            assert record["customer_key"] == "scoped-co"
            assert record["context"] == {"env": "staging", "app": "a"}
            record = _decode(
                build(tracker, GOOD_KEY, GOOD_USAGE, customer_key="call-co", context={"x": 1})[1]
            )
            assert record["customer_key"] == "call-co"
            assert record["context"] == {"env": "staging", "app": "a", "x": 1}
        record = _decode(build(tracker, GOOD_KEY, GOOD_USAGE)[1])
        assert record["customer_key"] == "default-co"


async def test_no_customer_means_no_field(tracker_options: dict[str, Any]) -> None:
    """Without any customer or context the wire record omits both (never null)."""
    async with AsyncTracker(**tracker_options) as tracker:
        record = _decode(build(tracker, GOOD_KEY, GOOD_USAGE)[1])
    assert "customer_key" not in record and "context" not in record


async def test_concurrent_scopes_never_leak(tracker_options: dict[str, Any]) -> None:
    """Concurrent tasks, each in its own scope, only ever record their own customer."""
    seen: dict[str, set[str]] = {}
    async with AsyncTracker(**tracker_options) as tracker:

        async def request(customer: str) -> None:
            with tracking_scope(customer_key=customer):
                for _ in range(20):
                    await anyio.lowlevel.checkpoint()
                    record = _decode(build(tracker, GOOD_KEY, GOOD_USAGE)[1])
                    seen.setdefault(customer, set()).add(record["customer_key"])

        async with anyio.create_task_group() as group:
            for index in range(20):
                group.start_soon(request, f"customer-{index}")
    assert seen == {f"customer-{i}": {f"customer-{i}"} for i in range(20)}


async def test_anonymization_at_any_depth(tracker_options: dict[str, Any]) -> None:
    """Named usage fields are anonymized at any depth; a failing anonymizer redacts anyway."""
    usage = {"input_tokens": 3, "prompt": "secret", "meta": {"prompt": "deep", "user": "bob"}}
    async with AsyncTracker(**tracker_options, anonymize_fields=["prompt"]) as tracker:
        payload = _decode(build(tracker, GOOD_KEY, usage)[1])["payload"]
        assert payload == {
            "input_tokens": 3,
            "prompt": "[REDACTED]",
            "meta": {"prompt": "[REDACTED]", "user": "bob"},
        }
        payload = _decode(build(tracker, GOOD_KEY, usage, anonymize_fields=["user"])[1])["payload"]
        assert payload["meta"] == {"prompt": "[REDACTED]", "user": "[REDACTED]"}

        def broken(value: Any) -> Any:
            raise RuntimeError("boom")

        payload = _decode(build(tracker, GOOD_KEY, usage, anonymizer=broken)[1])["payload"]
        assert payload["prompt"] == "[REDACTED]"
        payload = _decode(build(tracker, GOOD_KEY, usage, anonymizer=str.upper)[1])["payload"]
        assert payload["prompt"] == "SECRET"


async def test_pydantic_usage_objects_are_accepted(tracker_options: dict[str, Any]) -> None:
    """A provider SDK's pydantic usage object is dumped to its JSON fields."""
    from pydantic import BaseModel

    class Usage(BaseModel):
        input_tokens: int
        output_tokens: int
        cached: int | None = None

    async with AsyncTracker(**tracker_options) as tracker:
        payload = _decode(build(tracker, GOOD_KEY, Usage(input_tokens=1, output_tokens=2))[1])
    assert payload["payload"] == {"input_tokens": 1, "output_tokens": 2}


def test_invalid_record_error_is_a_value_error(tmp_path: Path) -> None:
    """InvalidRecordError subclasses ValueError so generic handlers still catch misuse."""
    assert issubclass(InvalidRecordError, ValueError)
    assert issubclass(BatchSizeLimitExceeded, InvalidRecordError)


def test_generated_response_ids_are_unique_time_ordered_uuid7s() -> None:
    """Generated ids are 32-hex UUIDv7s: unique, and an id made a millisecond later sorts later."""
    import uuid

    from aicostmanager._record import new_response_id

    first = [new_response_id() for _ in range(20_000)]
    assert len(set(first)) == len(first)
    for rid in first[:100]:
        parsed = uuid.UUID(hex=rid)
        assert len(rid) == 32 and parsed.hex == rid
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    start = time.monotonic()
    while time.monotonic() - start < 0.002:  # let the millisecond field move on
        pass
    later = new_response_id()
    assert later > max(first)
    stamped_ms = int(later[:12], 16)
    assert abs(stamped_ms - time.time() * 1000) < 60_000


def test_queued_result_is_the_same_as_the_constructed_one() -> None:
    """The hot path's ``queued`` result equals, hashes, prints, copies and pickles like
    ``TrackResult(rid, "queued")``, and stays frozen."""
    import copy
    import dataclasses
    import pickle

    from aicostmanager import TrackResult
    from aicostmanager._types import queued_result

    fast, built = queued_result("rid-1"), TrackResult("rid-1", "queued")
    assert fast == built and hash(fast) == hash(built) and repr(fast) == repr(built)
    assert dataclasses.asdict(fast) == dataclasses.asdict(built)
    assert pickle.loads(pickle.dumps(fast)) == built and copy.copy(fast) == built
    assert dataclasses.replace(fast, status="error") == TrackResult("rid-1", "error")
    assert fast.ok and fast.errors == () and fast.triggered_limits is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.status = "error"  # type: ignore[misc]
