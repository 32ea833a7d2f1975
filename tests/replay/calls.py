"""How the corpus calls each SDK: clients on the replay server, the recorded request, call styles.

``APIS`` maps a recording's ``api`` to its wrapper, its client factory, the path the SDK must
call, and the call styles that apply to a plain and to a streamed recording. A call style makes
the recorded call through the wrapped client and consumes the result as a user would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import boto3
import openai
from botocore.config import Config
from google import genai
from google.genai import types

from aicostmanager import (
    AnthropicWrapper,
    BedrockWrapper,
    GeminiWrapper,
    OpenAIChatWrapper,
)

from .recordings import Recording

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


async def aclose(client: Any) -> None:
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


# ---- the recorded request, and the call styles ---------------------------------------------


def _pick(rec: Recording, *names: str) -> dict[str, Any]:
    """The recorded request's values of ``names`` (those it has)."""
    return {name: rec.request[name] for name in names if rec.request.get(name)}


# The recorded request is sent as recorded (prompt, system, tools), so what the SDK sends is what
# the provider billed for. The SDKs' parse-and-stream helpers accept only strict function tools,
# so they get the request without its tools.


def chat_kwargs(rec: Recording, tools: bool = True) -> dict[str, Any]:
    extra = _pick(rec, "tools", "tool_choice") if tools else {}
    return {"model": rec.model, **_pick(rec, "messages"), **extra}


def responses_kwargs(rec: Recording, tools: bool = True) -> dict[str, Any]:
    extra = _pick(rec, "tools", "tool_choice") if tools else {}
    found = _pick(rec, "input", "instructions")
    return {"model": rec.model, "input": rec.prompt_text(), **found, **extra}


def anthropic_kwargs(rec: Recording) -> dict[str, Any]:
    return {
        "model": rec.model,
        "max_tokens": rec.request.get("max_tokens", 1024),
        "messages": [{"role": "user", "content": "Hello"}],
        **_pick(rec, "messages", "system", "tools", "tool_choice", "thinking"),
    }


def gemini_kwargs(rec: Recording) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if rec.request.get("systemInstruction"):
        config["system_instruction"] = types.Content.model_validate(
            rec.request["systemInstruction"]
        )
    if rec.request.get("tools"):
        config["tools"] = [types.Tool.model_validate(tool) for tool in rec.request["tools"]]
    contents = [types.Content.model_validate(c) for c in rec.request.get("contents") or []]
    return {"model": rec.model, "contents": contents or rec.prompt_text(), "config": config}


def bedrock_kwargs(rec: Recording) -> dict[str, Any]:
    text = [{"role": "user", "content": [{"text": rec.prompt_text()}]}]
    simple = all(
        set(part) == {"text"}
        for message in rec.request.get("messages") or [{"content": [{}]}]
        for part in message["content"]
    )
    messages = rec.request["messages"] if simple else text
    extra = _pick(rec, "system", "inferenceConfig", "additionalModelRequestFields", "toolConfig")
    return {"modelId": rec.model, "messages": messages, **extra}


def chat_create(client: Any, rec: Recording) -> None:
    """``chat.completions.create``."""
    client.chat.completions.create(**chat_kwargs(rec))


async def achat_create(client: Any, rec: Recording) -> None:
    """Async ``chat.completions.create``."""
    await client.chat.completions.create(**chat_kwargs(rec))


def chat_stream(client: Any, rec: Recording) -> None:
    """``chat.completions.create(stream=True)`` iterated to the end."""
    for _ in client.chat.completions.create(stream=True, **chat_kwargs(rec)):
        pass


async def achat_stream(client: Any, rec: Recording) -> None:
    """Async ``chat.completions.create(stream=True)`` iterated to the end."""
    async for _ in await client.chat.completions.create(stream=True, **chat_kwargs(rec)):
        pass


def chat_helper(client: Any, rec: Recording) -> None:
    """``chat.completions.stream()`` helper, then ``get_final_completion()``."""
    with client.chat.completions.stream(**chat_kwargs(rec, tools=False)) as stream:
        for _ in stream:
            pass
        stream.get_final_completion()


