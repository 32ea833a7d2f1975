"""BedrockWrapper against the fake Bedrock runtime: one priced event per billed call.

A real ``boto3`` ``bedrock-runtime`` client (sync only, as boto3 is) goes through the wrapper
to the fake provider server, which answers in JSON and in the AWS binary event stream; a real
tracker delivers to the local ``aicostmanager serve``; the test reads back what was stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import boto3
import botocore.exceptions
import pytest
from botocore.config import Config
from botocore.eventstream import EventStream
from botocore.response import StreamingBody

from aicostmanager import AsyncTracker, BedrockWrapper, Tracker, tracking_scope

from .conftest import Stored, read_stored, read_stored_sync
from .fake_bedrock import INPUT_TOKENS, OUTPUT_TOKENS
from .fake_provider import FakeProvider

NOVA = "amazon.nova-lite-v1:0"
FAMILIES = [
    "anthropic.claude-3-haiku-20240307-v1:0",
    NOVA,
    "meta.llama3-8b-instruct-v1:0",
    "amazon.titan-text-express-v1",
]
MESSAGES = [{"role": "user", "content": [{"text": "What is the answer?"}]}]
FULL = {"inputTokens": INPUT_TOKENS, "outputTokens": OUTPUT_TOKENS}

Outcome = tuple[str, dict[str, int], str]


@pytest.fixture
def bedrock(fake_provider: FakeProvider) -> Iterator[Any]:
    """A boto3 bedrock-runtime client on the fake server (no retries: errors surface at once)."""
    client = boto3.client(
        "bedrock-runtime",
        endpoint_url=fake_provider.url,
        region_name="us-east-1",
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="secret-test",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )
    try:
        yield client
    finally:
        client.close()


def _rid(response: dict[str, Any]) -> str:
    rid: str = response["ResponseMetadata"]["RequestId"]
    return rid


def converse(client: Any) -> Outcome:
    """converse: usage and the AWS request id."""
    response = client.converse(modelId=NOVA, messages=MESSAGES)
    assert response["output"]["message"]["content"][0]["text"].startswith("w0 ")
    return _rid(response), {**FULL, "totalTokens": INPUT_TOKENS + OUTPUT_TOKENS}, NOVA


def converse_arn(client: Any) -> Outcome:
    """converse with an inference-profile ARN: billed under the profile's model id."""
    arn = f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.{NOVA}"
    response = client.converse(modelId=arn, messages=MESSAGES)
    return _rid(response), FULL, f"us.{NOVA}"


def converse_stream(client: Any) -> Outcome:
    """converse_stream consumed: the metadata event's usage."""
    response = client.converse_stream(modelId=NOVA, messages=MESSAGES)
    assert isinstance(response["stream"], EventStream)
    kinds = [next(iter(event)) for event in response["stream"]]
    assert kinds[0] == "messageStart" and kinds[-1] == "metadata"
    return _rid(response), FULL, NOVA


def converse_stream_broken(client: Any) -> Outcome:
    """converse_stream closed after the first delta: the deltas seen are the output."""
    response = client.converse_stream(modelId=NOVA, messages=MESSAGES)
    stream = response["stream"]
    for event in stream:
        if "contentBlockDelta" in event:
            break
    stream.close()
    return _rid(response), {"aicm_estimated": ["outputTokens", "inputTokens"]}, NOVA


def _invoke(model_id: str) -> Callable[[Any], Outcome]:
    def invoke_model(client: Any) -> Outcome:
        """invoke_model: usage from the family's body; the caller still reads the body."""
        response = client.invoke_model(modelId=model_id, body=json.dumps({"prompt": "hi"}))
        assert isinstance(response["body"], StreamingBody)
        body = json.loads(response["body"].read())
        assert body
        return _rid(response), FULL, model_id

    invoke_model.__name__ = f"invoke_model-{model_id}"
    return invoke_model


def _invoke_stream(model_id: str) -> Callable[[Any], Outcome]:
    def invoke_stream(client: Any) -> Outcome:
        """invoke_model_with_response_stream consumed; the caller decodes every chunk."""
        response = client.invoke_model_with_response_stream(
            modelId=model_id, body=json.dumps({"prompt": "hi"})
        )
        chunks = [json.loads(event["chunk"]["bytes"]) for event in response["body"]]
        assert "amazon-bedrock-invocationMetrics" in chunks[-1]
        return _rid(response), FULL, model_id

    invoke_stream.__name__ = f"invoke_stream-{model_id}"
    return invoke_stream


def invoke_stream_broken(client: Any) -> Outcome:
    """An Anthropic invoke stream closed after message_start: its input count is kept."""
    model_id = FAMILIES[0]
    response = client.invoke_model_with_response_stream(
        modelId=model_id, body=json.dumps({"prompt": "hi"})
    )
    body = response["body"]
    for event in body:
        if json.loads(event["chunk"]["bytes"])["type"] == "content_block_delta":
            break
    body.close()
    return _rid(response), {"inputTokens": INPUT_TOKENS, "outputTokens": 1}, model_id


