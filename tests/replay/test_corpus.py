"""The corpus: real recorded provider responses replayed through the real SDKs and our wrappers.

Each case points a real SDK client (sync or async) at the replay server, which answers with one
recorded response; the client is wrapped by the provider's wrapper and a real tracker delivers
to the local ``aicostmanager serve``. The test then reads back what the server stored and checks
it against the recording: one event, the provider's response id, every usage field the provider
returned, and the server's cost within 0.5% of the provider's list price (``rates.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import anthropic
import anyio
import boto3
import botocore.session
import openai
import pytest
from botocore.config import Config
from google import genai
from google.genai import types
from wrappers.conftest import Stored, read_stored

from aicostmanager import (
    AnthropicWrapper,
    AsyncCostManagerClient,
    AsyncTracker,
    BedrockWrapper,
    GeminiWrapper,
    OpenAIChatWrapper,
    Tracker,
    tracking_scope,
)

from .rates import expected_cost
from .recordings import RECORDINGS, Recording
from .server import Received, ReplayServer

# google-genai's own aiohttp session class triggers this warning from aiohttp (not our code).
pytestmark = pytest.mark.filterwarnings(
    "ignore:Inheritance class AiohttpClientSession:DeprecationWarning"
)

TOLERANCE = Decimal("0.005")

# ---- clients on the replay server -----------------------------------------------------------


def _openai(base: str, sync: bool) -> Any:
    cls = openai.OpenAI if sync else openai.AsyncOpenAI
    return cls(base_url=f"{base}/v1", api_key="sk-replay", max_retries=0)


def _anthropic(base: str, sync: bool) -> Any:
    cls = anthropic.Anthropic if sync else anthropic.AsyncAnthropic
    return cls(base_url=base, api_key="sk-ant-replay", max_retries=0)


def _gemini(base: str, sync: bool) -> Any:
    options = types.HttpOptions(base_url=base, retry_options=types.HttpRetryOptions(attempts=1))
    return genai.Client(api_key="gm-replay", http_options=options)


def _bedrock(base: str, sync: bool) -> Any:
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=base,
        region_name="us-east-1",
        aws_access_key_id="AKIDREPLAY",
        aws_secret_access_key="secret-replay",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


async def _aclose(client: Any) -> None:
    """Close an SDK client (async side too), so no socket outlives its test."""
    if isinstance(client, genai.Client):
        await client.aio.aclose()
        client.close()
    elif hasattr(client, "aclose"):
        await client.aclose()
    elif callable(getattr(client, "close", None)):
        result = client.close()
        if hasattr(result, "__await__"):
            await result


# ---- call styles: each makes the recorded call and consumes the result as a user would -------


def _pick(rec: Recording, *names: str) -> dict[str, Any]:
    """The recorded request's values of ``names`` (those it has)."""
    return {name: rec.request[name] for name in names if rec.request.get(name)}


# The recorded request is sent as recorded (prompt, system, tools), so what the SDK sends is what
# the provider billed for. The SDKs' parse-and-stream helpers accept only strict function tools,
# so they get the request without its tools.


def _chat_kwargs(rec: Recording, tools: bool = True) -> dict[str, Any]:
    extra = _pick(rec, "tools", "tool_choice") if tools else {}
    return {"model": rec.model, **_pick(rec, "messages"), **extra}


def _responses_kwargs(rec: Recording, tools: bool = True) -> dict[str, Any]:
    extra = _pick(rec, "tools", "tool_choice") if tools else {}
    found = _pick(rec, "input", "instructions")
    return {"model": rec.model, "input": rec.prompt_text(), **found, **extra}


def _anthropic_kwargs(rec: Recording) -> dict[str, Any]:
    return {
        "model": rec.model,
        "max_tokens": rec.request.get("max_tokens", 1024),
        "messages": [{"role": "user", "content": "Hello"}],
        **_pick(rec, "messages", "system", "tools", "tool_choice", "thinking"),
    }


def _gemini_kwargs(rec: Recording) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if rec.request.get("systemInstruction"):
        config["system_instruction"] = types.Content.model_validate(
            rec.request["systemInstruction"]
        )
    if rec.request.get("tools"):
        config["tools"] = [types.Tool.model_validate(tool) for tool in rec.request["tools"]]
    contents = [types.Content.model_validate(c) for c in rec.request.get("contents") or []]
    return {"model": rec.model, "contents": contents or rec.prompt_text(), "config": config}


def _bedrock_kwargs(rec: Recording) -> dict[str, Any]:
    text = [{"role": "user", "content": [{"text": rec.prompt_text()}]}]
    simple = all(
        set(part) == {"text"}
        for message in rec.request.get("messages") or [{"content": [{}]}]
        for part in message["content"]
    )
    messages = rec.request["messages"] if simple else text
    return {"modelId": rec.model, "messages": messages, **_pick(rec, "system")}


