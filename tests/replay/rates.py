"""Providers' list prices for the corpus's models, and the cost of a recorded usage at them.

Rates are US dollars per million tokens (``web_search`` / ``web_search_call``: per call), as
published on each provider's pricing page; read 2026-12-07:

- OpenAI: https://platform.openai.com/docs/pricing (audio: the ``gpt-4o-audio-preview`` row)
- Anthropic: https://docs.anthropic.com/en/docs/about-claude/pricing (cache writes: 1.25x input
  for 5 minutes, 2x for 1 hour; cache reads 0.1x; web search $10 per 1,000 searches)
- Google: https://ai.google.dev/gemini-api/docs/pricing (audio input and cached audio rows;
  ``gemini-3-pro-image-preview`` image output $120 per million tokens)
- AWS Bedrock: https://aws.amazon.com/bedrock/pricing/ (``us.`` geographic cross-region
  profiles of Claude Sonnet 4.5 cost 10% over the global price)
- Groq: https://groq.com/pricing

These are written here, not read from genai-prices, so the test checks the server against the
provider, not against the library the server uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = ("RATES", "expected_cost")

_M = Decimal(1_000_000)


def _r(**rates: str) -> dict[str, Decimal]:
    return {name: Decimal(value) for name, value in rates.items()}


_SONNET = _r(input="3", output="15", cache_read="0.30", cache_5m="3.75", cache_1h="6")
_SONNET_45_US = _r(input="3.30", output="16.50", cache_read="0.33", cache_5m="4.125")

RATES: dict[str, dict[str, Decimal]] = {
    "openai::gpt-4o-mini": _r(input="0.15", cached="0.075", output="0.60"),
    "openai::gpt-4o": _r(input="2.50", cached="1.25", output="10"),
    "openai::o3-mini": _r(input="1.10", cached="0.55", output="4.40"),
    "openai::gpt-4.5-preview": _r(input="75", cached="37.50", output="150"),
    "openai::gpt-4.1-nano": _r(input="0.10", cached="0.025", output="0.40"),
    "openai::gpt-5": _r(input="1.25", cached="0.125", output="10"),
    "openai::gpt-5-pro": _r(input="15", output="120"),
    "openai::gpt-5.2": _r(input="1.75", cached="0.175", output="14", web_search_call="0.01"),
    "openai::gpt-4o-audio-preview": _r(
        input="2.50", output="10", audio_input="40", audio_output="80"
    ),
    "anthropic::claude-sonnet-4-5": _SONNET,
    "anthropic::claude-sonnet-4-6": _SONNET,
    "anthropic::claude-sonnet-4-0": _SONNET,
    "anthropic::claude-3-opus-latest": _r(
        input="15", output="75", cache_read="1.50", cache_5m="18.75", cache_1h="30"
    ),
    "anthropic::claude-haiku-4-5": _r(
        input="1", output="5", cache_read="0.10", cache_5m="1.25", cache_1h="2"
    ),
    "anthropic::web_search": _r(per_call="0.01"),
    "google::gemini-2.5-flash": _r(
        input="0.30", audio_input="1", cached="0.03", cached_audio="0.10", output="2.50"
    ),
    "google::gemini-2.0-flash": _r(
        input="0.10", audio_input="0.70", cached="0.025", cached_audio="0.175", output="0.40"
    ),
    "google::gemini-2.5-pro": _r(input="1.25", output="10"),
    "google::gemini-2.5-pro-preview-03-25": _r(input="1.25", output="10"),
    "google::gemini-3-pro-image-preview": _r(input="2", output="12", image_output="120"),
    "bedrock::us.amazon.nova-micro-v1:0": _r(input="0.035", output="0.14"),
    "bedrock::us.anthropic.claude-sonnet-4-5-20250929-v1:0": _SONNET_45_US,
    "bedrock::us.anthropic.claude-sonnet-4-20250514-v1:0": _SONNET,
    "groq::llama-3.3-70b-versatile": _r(input="0.59", output="0.79"),
    "groq::openai/gpt-oss-120b": _r(input="0.15", output="0.60"),
    "groq::deepseek-r1-distill-llama-70b": _r(input="0.75", output="0.99"),
}


def _get(usage: Mapping[str, Any] | None, *path: str) -> int:
    value: Any = usage or {}
    for name in path:
        value = value.get(name) if isinstance(value, Mapping) else None
    return int(value or 0)


def _openai(usage: Mapping[str, Any], rates: Mapping[str, Decimal], calls: int) -> Decimal:
    prompt = _get(usage, "prompt_tokens") or _get(usage, "input_tokens")
    details = usage.get("prompt_tokens_details") or usage.get("input_tokens_details")
    cached, audio_in = _get(details, "cached_tokens"), _get(details, "audio_tokens")
    out = _get(usage, "completion_tokens") or _get(usage, "output_tokens")
    audio_out = _get(usage, "completion_tokens_details", "audio_tokens")
    total = (prompt - cached - audio_in) * rates["input"] + (out - audio_out) * rates["output"]
    total += cached * rates.get("cached", rates["input"])
    total += audio_in * rates.get("audio_input", rates["input"])
    total += audio_out * rates.get("audio_output", rates["output"])
    return total / _M + calls * rates.get("web_search_call", Decimal(0))


def _anthropic_part(part: Mapping[str, Any], rates: Mapping[str, Decimal]) -> Decimal:
    written = _get(part, "cache_creation_input_tokens")
    one_hour = _get(part, "cache_creation", "ephemeral_1h_input_tokens")
    total = (
        _get(part, "input_tokens") * rates["input"] + _get(part, "output_tokens") * rates["output"]
    )
    total += _get(part, "cache_read_input_tokens") * rates["cache_read"]
    total += (written - one_hour) * rates["cache_5m"] + one_hour * rates["cache_1h"]
    return total / _M


def _anthropic(usage: Mapping[str, Any], model_rates: Mapping[str, Decimal]) -> Decimal:
    # With ``iterations`` the top level leaves out the compaction step: the bill is their sum.
    parts = usage.get("iterations") or [usage]
    total = sum((_anthropic_part(part, model_rates) for part in parts), Decimal(0))
    searches = _get(usage, "server_tool_use", "web_search_requests")
    return total + searches * RATES["anthropic::web_search"]["per_call"]


def _by_modality(details: Any) -> dict[str, int]:
    return {d["modality"]: int(d.get("tokenCount") or 0) for d in details or []}


def _gemini(usage: Mapping[str, Any], rates: Mapping[str, Decimal]) -> Decimal:
    prompt = _by_modality(usage.get("promptTokensDetails"))
    cached = _by_modality(usage.get("cacheTokensDetails"))
    audio = prompt.get("AUDIO", 0) - cached.get("AUDIO", 0)
    other = _get(usage, "promptTokenCount") - _get(usage, "cachedContentTokenCount") - audio
    total = other * rates["input"] + audio * rates.get("audio_input", rates["input"])
    total += cached.get("AUDIO", 0) * rates.get("cached_audio", Decimal(0))
    total += (_get(usage, "cachedContentTokenCount") - cached.get("AUDIO", 0)) * rates.get(
        "cached", Decimal(0)
    )
    total += _get(usage, "toolUsePromptTokenCount") * rates["input"]
    image = _by_modality(usage.get("candidatesTokensDetails")).get("IMAGE", 0)
    text_out = _get(usage, "candidatesTokenCount") - image + _get(usage, "thoughtsTokenCount")
    total += text_out * rates["output"] + image * rates.get("image_output", rates["output"])
    return total / _M


def _bedrock(usage: Mapping[str, Any], rates: Mapping[str, Decimal]) -> Decimal:
    total = (
        _get(usage, "inputTokens") * rates["input"] + _get(usage, "outputTokens") * rates["output"]
    )
    total += _get(usage, "cacheReadInputTokens") * rates.get("cache_read", Decimal(0))
    total += _get(usage, "cacheWriteInputTokens") * rates.get("cache_5m", Decimal(0))
    return total / _M


def expected_cost(
    api: str, vendor: str, model: str, usage: Mapping[str, Any], calls: int
) -> Decimal:
    """The provider's list price of ``usage`` (``calls``: billed tool calls outside the usage).

    Raises:
        KeyError: no rate is written here for ``vendor::model``.
    """
    rates = RATES[f"{vendor}::{model}"]
    if api == "anthropic":
        return _anthropic(usage, rates)
    if api == "gemini":
        return _gemini(usage, rates)
    if api == "bedrock":
        return _bedrock(usage, rates)
    return _openai(usage, rates, calls)