def responses_create(client: Any, rec: Recording) -> None:
    """``responses.create``."""
    client.responses.create(**responses_kwargs(rec))


async def aresponses_create(client: Any, rec: Recording) -> None:
    """Async ``responses.create``."""
    await client.responses.create(**responses_kwargs(rec))


def responses_stream(client: Any, rec: Recording) -> None:
    """``responses.create(stream=True)`` iterated to the end."""
    for _ in client.responses.create(stream=True, **responses_kwargs(rec)):
        pass


async def aresponses_stream(client: Any, rec: Recording) -> None:
    """Async ``responses.create(stream=True)`` iterated to the end."""
    async for _ in await client.responses.create(stream=True, **responses_kwargs(rec)):
        pass


def responses_helper(client: Any, rec: Recording) -> None:
    """``responses.stream()`` helper read through ``get_final_response()``."""
    with client.responses.stream(**responses_kwargs(rec, tools=False)) as stream:
        stream.get_final_response()


async def aresponses_helper(client: Any, rec: Recording) -> None:
    """Async ``responses.stream()`` helper, iterated."""
    async with client.responses.stream(**responses_kwargs(rec, tools=False)) as stream:
        async for _ in stream:
            pass


def messages_create(client: Any, rec: Recording) -> None:
    """``messages.create``."""
    client.messages.create(**anthropic_kwargs(rec))


async def amessages_create(client: Any, rec: Recording) -> None:
    """Async ``messages.create``."""
    await client.messages.create(**anthropic_kwargs(rec))


def messages_stream(client: Any, rec: Recording) -> None:
    """``messages.create(stream=True)`` iterated to the end."""
    for _ in client.messages.create(stream=True, **anthropic_kwargs(rec)):
        pass


async def amessages_stream(client: Any, rec: Recording) -> None:
    """Async ``messages.create(stream=True)`` iterated to the end."""
    async for _ in await client.messages.create(stream=True, **anthropic_kwargs(rec)):
        pass


def messages_helper(client: Any, rec: Recording) -> None:
    """``messages.stream()`` helper read through ``get_final_message()``."""
    with client.messages.stream(**anthropic_kwargs(rec)) as stream:
        stream.get_final_message()


async def amessages_helper(client: Any, rec: Recording) -> None:
    """Async ``messages.stream()`` helper, text iterated."""
    async with client.messages.stream(**anthropic_kwargs(rec)) as stream:
        async for _ in stream.text_stream:
            pass


def generate(client: Any, rec: Recording) -> None:
    """``models.generate_content``."""
    client.models.generate_content(**gemini_kwargs(rec))


async def agenerate(client: Any, rec: Recording) -> None:
    """``aio.models.generate_content``."""
    await client.aio.models.generate_content(**gemini_kwargs(rec))


def generate_stream(client: Any, rec: Recording) -> None:
    """``models.generate_content_stream`` iterated to the end."""
    for _ in client.models.generate_content_stream(**gemini_kwargs(rec)):
        pass


async def agenerate_stream(client: Any, rec: Recording) -> None:
    """``aio.models.generate_content_stream`` iterated to the end."""
    stream = await client.aio.models.generate_content_stream(**gemini_kwargs(rec))
    async for _ in stream:
        pass


def converse(client: Any, rec: Recording) -> None:
    """Bedrock ``converse``."""
    client.converse(**bedrock_kwargs(rec))


def converse_stream(client: Any, rec: Recording) -> None:
    """Bedrock ``converse_stream``, every event read."""
    for _ in client.converse_stream(**bedrock_kwargs(rec))["stream"]:
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


def wrap(rec: Recording, client: Any, tracker: Any) -> Any:
    wrapper = APIS[rec.api][0]
    if wrapper is OpenAIChatWrapper:
        return wrapper(client, tracker=tracker, vendor=rec.vendor)
    return wrapper(client, tracker=tracker)
