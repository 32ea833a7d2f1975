"""OpenAI usage extraction on recorded API bodies (plain JSON, no SDK involved)."""

from __future__ import annotations

from typing import Any

import pytest

from aicostmanager._usage import plain
from aicostmanager._usage.generic import GenericStreamAccumulator, generic_usage, response_id_of
from aicostmanager._usage.openai import (
    ChatStreamAccumulator,
    ChatStreamHelperAccumulator,
    ResponsesStreamAccumulator,
    chat_usage,
    embeddings_usage,
    responses_usage,
)

CHAT: dict[str, Any] = {
    "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
    "object": "chat.completion",
    "created": 1741570283,
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hi", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 1117,
        "completion_tokens": 46,
        "total_tokens": 1163,
        "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": None,
        },
    },
    "service_tier": "default",
    "system_fingerprint": "fp_fc9f1d7035",
}

RESPONSE: dict[str, Any] = {
    "id": "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
    "object": "response",
    "created_at": 1741476542,
    "status": "completed",
    "model": "gpt-4.1-2025-04-14",
    "output": [],
    "usage": {
        "input_tokens": 36,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 87,
        "output_tokens_details": {"reasoning_tokens": 64},
        "total_tokens": 123,
    },
}


def _chunk(content: str | None, usage: Any = None, choices: bool = True) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stream",
        "object": "chat.completion.chunk",
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}]
        if choices
        else [],
        "usage": usage,
    }


def test_chat_usage_is_the_usage_object_as_sent() -> None:
    """Chat usage keeps OpenAI's field names and nested details; None values are dropped."""
    observed = chat_usage(CHAT)
    assert observed is not None
    assert observed.response_id == CHAT["id"]
    assert observed.model == "gpt-4o-2024-08-06"
    assert observed.usage == {
        "prompt_tokens": 1117,
        "completion_tokens": 46,
        "total_tokens": 1163,
        "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
        },
        "service_tier": "default",
    }


def test_responses_and_embeddings_usage() -> None:
    """Responses usage (input/output tokens and details) and embeddings usage are kept as is."""
    observed = responses_usage(RESPONSE)
    assert observed is not None and observed.usage == RESPONSE["usage"]
    embedded = embeddings_usage(
        {"object": "list", "data": [], "usage": {"prompt_tokens": 8, "total_tokens": 8}}
    )
    assert embedded is not None
    assert embedded.usage == {"prompt_tokens": 8, "total_tokens": 8}
    assert embedded.response_id is None


def test_no_usage_means_nothing_to_record() -> None:
    """A response without usage yields None (nothing is tracked, nothing invented)."""
    assert chat_usage({"id": "x", "choices": []}) is None
    assert chat_usage({"id": "x", "usage": None}) is None


@pytest.mark.parametrize("hide", [True, False])
def test_chat_stream_takes_usage_from_the_last_chunk(hide: bool) -> None:
    """The usage-only chunk carries the counts; it is hidden only when the wrapper added it."""
    acc = ChatStreamAccumulator(hide_usage_chunk=hide)
    usage = {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}
    chunks = [_chunk("a"), _chunk("b"), _chunk("c"), _chunk(None, usage, choices=False)]
    hidden = [acc.feed(chunk) for chunk in chunks]
    assert hidden == [False, False, False, hide]
    observed = acc.result(None)
    assert observed is not None
    assert (observed.usage, observed.response_id) == (usage, "chatcmpl-stream")


def test_abandoned_chat_stream_counts_the_chunks_seen() -> None:
    """Without the usage chunk, the output is estimated (never below one token per chunk)."""
    acc = ChatStreamAccumulator(hide_usage_chunk=True)
    for chunk in (_chunk("a"), _chunk("b")):
        assert acc.feed(chunk) is False
    observed = acc.result(None)
    assert observed is not None
    assert observed.usage == {"completion_tokens": 2, "aicm_estimated": ["completion_tokens"]}
    assert observed.estimate_input == "prompt_tokens"
    assert ChatStreamAccumulator().result(None) is None


def test_fireworks_style_usage_on_a_content_chunk_is_not_hidden() -> None:
    """A last chunk with both choices and usage reaches the caller and is counted."""
    acc = ChatStreamAccumulator(hide_usage_chunk=True)
    usage = {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}
    assert acc.feed(_chunk("x", usage)) is False
    observed = acc.result(None)
    assert observed is not None and observed.usage == usage


def test_chat_helper_reads_chunk_events_or_the_snapshot() -> None:
    """Helper events carry the raw chunk; without events the snapshot's usage is used."""
    usage = {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}
    acc = ChatStreamHelperAccumulator(hide_usage_chunk=True)
    assert acc.feed({"type": "content.delta", "delta": "a"}) is False
    assert acc.feed({"type": "chunk", "chunk": _chunk(None, usage, choices=False)}) is True
    observed = acc.result(None)
    assert observed is not None and observed.usage == usage

    class Helper:
        current_completion_snapshot = {"id": "chatcmpl-snap", "model": "m", "usage": usage}

    observed = ChatStreamHelperAccumulator().result(Helper())
    assert observed is not None
    assert (observed.usage, observed.response_id) == (usage, "chatcmpl-snap")


