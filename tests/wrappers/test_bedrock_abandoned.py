"""A Bedrock stream abandoned before its first text still stores its billed prompt.

``converse_stream`` and ``invoke_model_with_response_stream`` are billed for the prompt once
the stream is opened: closing it before any text (or after only ``messageStart``) stores one
event, with the request id, the input estimated from the request and marked estimated.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from aicostmanager import BedrockWrapper, Tracker
from aicostmanager._usage.bedrock import (
    converse_request_input_tokens,
    invoke_request_input_tokens,
)

from .conftest import read_stored_sync
from .test_bedrock_wrapper import MESSAGES, NOVA, _rid, bedrock  # noqa: F401 - fixture

CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
CLAUDE_BODY = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64, "messages": MESSAGES}


def converse_closed_at_once(client: Any, model: str) -> dict[str, Any]:
    """converse_stream closed before any event was read."""
    response: dict[str, Any] = client.converse_stream(modelId=model, messages=MESSAGES)
    response["stream"].close()
    return response


def converse_after_start(client: Any, model: str) -> dict[str, Any]:
    """converse_stream closed after its messageStart event (no text yet)."""
    response: dict[str, Any] = client.converse_stream(modelId=model, messages=MESSAGES)
    for event in response["stream"]:
        assert "messageStart" in event
        break
    response["stream"].close()
    return response


def invoke_closed_at_once(client: Any, model: str) -> dict[str, Any]:
    """invoke_model_with_response_stream closed before any chunk was read."""
    body = json.dumps(CLAUDE_BODY) if model == CLAUDE else json.dumps({"messages": MESSAGES})
    response: dict[str, Any] = client.invoke_model_with_response_stream(modelId=model, body=body)
    response["body"].close()
    return response


SCENARIOS = [converse_closed_at_once, converse_after_start, invoke_closed_at_once]


@pytest.mark.parametrize("model", [NOVA, CLAUDE])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.__name__ for s in SCENARIOS])
def test_stream_closed_before_text_stores_the_estimated_prompt(
    bedrock: Any,  # noqa: F811 - the fixture
    tracker_options: dict[str, Any],
    scenario: Callable[[Any, str], dict[str, Any]],
    model: str,
) -> None:
    """One event, the request id, an estimated input above zero, marked aicm_estimated."""
    with Tracker(**tracker_options) as tracker:
        response = scenario(BedrockWrapper(bedrock, tracker=tracker), model)
        assert tracker.flush(30)
    stored = read_stored_sync(tracker_options)
    assert len(stored) == 1, stored
    event = stored[0]
    assert event.response_id == _rid(response)
    assert event.usage["inputTokens"] > 0
    assert "inputTokens" in event.usage["aicm_estimated"]
    assert event.service_key == f"amazon-bedrock::{model}"


def test_estimates_follow_the_model_family() -> None:
    """Nova bills the texts alone; Claude adds framing, and more with thinking on."""
    request: dict[str, Any] = {"messages": MESSAGES, "system": [{"text": "Be brief."}]}
    nova = converse_request_input_tokens({**request, "modelId": NOVA})
    claude = converse_request_input_tokens({**request, "modelId": CLAUDE})
    thinking = converse_request_input_tokens(
        {
            **request,
            "modelId": CLAUDE,
            "additionalModelRequestFields": {"thinking": {"type": "enabled"}},
        }
    )
    assert 0 < nova < claude < thinking
    body = json.dumps({**CLAUDE_BODY, "thinking": {"type": "enabled", "budget_tokens": 1024}})
    plain_body = json.dumps(CLAUDE_BODY)
    invoked = invoke_request_input_tokens({"modelId": CLAUDE, "body": body.encode()})
    assert invoked > invoke_request_input_tokens({"modelId": CLAUDE, "body": plain_body}) > 0
    titan = invoke_request_input_tokens({"modelId": "amazon.titan", "body": '{"inputText": "hi"}'})
    assert titan > invoke_request_input_tokens({"modelId": "amazon.titan", "body": "{}"})
    assert invoke_request_input_tokens({"modelId": NOVA, "body": b"not json"}) > 0
