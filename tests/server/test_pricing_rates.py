"""Each billed component changes the cost by exactly the provider's published rate.

Every case posts two records through ``/track`` that differ by one usage component, and
checks the difference of the stored costs against the rate written here with its source.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from server_helpers import Api, record


def _cost(api: Api, rid: str, service_key: str, payload: dict[str, Any]) -> Decimal:
    """Track one record and return the sum of its stored cost events."""
    [result] = api.track_ok(record(rid, service_key, payload=payload))
    assert result["status"] == "completed", result
    lines = api.get(f"/cost-events/{rid}")
    return sum((Decimal(line["cost"]) for line in lines), Decimal(0))


def _difference(
    api: Api, service_key: str, base: dict[str, Any], changed: dict[str, Any]
) -> Decimal:
    rid = uuid.uuid4().hex
    return _cost(api, rid + "-b", service_key, changed) - _cost(api, rid + "-a", service_key, base)


def test_one_hour_cache_write_costs_twice_the_input_rate(api: Api) -> None:
    """100k 1-hour cache writes on Sonnet 4.5 cost $6/MTok (2x the $3 input), not $3.75."""
    # https://docs.claude.com/en/docs/about-claude/pricing: Sonnet 4.5 input $3/MTok,
    # 5m cache writes $3.75/MTok, 1h cache writes $6/MTok.
    base = {"input_tokens": 10, "output_tokens": 5}
    changed = {
        **base,
        "cache_creation_input_tokens": 100_000,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 100_000},
    }
    assert _difference(api, "anthropic::claude-sonnet-4-5", base, changed) == Decimal("0.6")


def test_web_search_request_costs_one_cent(api: Api) -> None:
    """One Anthropic web search request costs $10 / 1000 = $0.01."""
    # https://docs.claude.com/en/docs/agents-and-tools/tool-use/web-search-tool: $10 per
    # 1,000 searches.
    base = {"input_tokens": 100, "output_tokens": 50}
    changed = {**base, "server_tool_use": {"web_search_requests": 1}}
    assert _difference(api, "anthropic::claude-sonnet-4-5", base, changed) == Decimal("0.01")


def test_compaction_iteration_is_billed_like_a_message(api: Api) -> None:
    """A compaction iteration (180k in, 3.5k out on Sonnet 4.5) adds $0.54 + $0.0525."""
    # https://docs.claude.com/en/docs/build-with-claude/compaction: each iteration is billed;
    # the top-level usage repeats the last (message) iteration. Rates: $3 / $15 per MTok.
    message = {"type": "message", "input_tokens": 23_000, "output_tokens": 1_000}
    base = {"input_tokens": 23_000, "output_tokens": 1_000}
    changed = {
        **base,
        "iterations": [
            {"type": "compaction", "input_tokens": 180_000, "output_tokens": 3_500},
            message,
        ],
    }
    assert _difference(api, "anthropic::claude-sonnet-4-5", base, changed) == Decimal("0.5925")


def test_audio_input_token_costs_the_audio_rate(api: Api) -> None:
    """1000 audio prompt tokens on gpt-4o-audio-preview cost $40/MTok instead of $2.50."""
    # https://platform.openai.com/docs/pricing (gpt-4o-audio-preview: text in $2.50/MTok,
    # audio in $40/MTok, audio out $80/MTok), checked 2026-12-07.
    base = {"prompt_tokens": 2_000, "completion_tokens": 10}
    changed = {**base, "prompt_tokens_details": {"audio_tokens": 1_000, "text_tokens": 1_000}}
    expected = Decimal(1_000) * (Decimal(40) - Decimal("2.5")) / 1_000_000
    assert _difference(api, "openai::gpt-4o-audio-preview", base, changed) == expected


def test_audio_output_token_costs_the_audio_rate(api: Api) -> None:
    """500 audio completion tokens on gpt-4o-audio-preview cost $80/MTok instead of $10."""
    # https://platform.openai.com/docs/pricing, checked 2026-12-07.
    base = {"prompt_tokens": 100, "completion_tokens": 600}
    changed = {**base, "completion_tokens_details": {"audio_tokens": 500}}
    expected = Decimal(500) * (Decimal(80) - Decimal(10)) / 1_000_000
    assert _difference(api, "openai::gpt-4o-audio-preview", base, changed) == expected


def test_image_output_token_costs_the_image_rate(api: Api) -> None:
    """1290 image output tokens (one image) on gemini-2.5-flash-image cost $30/MTok."""
    # https://ai.google.dev/gemini-api/docs/pricing: Gemini 2.5 Flash Image output $30 per
    # 1M image tokens ($0.039 per 1024x1024 image = 1290 tokens); text output $2.50/MTok.
    base = {"promptTokenCount": 10, "candidatesTokenCount": 1_300}
    changed = {
        **base,
        "candidatesTokensDetails": [
            {"modality": "IMAGE", "tokenCount": 1_290},
            {"modality": "TEXT", "tokenCount": 10},
        ],
    }
    expected = Decimal(1_290) * (Decimal(30) - Decimal("2.5")) / 1_000_000
    assert _difference(api, "google::gemini-2.5-flash-image", base, changed) == expected


def test_gemini_cached_audio_costs_the_cached_audio_rate(api: Api) -> None:
    """400 cached audio tokens on gemini-2.5-flash: $0.10/MTok cached vs $1 audio input."""
    # https://ai.google.dev/gemini-api/docs/pricing: Gemini 2.5 Flash input $0.30 text/image/
    # video, $1.00 audio; context caching $0.03 text/image/video, $0.10 audio (per 1M tokens).
    base = {
        "promptTokenCount": 1_000,
        "candidatesTokenCount": 10,
        "promptTokensDetails": [
            {"modality": "AUDIO", "tokenCount": 600},
            {"modality": "VIDEO", "tokenCount": 400},
        ],
    }
    changed = {
        **base,
        "cachedContentTokenCount": 400,
        "cacheTokensDetails": [{"modality": "AUDIO", "tokenCount": 400}],
    }
    expected = Decimal(400) * (Decimal("0.1") - Decimal(1)) / 1_000_000
    assert _difference(api, "google::gemini-2.5-flash", base, changed) == expected


def test_gemini_snake_case_modalities_are_priced_like_camel_case(api: Api) -> None:
    """google-genai's snake_case usage gives the same cost as the REST camelCase."""
    camel = {
        "promptTokenCount": 100,
        "candidatesTokenCount": 20,
        "promptTokensDetails": [
            {"modality": "AUDIO", "tokenCount": 80},
            {"modality": "TEXT", "tokenCount": 20},
        ],
    }
    snake = {
        "prompt_token_count": 100,
        "candidates_token_count": 20,
        "prompt_tokens_details": [
            {"modality": "AUDIO", "token_count": 80},
            {"modality": "TEXT", "token_count": 20},
        ],
    }
    sk = "google::gemini-2.5-flash"
    assert _cost(api, "camel-1", sk, camel) == _cost(api, "snake-1", sk, snake)
    # Audio input is $1/MTok on gemini-2.5-flash, text $0.30 (ai.google.dev pricing page).
    assert (
        _cost(api, "camel-2", sk, camel)
        == (Decimal(80) * 1 + Decimal(20) * Decimal("0.3") + Decimal(20) * Decimal("2.5"))
        / 1_000_000
    )