SCENARIOS = [
    converse,
    converse_arn,
    converse_stream,
    converse_stream_broken,
    *[_invoke(m) for m in FAMILIES],
    *[_invoke_stream(m) for m in FAMILIES],
    invoke_stream_broken,
]


def _check(stored: list[Stored], outcome: Outcome, customer: str) -> None:
    rid, usage, model_id = outcome
    assert len(stored) == 1, stored
    event = stored[0]
    assert event.response_id == rid
    assert event.service_key == f"amazon-bedrock::{model_id}"
    assert event.customer_key == customer
    assert {k: event.usage.get(k) for k in usage} == usage
    assert event.cost > 0


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.__name__ for s in SCENARIOS])
def test_call_records_one_priced_event(
    bedrock: Any, tracker_options: dict[str, Any], scenario: Callable[[Any], Outcome]
) -> None:
    """A Bedrock runtime call through the wrapper stores exactly one priced event."""
    with Tracker(**tracker_options) as tracker:
        client = BedrockWrapper(bedrock, tracker=tracker)
        with tracking_scope(customer_key="acme-bedrock"):
            outcome = scenario(client)
        assert tracker.flush(30)
    _check(read_stored_sync(tracker_options), outcome, "acme-bedrock")


async def test_async_app_calls_bedrock_in_a_worker_thread(
    bedrock: Any, tracker_options: dict[str, Any]
) -> None:
    """From async code, boto3 runs in a worker thread with an AsyncTracker: one priced event."""
    async with AsyncTracker(**tracker_options) as tracker:
        client = BedrockWrapper(bedrock, tracker=tracker)
        with tracking_scope(customer_key="acme-thread"):
            outcome = await anyio.to_thread.run_sync(converse_stream, client)
        with anyio.fail_after(30):
            assert await tracker.flush()
    _check(await read_stored(tracker_options), outcome, "acme-thread")


def test_provider_error_passes_through_untracked(
    bedrock: Any, tracker_options: dict[str, Any]
) -> None:
    """A ThrottlingException reaches the caller as boto3's own error; nothing is recorded."""
    with Tracker(**tracker_options) as tracker:
        client = BedrockWrapper(bedrock, tracker=tracker)
        with pytest.raises(bedrock.exceptions.ThrottlingException) as caught:
            client.converse(modelId="throttle-me", messages=MESSAGES)
        assert isinstance(caught.value, botocore.exceptions.ClientError)
        with pytest.raises(bedrock.exceptions.ValidationException):
            client.invoke_model_with_response_stream(modelId="bad-request", body=b"{}")
        assert tracker.flush(30)
    assert read_stored_sync(tracker_options) == []


def test_stream_failing_mid_way_records_what_was_seen(
    bedrock: Any, tracker_options: dict[str, Any]
) -> None:
    """A model error event mid-stream raises boto3's error; one event counts the deltas seen."""

    def fail_after_two(request: Any, **kwargs: Any) -> None:
        request.headers["x-fake-fail-after"] = "2"

    bedrock.meta.events.register("before-sign.bedrock-runtime.ConverseStream", fail_after_two)
    with Tracker(**tracker_options) as tracker:
        client = BedrockWrapper(bedrock, tracker=tracker)
        with tracking_scope(customer_key="broken"):
            response = client.converse_stream(modelId=NOVA, messages=MESSAGES)
            seen = []
            with pytest.raises(botocore.exceptions.EventStreamError, match="mid-stream"):
                for event in response["stream"]:
                    seen.append(event)  # noqa: PERF402 - keep what came before the error
            response["stream"].close()  # after the error: still one event
        assert tracker.flush(30)
    assert [next(iter(e)) for e in seen] == [
        "messageStart",
        "contentBlockDelta",
        "contentBlockDelta",
    ]
    outcome = (_rid(response), {"aicm_estimated": ["outputTokens", "inputTokens"]}, NOVA)
    _check(read_stored_sync(tracker_options), outcome, "broken")


def test_wrapper_keeps_client_type_and_passes_other_calls(
    bedrock: Any, tracker_options: dict[str, Any]
) -> None:
    """The wrapper passes isinstance checks, leaves other attributes alone, rejects non-Bedrock."""
    with Tracker(**tracker_options) as tracker:
        client = BedrockWrapper(bedrock, tracker=tracker)
        assert isinstance(client, type(bedrock))
        assert client.aicm_vendor == "amazon-bedrock"
        assert client.meta.region_name == "us-east-1"
        assert client.can_paginate("converse") is False
        with pytest.raises(TypeError, match="bedrock-runtime"):
            BedrockWrapper(object(), tracker=tracker)