def chat_create(client: Any, rec: Recording) -> None:
    """``chat.completions.create``."""
    client.chat.completions.create(**_chat_kwargs(rec))


async def achat_create(client: Any, rec: Recording) -> None:
    """Async ``chat.completions.create``."""
    await client.chat.completions.create(**_chat_kwargs(rec))


def chat_stream(client: Any, rec: Recording) -> None:
    """``chat.completions.create(stream=True)`` iterated to the end."""
    for _ in client.chat.completions.create(stream=True, **_chat_kwargs(rec)):
        pass


async def achat_stream(client: Any, rec: Recording) -> None:
    """Async ``chat.completions.create(stream=True)`` iterated to the end."""
    async for _ in await client.chat.completions.create(stream=True, **_chat_kwargs(rec)):
        pass


def chat_helper(client: Any, rec: Recording) -> None:
    """``chat.completions.stream()`` helper, then ``get_final_completion()``."""
    with client.chat.completions.stream(**_chat_kwargs(rec, tools=False)) as stream:
        for _ in stream:
            pass
        stream.get_final_completion()


def responses_create(client: Any, rec: Recording) -> None:
    """``responses.create``."""
    client.responses.create(**_responses_kwargs(rec))


async def aresponses_create(client: Any, rec: Recording) -> None:
    """Async ``responses.create``."""
    await client.responses.create(**_responses_kwargs(rec))


def responses_stream(client: Any, rec: Recording) -> None:
    """``responses.create(stream=True)`` iterated to the end."""
    for _ in client.responses.create(stream=True, **_responses_kwargs(rec)):
        pass


async def aresponses_stream(client: Any, rec: Recording) -> None:
    """Async ``responses.create(stream=True)`` iterated to the end."""
    async for _ in await client.responses.create(stream=True, **_responses_kwargs(rec)):
        pass


def responses_helper(client: Any, rec: Recording) -> None:
    """``responses.stream()`` helper read through ``get_final_response()``."""
    with client.responses.stream(**_responses_kwargs(rec, tools=False)) as stream:
        stream.get_final_response()


async def aresponses_helper(client: Any, rec: Recording) -> None:
    """Async ``responses.stream()`` helper, iterated."""
    async with client.responses.stream(**_responses_kwargs(rec, tools=False)) as stream:
        async for _ in stream:
            pass


def messages_create(client: Any, rec: Recording) -> None:
    """``messages.create``."""
    client.messages.create(**_anthropic_kwargs(rec))


async def amessages_create(client: Any, rec: Recording) -> None:
    """Async ``messages.create``."""
    await client.messages.create(**_anthropic_kwargs(rec))


def messages_stream(client: Any, rec: Recording) -> None:
    """``messages.create(stream=True)`` iterated to the end."""
    for _ in client.messages.create(stream=True, **_anthropic_kwargs(rec)):
        pass


async def amessages_stream(client: Any, rec: Recording) -> None:
    """Async ``messages.create(stream=True)`` iterated to the end."""
    async for _ in await client.messages.create(stream=True, **_anthropic_kwargs(rec)):
        pass


def messages_helper(client: Any, rec: Recording) -> None:
    """``messages.stream()`` helper read through ``get_final_message()``."""
    with client.messages.stream(**_anthropic_kwargs(rec)) as stream:
        stream.get_final_message()


async def amessages_helper(client: Any, rec: Recording) -> None:
    """Async ``messages.stream()`` helper, text iterated."""
    async with client.messages.stream(**_anthropic_kwargs(rec)) as stream:
        async for _ in stream.text_stream:
            pass


def generate(client: Any, rec: Recording) -> None:
    """``models.generate_content``."""
    client.models.generate_content(**_gemini_kwargs(rec))


async def agenerate(client: Any, rec: Recording) -> None:
    """``aio.models.generate_content``."""
    await client.aio.models.generate_content(**_gemini_kwargs(rec))


def generate_stream(client: Any, rec: Recording) -> None:
    """``models.generate_content_stream`` iterated to the end."""
    for _ in client.models.generate_content_stream(**_gemini_kwargs(rec)):
        pass


async def agenerate_stream(client: Any, rec: Recording) -> None:
    """``aio.models.generate_content_stream`` iterated to the end."""
    stream = await client.aio.models.generate_content_stream(**_gemini_kwargs(rec))
    async for _ in stream:
        pass


def converse(client: Any, rec: Recording) -> None:
    """Bedrock ``converse``."""
    client.converse(**_bedrock_kwargs(rec))


def converse_stream(client: Any, rec: Recording) -> None:
    """Bedrock ``converse_stream``, every event read."""
    for _ in client.converse_stream(**_bedrock_kwargs(rec))["stream"]:
        pass


Style = Callable[[Any, Recording], Any]

