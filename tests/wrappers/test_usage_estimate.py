"""The offline estimates of an abandoned stream's usage (pure functions, no SDK, no network)."""

from __future__ import annotations

from typing import Any

import pytest

from aicostmanager._usage import ESTIMATED, Observed, add_estimate
from aicostmanager._usage.anthropic import AnthropicStreamAccumulator
from aicostmanager._usage.estimate import (
    anthropic_input_tokens,
    gemini_input_tokens,
    partial_usage,
    request_input_tokens,
    text_tokens,
)
from aicostmanager._usage.gemini import GeminiStreamAccumulator

# A real prompt and the prompt_tokens gpt-4o reported for it (pydantic/pydantic-ai, MIT
# licence, tests/models/cassettes/test_openai/test_openai_instructions.yaml).
OPENAI_INSTRUCTIONS = {
    "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is the capital of France?"},
    ]
}
OPENAI_INSTRUCTIONS_TOKENS = 24


def test_text_tokens_counts_words_numbers_and_symbols() -> None:
    """Common words cost one token, long ones more, digits per three, whitespace nothing."""
    assert text_tokens("") == 0
    assert text_tokens("the cat sat") == 3
    assert text_tokens("internationalization") == 3  # 20 letters: one, plus one per 8
    assert text_tokens("café au lait, 2024!") == text_tokens("cafe au lait, 2024!") == 7
    assert text_tokens("1234567") == 2  # one, plus one per 4 digits
    assert text_tokens("hi!!") == 2
    assert text_tokens("  \n\t ") == 0


def test_request_estimate_is_close_on_a_recorded_english_prompt() -> None:
    """A recorded OpenAI prompt of 24 tokens is estimated within 25%."""
    guess = request_input_tokens(OPENAI_INSTRUCTIONS)
    assert abs(guess - OPENAI_INSTRUCTIONS_TOKENS) <= 0.25 * OPENAI_INSTRUCTIONS_TOKENS


def test_request_estimate_reads_every_provider_shape() -> None:
    """Responses input/instructions, Anthropic system, Gemini contents, Bedrock system lists."""
    text = "Summarise the quarterly report in three sentences for the board."
    shapes: list[dict[str, Any]] = [
        {"input": text},
        {"instructions": text, "input": "go"},
        {"system": text, "messages": [{"role": "user", "content": "go"}]},
        {"contents": [{"role": "user", "parts": [{"text": text}]}]},
        {"system": [{"text": text}], "messages": [{"role": "user", "content": [{"text": "go"}]}]},
    ]
    for shape in shapes:
        assert request_input_tokens(shape) >= text_tokens(text), shape


def test_binary_parts_and_ids_are_not_counted_as_text() -> None:
    """Base64 data, data: URLs and ids add nothing (their cost is left out, documented)."""
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 5000}}
    with_image = {
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}, image]}]
    }
    without = {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}
    assert request_input_tokens(with_image) == request_input_tokens(without)


