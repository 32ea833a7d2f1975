"""Anthropic usage extraction on recorded Messages API bodies (no SDK involved)."""

from __future__ import annotations

from typing import Any

from aicostmanager._usage.anthropic import AnthropicStreamAccumulator, message_usage

MESSAGE: dict[str, Any] = {
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-20250514",
    "content": [{"type": "text", "text": "Hello!"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 12,
        "cache_creation_input_tokens": 100,
        "cache_read_input_tokens": 2048,
        "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 0},
        "output_tokens": 6,
        "service_tier": "standard",
        "server_tool_use": None,
    },
}

# The event sequence of a streamed message, as the API sends it (data: lines of the SSE).
STREAM: list[dict[str, Any]] = [
    {
        "type": "message_start",
        "message": {
            "id": "msg_stream_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-3-5-haiku-latest",
            "content": [],
            "stop_reason": None,
            "usage": {
                "input_tokens": 25,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 1024,
                "output_tokens": 1,
            },
        },
    },
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "ping"},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "!"}},
    {"type": "content_block_stop", "index": 0},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 15},
    },
    {"type": "message_stop"},
]


def _usage(acc: AnthropicStreamAccumulator) -> dict[str, Any] | None:
    observed = acc.result(None)
    return None if observed is None else observed.usage


def test_message_usage_keeps_native_names_and_cache_counts() -> None:
    """A Message's usage is dumped with Anthropic's names, cache counts kept, nulls dropped."""
    observed = message_usage(MESSAGE)
    assert observed is not None
    assert observed.usage == {
        "input_tokens": 12,
        "cache_creation_input_tokens": 100,
        "cache_read_input_tokens": 2048,
        "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 0},
        "output_tokens": 6,
        "service_tier": "standard",
    }
    assert observed.response_id == "msg_01XFDUDYJgAACzvnptvVoYEL"
    assert observed.model == "claude-sonnet-4-20250514"


def test_message_without_usage_gives_none() -> None:
    """A body without usage (an error, a count_tokens answer) yields no payload."""
    assert message_usage({"type": "error", "error": {"type": "overloaded_error"}}) is None


def test_stream_merges_start_and_cumulative_delta_once() -> None:
    """Stream usage = message_start merged with the cumulative message_delta, not summed."""
    acc = AnthropicStreamAccumulator()
    for event in STREAM:
        acc.feed(event)
    observed = acc.result(None)
    assert observed is not None
    assert observed.response_id == "msg_stream_1"
    assert observed.model == "claude-3-5-haiku-latest"
    assert _usage(acc) == {
        "input_tokens": 25,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 1024,
        "output_tokens": 15,
    }


def test_stream_delta_with_cumulative_input_counts_replaces_not_adds() -> None:
    """A message_delta repeating cumulative input/cache counts replaces them (no double count)."""
    acc = AnthropicStreamAccumulator()
    acc.feed(STREAM[0])
    acc.feed(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {
                "input_tokens": 25,
                "cache_read_input_tokens": 1024,
                "output_tokens": 40,
                "server_tool_use": {"web_search_requests": 1},
            },
        }
    )
    usage = _usage(acc)
    assert usage is not None
    assert usage["input_tokens"] == 25
    assert usage["cache_read_input_tokens"] == 1024
    assert usage["output_tokens"] == 40
    assert usage["server_tool_use"] == {"web_search_requests": 1}


def test_stream_abandoned_after_start_keeps_input_counts() -> None:
    """A stream broken after message_start still reports its input and cache counts."""
    acc = AnthropicStreamAccumulator()
    assert _usage(acc) is None
    for event in STREAM[:4]:
        acc.feed(event)
    assert _usage(acc) == {
        "input_tokens": 25,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 1024,
        "output_tokens": 1,
        "aicm_estimated": ["output_tokens"],  # the final output count never arrived
    }


def test_usage_copy_is_independent() -> None:
    """The returned payload is a copy: later events do not change an earlier answer."""
    acc = AnthropicStreamAccumulator()
    acc.feed(STREAM[0])
    first = _usage(acc)
    acc.feed(STREAM[6])
    assert first is not None and first["output_tokens"] == 1
    final = {k: v for k, v in first.items() if k != "aicm_estimated"}
    assert _usage(acc) == {**final, "output_tokens": 15}
    assert first["aicm_estimated"] == ["output_tokens"]


def test_helper_snapshot_is_preferred() -> None:
    """For the messages.stream() helper, the helper's merged snapshot is the source."""

    class Helper:
        current_message_snapshot = MESSAGE

    acc = AnthropicStreamAccumulator()
    acc.feed(STREAM[0])
    observed = acc.result(Helper())
    assert observed is not None
    assert observed.response_id == MESSAGE["id"]
    assert observed.usage is not None and observed.usage["cache_read_input_tokens"] == 2048


def test_events_are_never_hidden() -> None:
    """feed() never asks the wrapper to hide an event from the caller."""
    acc = AnthropicStreamAccumulator()
    assert not any(acc.feed(event) for event in STREAM)