# api -> (wrapper, client factory, path the SDK must call, plain styles, stream styles)
APIS: dict[str, tuple[type, Callable[[str, bool], Any], str, list[Style], list[Style]]] = {
    "openai-chat": (
        OpenAIChatWrapper,
        _openai,
        "/v1/chat/completions",
        [chat_create, achat_create],
        [chat_stream, achat_stream, chat_helper],
    ),
    "groq": (
        OpenAIChatWrapper,
        _openai,
        "/v1/chat/completions",
        [chat_create, achat_create],
        [chat_stream, achat_stream, chat_helper],
    ),
    "openai-responses": (
        OpenAIChatWrapper,
        _openai,
        "/v1/responses",
        [responses_create, aresponses_create],
        [responses_stream, aresponses_stream, responses_helper, aresponses_helper],
    ),
    "anthropic": (
        AnthropicWrapper,
        _anthropic,
        "/v1/messages",
        [messages_create, amessages_create],
        [messages_stream, amessages_stream, messages_helper, amessages_helper],
    ),
    "gemini": (
        GeminiWrapper,
        _gemini,
        "/models/",
        [generate, agenerate],
        [generate_stream, agenerate_stream],
    ),
    "bedrock": (BedrockWrapper, _bedrock, "/model/", [converse], [converse_stream]),
}

CASES = [
    pytest.param(rec, style, id=f"{rec.key}-{style.__name__}")
    for rec in RECORDINGS
    for style in APIS[rec.api][4 if rec.streamed else 3]
]


def _wrap(rec: Recording, client: Any, tracker: Any) -> Any:
    wrapper = APIS[rec.api][0]
    if wrapper is OpenAIChatWrapper:
        return wrapper(client, tracker=tracker, vendor=rec.vendor)
    return wrapper(client, tracker=tracker)


def _web_search_calls(rec: Recording) -> int:
    """OpenAI Responses bills each ``web_search_call`` output item (not part of ``usage``)."""
    for event in reversed(rec.events):
        inner = event.get("response") or event
        if isinstance(inner.get("output"), list) and inner.get("usage"):
            return sum(1 for item in inner["output"] if item.get("type") == "web_search_call")
    return 0


def _contains(stored: Any, recorded: Any) -> bool:
    """Every field of ``recorded`` is in ``stored`` with the same value (nested, lists equal)."""
    if isinstance(recorded, dict):
        return isinstance(stored, dict) and all(
            k in stored and _contains(stored[k], v) for k, v in recorded.items()
        )
    if isinstance(recorded, list):
        return (
            isinstance(stored, list)
            and len(stored) == len(recorded)
            and all(_contains(s, r) for s, r in zip(stored, recorded, strict=True))
        )
    return bool(stored == recorded)


def _sdk_usage(rec: Recording) -> dict[str, Any]:
    """The provider's usage as the SDK hands it over (botocore keeps only its model's fields)."""
    if rec.api != "bedrock":
        return rec.usage
    members = botocore.session.get_session().get_service_model("bedrock-runtime")
    known = members.shape_for("TokenUsage").members
    return {k: v for k, v in rec.usage.items() if k in known}


@dataclass
class Outcome:
    """What one recording's replay produced in a group: requests seen, events stored."""

    received: list[Received] = field(default_factory=list)
    stored: list[Stored] = field(default_factory=list)
    unpriced: set[str] = field(default_factory=set)
    estimated: bool = False
    error: BaseException | None = None


async def _pricing_notes(options: dict[str, Any]) -> dict[str, tuple[set[str], bool]]:
    """Per response id: the usage fields no rate covered, and whether it was estimated."""
    notes: dict[str, tuple[set[str], bool]] = {}
    client_options = {
        "aicm_api_key": options["aicm_api_key"],
        "aicm_api_base": options["aicm_api_base"],
        "aicm_ini_path": str(options["ini_path"]),
    }
    async with AsyncCostManagerClient(**client_options) as client:
        async for line in client.iter_cost_events():
            unpriced, estimated = notes.setdefault(line.response_id, (set(), False))
            unpriced.update(getattr(line, "unpriced_fields", None) or [])
            if getattr(line, "fully_priced", True) is False and not unpriced:
                unpriced.add("(not fully priced)")
            notes[line.response_id] = (unpriced, estimated or bool(getattr(line, "estimated", 0)))
    return notes


