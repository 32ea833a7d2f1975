"""Streams abandoned before their usage arrived, on the corpus's real recorded streams.

The caller reads the first chunk of a recorded stream, then closes it (a ``break``, a closed
page). The provider bills the whole prompt, so the stored event must carry an estimate of the
billed input, never lower than what the stream had already reported, within 25% of the real
prompt tokens the recording shows, and be marked estimated.
"""

from __future__ import annotations

from typing import Any

import pytest

from .calls import (
    anthropic_kwargs,
    bedrock_kwargs,
    chat_kwargs,
    gemini_kwargs,
    responses_kwargs,
)
from .harness import Runs
from .recordings import RECORDINGS, Recording

pytestmark = pytest.mark.filterwarnings(
    "ignore:Inheritance class AiohttpClientSession:DeprecationWarning"
)

ESTIMATE_TOLERANCE = 0.25


def chat_abandoned(client: Any, rec: Recording) -> None:
    """Chat stream: first chunk read, then closed."""
    stream = client.chat.completions.create(stream=True, **chat_kwargs(rec))
    for _ in stream:
        break
    stream.close()


def responses_abandoned(client: Any, rec: Recording) -> None:
    """Responses stream: closed at its first text delta."""
    stream = client.responses.create(stream=True, **responses_kwargs(rec))
    for event in stream:
        if event.type == "response.output_text.delta":
            break
    stream.close()


def messages_abandoned(client: Any, rec: Recording) -> None:
    """Anthropic stream: ``message_start`` and one more event read, then closed."""
    stream = client.messages.create(stream=True, **anthropic_kwargs(rec))
    for index, _ in enumerate(stream):
        if index == 1:
            break
    stream.close()


def generate_abandoned(client: Any, rec: Recording) -> None:
    """Gemini stream: first chunk read, then closed."""
    stream = client.models.generate_content_stream(**gemini_kwargs(rec))
    for _ in stream:
        break
    stream.close()


def converse_abandoned(client: Any, rec: Recording) -> None:
    """Bedrock ``converse_stream``: first event read, then closed."""
    stream = client.converse_stream(**bedrock_kwargs(rec))["stream"]
    for _ in stream:
        break
    stream.close()


# api -> (the abandoning call, the usage field that counts the billed input)
ABANDON = {
    "openai-chat": (chat_abandoned, "prompt_tokens"),
    "groq": (chat_abandoned, "prompt_tokens"),
    "openai-responses": (responses_abandoned, "input_tokens"),
    "anthropic": (messages_abandoned, "input_tokens"),
    "gemini": (generate_abandoned, "promptTokenCount"),
    "bedrock": (converse_abandoned, "inputTokens"),
}


def _estimable(rec: Recording) -> bool:
    """A stream whose request is kept whole and whose input the request alone decides.

    Server tools (web search, grounding) add input the request cannot predict; a stream of
    fewer than three events is over before it can be abandoned.
    """
    usage = rec.usage
    tools = any((usage.get("server_tool_use") or {}).values()) or "toolUsePromptTokenCount" in usage
    web = any(
        item.get("type") == "web_search_call"
        for event in rec.events
        for item in ((event.get("response") or {}).get("output") or [])
    )
    return rec.streamed and not rec.data["notes"] and len(rec.events) >= 3 and not (tools or web)


def _observed(rec: Recording, field: str) -> int:
    """The input the first event already reported (Anthropic, Gemini), else 0."""
    first = rec.events[0]
    usage = (first.get("message") or {}).get("usage") or first.get("usageMetadata") or {}
    return int(usage.get(field) or 0)


# Cases that fail until another part of the code base catches up: recording key -> what is
# missing. Strict: a case that starts passing fails the run until its line here is removed.
PENDING: dict[str, str] = {}

ESTIMABLE = [r for r in RECORDINGS if _estimable(r)]
BY_STYLE: dict[str, list[Recording]] = {}
for _rec in ESTIMABLE:
    BY_STYLE.setdefault(ABANDON[_rec.api][0].__name__, []).append(_rec)


@pytest.mark.parametrize(
    "rec",
    [
        pytest.param(
            rec,
            id=rec.key,
            marks=[pytest.mark.xfail(strict=True, reason=PENDING[rec.key])]
            if rec.key in PENDING
            else [],
        )
        for rec in ESTIMABLE
    ],
)
async def test_abandoned_stream_records_an_estimated_input(runs: Runs, rec: Recording) -> None:
    """An abandoned recorded stream: one event, marked estimated, input within 25% of the bill."""
    style, field = ABANDON[rec.api]
    outcome = (await runs.get(style, BY_STYLE[style.__name__]))[rec.key]
    if outcome.error is not None:
        raise outcome.error
    assert len(outcome.stored) == 1, f"{len(outcome.stored)} events stored for one call"
    event = outcome.stored[0]
    assert event.response_id == rec.response_id
    real, observed = int(rec.usage[field]), _observed(rec, field)
    estimate = int(event.usage.get(field) or 0)
    problems = []
    if not outcome.estimated:
        problems.append("not marked estimated")
    if estimate < observed:
        problems.append(f"{field} {estimate} is below the {observed} the stream reported")
    if abs(estimate - real) > real * ESTIMATE_TOLERANCE:
        problems.append(f"{field} {estimate} vs {real} billed (more than 25% off)")
    assert not problems, f"{problems}; stored {event.usage}"