def test_tools_and_provider_framing_are_counted() -> None:
    """Tool definitions add their words; Anthropic adds its tool-use system prompt."""
    tool = {
        "name": "get_weather",
        "description": "Get the weather for a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    bare = {"messages": [{"role": "user", "content": "Weather in Paris?"}]}
    tools = {**bare, "tools": [tool]}
    assert request_input_tokens(tools) > request_input_tokens(bare)
    fitted = request_input_tokens(tools, with_tools=420, schema_percent=200)
    assert anthropic_input_tokens(tools) == fitted > request_input_tokens(tools) + 420
    assert gemini_input_tokens({"contents": "hi"}) == 2


def test_model_preamble_and_gemini_opaque_parts() -> None:
    """Llama's hidden header is added; Gemini thought signatures and response schemas are not."""
    ask = {"messages": [{"role": "user", "content": "What is the capital of France?"}]}
    assert request_input_tokens({**ask, "model": "llama3.3-70b"}) == request_input_tokens(ask) + 26
    part = {"text": "Hi there", "thoughtSignature": "Q" * 4000}
    signed = {"contents": [{"role": "model", "parts": [part]}]}
    plain = {"contents": [{"role": "model", "parts": [{"text": "Hi there"}]}]}
    assert gemini_input_tokens(signed) == gemini_input_tokens(plain)
    schema = {"responseJsonSchema": {"type": "object", "properties": {"city": {"type": "string"}}}}
    assert gemini_input_tokens({**plain, "generationConfig": schema}) == gemini_input_tokens(plain)


# Real requests and the prompt count the provider reported for them (pydantic/pydantic-ai, MIT
# licence, tests/models/cassettes/<folder>/<file>; one per provider API and kind).
_RECORDED = [
    (  # test_openai/test_message_history_can_start_with_model_response.yaml
        request_input_tokens,
        {
            "messages": [
                {"content": "Where do you want to go today?", "role": "assistant"},
                {"content": "Answer in 5 words only. Who is Tux?", "role": "user"},
            ],
            "model": "gpt-4.1-mini",
        },
        31,
    ),
    (  # test_openai_responses/test_openai_conversation_id_auto_respects_pydantic_ai_...yaml
        request_input_tokens,
        {
            "input": [
                {"content": "Reply exactly: stored", "role": "user"},
                {"content": "stored", "role": "assistant"},
                {"content": "Reply exactly: forked", "role": "user"},
            ],
            "instructions": "Follow the user instructions exactly.",
            "model": "gpt-4.1",
        },
        35,
    ),
    (  # test_anthropic/test_anthropic_model_empty_message_on_history.yaml
        anthropic_input_tokens,
        {
            "messages": [
                {
                    "content": [{"text": "Hello, how can I help you?", "type": "text"}],
                    "role": "assistant",
                },
                {"content": [{"text": "I need a potato!", "type": "text"}], "role": "user"},
            ],
            "model": "claude-sonnet-4-5",
            "system": "You are a helpful assistant.\n\n",
        },
        41,
    ),
    (  # test_anthropic/test_anthropic_always_on_capability_toolset_is_visible.yaml
        anthropic_input_tokens,
        {
            "messages": [
                {"content": [{"text": "Reply with exactly: ready", "type": "text"}], "role": "user"}
            ],
            "model": "claude-sonnet-4-6",
            "tool_choice": {"type": "auto"},
            "tools": [
                {
                    "description": "",
                    "input_schema": {
                        "additionalProperties": False,
                        "properties": {"order_id": {"type": "string"}},
                        "required": ["order_id"],
                        "type": "object",
                    },
                    "name": "lookup_shipping",
                }
            ],
        },
        563,
    ),
    (  # test_google/test_google_text_output_function.yaml
        gemini_input_tokens,
        {
            "contents": [
                {
                    "parts": [
                        {
                            "text": "What is the largest city in the user country? Use the "
                            "get_user_country tool and then your own world knowledge."
                        }
                    ],
                    "role": "user",
                }
            ],
            "toolConfig": {"functionCallingConfig": {"mode": "VALIDATED"}},
            "tools": [
                {
                    "functionDeclarations": [
                        {
                            "description": "",
                            "name": "get_user_country",
                            "parameters_json_schema": {
                                "additionalProperties": False,
                                "properties": {},
                                "type": "object",
                            },
                        }
                    ]
                }
            ],
        },
        49,
    ),
]


@pytest.mark.parametrize(("estimate", "request_", "real"), _RECORDED)
def test_estimate_is_within_a_quarter_of_recorded_prompt_counts(
    estimate: Any, request_: dict[str, Any], real: int
) -> None:
    """Real recorded requests (OpenAI, Responses, Anthropic, Gemini) are estimated within 25%."""
    assert abs(estimate(request_) - real) <= real // 4


def test_add_estimate_never_lowers_what_was_observed() -> None:
    """An observed input at least as large is kept unmarked; the output estimate never lowers."""
    assert add_estimate({"input_tokens": 50}, "input_tokens", 40) == {"input_tokens": 50}
    raised = add_estimate({"output_tokens": 3, ESTIMATED: ["output_tokens"]}, "input_tokens", 40)
    assert raised == {
        "output_tokens": 3,
        "input_tokens": 40,
        ESTIMATED: ["output_tokens", "input_tokens"],
    }
    partial = partial_usage({"output_tokens": 9}, "output_tokens", 3, 2)
    assert partial == {"output_tokens": 9, ESTIMATED: ["output_tokens"]}
    assert partial_usage(None, "output_tokens", 41, 2)["output_tokens"] == 11


def test_anthropic_stream_broken_after_message_start_keeps_exact_input() -> None:
    """message_start's input is exact (not estimated); only the output is marked."""
    acc = AnthropicStreamAccumulator()
    start = {"id": "msg_1", "model": "claude", "usage": {"input_tokens": 1200, "output_tokens": 1}}
    acc.feed({"type": "message_start", "message": start})
    acc.feed(
        {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Once upon a time"}}
    )
    observed = acc.result(None)
    assert isinstance(observed, Observed) and observed.usage is not None
    assert observed.usage["input_tokens"] == 1200
    assert observed.usage[ESTIMATED] == ["output_tokens"]
    assert observed.usage["output_tokens"] == 4  # 16 characters
    assert observed.estimate_input is None


def test_gemini_stream_without_usage_asks_for_an_input_estimate() -> None:
    """A Gemini stream cut before any usageMetadata estimates candidates and prompt."""
    acc = GeminiStreamAccumulator()
    acc.feed(
        {"responseId": "r1", "candidates": [{"content": {"parts": [{"text": "Hello there"}]}}]}
    )
    observed = acc.result(None)
    assert observed is not None and observed.usage is not None
    assert observed.usage == {"candidatesTokenCount": 3, ESTIMATED: ["candidatesTokenCount"]}
    assert observed.estimate_input == "promptTokenCount"