def test_flex_service_tier_halves_the_price(api: Api) -> None:
    """``service_tier: flex`` on gpt-5 is priced at the flex rates ($0.625 / $5 per MTok)."""
    # https://platform.openai.com/docs/pricing (Flex tab), checked 2026-12-07.
    payload = {"prompt_tokens": 1_000_000, "completion_tokens": 100_000}
    standard = _cost(api, "tier-std", "openai::gpt-5", payload)
    flex = _cost(api, "tier-flex", "openai::gpt-5", {**payload, "service_tier": "flex"})
    assert standard == Decimal("1.25") + Decimal("1.0")
    assert flex == Decimal("0.625") + Decimal("0.5")


def test_each_iteration_gets_its_own_long_context_tier(api: Api) -> None:
    """A 250k-token compaction step is billed at the >200k rate, the 20k message at the base."""
    # https://docs.claude.com/en/docs/about-claude/pricing: Sonnet 4.5 input $3/MTok up to
    # 200k input tokens, $6/MTok above; output $15 / $22.50.
    payload = {
        "input_tokens": 20_000,
        "output_tokens": 100,
        "iterations": [
            {"type": "compaction", "input_tokens": 250_000, "output_tokens": 1_000},
            {"type": "message", "input_tokens": 20_000, "output_tokens": 100},
        ],
    }
    expected = (
        250_000 * Decimal(6) + 1_000 * Decimal("22.5") + 20_000 * Decimal(3) + 100 * Decimal(15)
    ) / 1_000_000
    assert _cost(api, uuid.uuid4().hex, "anthropic::claude-sonnet-4-5", payload) == expected