def test_responses_stream_usage_from_response_completed() -> None:
    """Responses stream: id from response.created, usage from response.completed."""
    acc = ResponsesStreamAccumulator()
    started = {**RESPONSE, "status": "in_progress", "usage": None}
    events = [
        {"type": "response.created", "response": started},
        {"type": "response.output_text.delta", "delta": "Hi"},
        {"type": "response.completed", "response": RESPONSE},
    ]
    assert not any(acc.feed(event) for event in events)
    observed = acc.result(None)
    assert observed is not None
    assert (observed.usage, observed.response_id) == (RESPONSE["usage"], RESPONSE["id"])


def test_abandoned_responses_stream_counts_text_deltas() -> None:
    """A Responses stream closed before completion records an estimate of its output."""
    acc = ResponsesStreamAccumulator()
    acc.feed({"type": "response.created", "response": {"id": "resp_1", "model": "m"}})
    acc.feed({"type": "response.output_text.delta", "delta": "a"})
    observed = acc.result(None)
    assert observed is not None
    estimated = {"output_tokens": 1, "aicm_estimated": ["output_tokens"]}
    assert (observed.usage, observed.response_id) == (estimated, "resp_1")
    assert observed.estimate_input == "input_tokens"


_SEARCH_ITEM: dict[str, Any] = {
    "type": "web_search_call",
    "id": "ws_1",
    "status": "completed",
    "action": {"type": "search", "query": "q"},
}
_MESSAGE_ITEM: dict[str, Any] = {"type": "message", "id": "msg_1", "content": []}
SEARCHED: dict[str, Any] = {
    **RESPONSE,
    "output": [_SEARCH_ITEM, {**_SEARCH_ITEM, "id": "ws_2"}, _MESSAGE_ITEM],
}


def test_responses_usage_counts_web_search_calls() -> None:
    """Each web_search_call output item is counted into ``web_search_calls``; none: no key."""
    observed = responses_usage(SEARCHED)
    assert observed is not None and observed.usage is not None
    assert observed.usage["web_search_calls"] == 2
    assert observed.usage["input_tokens"] == 36
    plain_response = responses_usage({**RESPONSE, "output": [_MESSAGE_ITEM]})
    assert plain_response is not None and plain_response.usage is not None
    assert "web_search_calls" not in plain_response.usage


def test_responses_stream_counts_web_search_calls() -> None:
    """A stream counts searches from response.completed, else from output_item.done events."""
    acc = ResponsesStreamAccumulator()
    acc.feed({"type": "response.output_item.done", "item": _SEARCH_ITEM})
    acc.feed({"type": "response.completed", "response": SEARCHED})
    observed = acc.result(None)
    assert observed is not None and observed.usage is not None
    assert observed.usage["web_search_calls"] == 2
    # Abandoned after one search: the search seen is billed with the estimate.
    acc = ResponsesStreamAccumulator()
    acc.feed({"type": "response.created", "response": {"id": "resp_2", "model": "m"}})
    acc.feed({"type": "response.output_item.done", "item": _SEARCH_ITEM})
    acc.feed({"type": "response.output_item.done", "item": _MESSAGE_ITEM})
    observed = acc.result(None)
    assert observed is not None and observed.usage is not None
    assert observed.usage["web_search_calls"] == 1
    assert observed.estimate_input == "input_tokens"


def test_generic_usage_shapes() -> None:
    """Generic extraction: .usage, usage_metadata, ["usage"], or token-count keys."""
    assert generic_usage({"usage": {"input_tokens": 1}}) == {"input_tokens": 1}
    assert generic_usage({"usageMetadata": {"promptTokenCount": 2}}) == {"promptTokenCount": 2}
    assert generic_usage({"inputTokens": 3, "outputTokens": 4}) == {
        "inputTokens": 3,
        "outputTokens": 4,
    }
    assert generic_usage({"text": "no usage"}) is None
    assert generic_usage("text") is None
    assert response_id_of({"responseId": "r-9"}) == "r-9"


def test_generic_stream_merges_later_values() -> None:
    """Generic streams merge every chunk's usage, later non-null values winning."""
    acc = GenericStreamAccumulator()
    acc.feed({"id": "s-1", "message": {"usage": {"input_tokens": 5, "output_tokens": 1}}})
    acc.feed({"type": "delta", "usage": {"output_tokens": 9}})
    acc.feed({"metadata": {"usage": {"total_tokens": 14}}})
    observed = acc.result(None)
    assert observed is not None
    assert observed.response_id == "s-1"
    assert observed.usage == {"input_tokens": 5, "output_tokens": 9, "total_tokens": 14}


def test_plain_turns_objects_into_json_data() -> None:
    """SDK-like objects become plain data: model_dump, to_dict, vars; private keys dropped."""

    class Dumps:
        def model_dump(self, exclude_none: bool = False) -> dict[str, Any]:
            return {"a": 1, "_private": 2, "b": None}

    class Attrs:
        def __init__(self) -> None:
            self.tokens = 3
            self._hidden = 4
            self.nested = Dumps()

    assert plain(Dumps()) == {"a": 1}
    assert plain(Attrs()) == {"tokens": 3, "nested": {"a": 1}}
    assert plain([1, "x", None]) == [1, "x", None]