class Runs:
    """Replays every recording of a call style once, in one tracker on one fresh API key.

    One tracker and one read-back per style keeps the corpus fast; each recording is replayed
    in its own ``tracking_scope(customer_key=...)``, so its events are told apart exactly.
    """

    def __init__(self, replay: ReplayServer, admin: Any, root: Path, base: str) -> None:
        self.replay, self.admin, self.root, self.base = replay, admin, root, base
        self._done: dict[str, dict[str, Outcome]] = {}

    def _options(self, style: Style) -> dict[str, Any]:
        folder = self.root / style.__name__
        folder.mkdir()
        return {
            "aicm_api_key": self.admin.new_api_key()[0],
            "aicm_api_base": self.base,
            "ini_path": folder / "AICM.INI",
            "db_path": folder / "queue.db",
            "backoff_base": 0.05,
            "backoff_max": 0.5,
            "batch_interval": 0.005,
            "timeout": 5.0,
        }

    async def get(self, style: Style) -> dict[str, Outcome]:
        """The outcome of every recording replayed with ``style`` (replayed on first use)."""
        if style.__name__ not in self._done:
            recs = [c.values[0] for c in CASES if c.values[1] is style]
            options = self._options(style)
            before = {rec.key: len(self.replay.received(rec)) for rec in recs}
            if style.__name__.startswith("a"):
                outcomes = await self._run_async(style, recs, options)
            else:
                outcomes = await anyio.to_thread.run_sync(self._run_sync, style, recs, options)
            stored = await read_stored(options)
            notes = await _pricing_notes(options)
            for rec in recs:
                outcome = outcomes[rec.key]
                outcome.received = self.replay.received(rec)[before[rec.key] :]
                outcome.stored = [e for e in stored if e.customer_key == _customer(rec)]
                for event in outcome.stored:
                    unpriced, estimated = notes.get(event.response_id, (set(), False))
                    outcome.unpriced |= unpriced
                    outcome.estimated = outcome.estimated or estimated
            self._done[style.__name__] = outcomes
        return self._done[style.__name__]

    async def _run_async(
        self, style: Style, recs: list[Recording], options: dict[str, Any]
    ) -> dict[str, Outcome]:
        outcomes = {rec.key: Outcome() for rec in recs}
        async with AsyncTracker(**options) as tracker:
            for rec in recs:
                raw = APIS[rec.api][1](self.replay.base(rec), False)
                try:
                    with tracking_scope(customer_key=_customer(rec)):
                        await style(_wrap(rec, raw, tracker), rec)
                except Exception as exc:  # reported by that recording's test
                    outcomes[rec.key].error = exc
                finally:
                    await _aclose(raw)
            with anyio.fail_after(60):
                assert await tracker.flush()
        return outcomes

    def _run_sync(
        self, style: Style, recs: list[Recording], options: dict[str, Any]
    ) -> dict[str, Outcome]:
        outcomes = {rec.key: Outcome() for rec in recs}
        with Tracker(**options) as tracker:
            for rec in recs:
                raw = APIS[rec.api][1](self.replay.base(rec), True)
                try:
                    with tracking_scope(customer_key=_customer(rec)):
                        style(_wrap(rec, raw, tracker), rec)
                except Exception as exc:  # reported by that recording's test
                    outcomes[rec.key].error = exc
                finally:
                    raw.close()
            assert tracker.flush(60)
        return outcomes


def _customer(rec: Recording) -> str:
    return "corpus-" + re.sub(r"[^A-Za-z0-9_-]", "_", rec.key)


@pytest.fixture(scope="module")
def runs(
    replay: ReplayServer, local_server: Any, _session_admin: Any, tmp_path_factory: Any
) -> Runs:
    """The lazily replayed corpus of this module (one tracker and API key per call style)."""
    return Runs(replay, _session_admin, tmp_path_factory.mktemp("corpus"), local_server.url)


@pytest.mark.parametrize(("rec", "style"), CASES)
async def test_replayed_response_is_tracked_and_priced_at_list_price(
    runs: Runs, rec: Recording, style: Style
) -> None:
    """A replayed recording through SDK and wrapper: one event, exact usage, list price."""
    outcome = (await runs.get(style))[rec.key]
    if outcome.error is not None:
        raise outcome.error
    assert len(outcome.received) == 1, [r.path for r in outcome.received]
    assert APIS[rec.api][2] in outcome.received[0].path
    assert len(outcome.stored) == 1, outcome.stored
    event = outcome.stored[0]
    assert event.response_id == rec.response_id
    usage = _sdk_usage(rec)
    problems = []
    missing = {k: v for k, v in usage.items() if not _contains(event.usage.get(k), v)}
    if missing:
        problems.append(f"usage fields lost or changed: {missing}; stored {event.usage}")
    expected = expected_cost(rec.api, rec.vendor, rec.model, usage, _web_search_calls(rec))
    assert expected > 0
    if abs(event.cost - expected) > expected * TOLERANCE:
        problems.append(f"{event.service_key}: server {event.cost} vs list price {expected}")
    if outcome.unpriced:
        problems.append(f"flagged not fully priced: {sorted(outcome.unpriced)}")
    if outcome.estimated:
        problems.append("marked estimated, but the provider's usage arrived")
    assert not problems, "\n".join(problems)
