"""Offline token estimates for streams that end before the provider reports their usage.

A provider bills the whole prompt of a request even when the caller abandons the stream
before its usage arrives (a ``break``, a closed page, an exception). The wrapper then
estimates the input from the request it sent, and the output from the text it saw. Nothing
is downloaded and no tokenizer is bundled: the estimate is a heuristic over the text.

The output of a stream is estimated from the characters of text seen, four per token (the
usual English figure; never fewer than one token per content chunk). The input heuristic
(see ``docs/wrappers.md`` for its measured error and how its constants were fitted): text
is cut into runs of letters, runs of digits, runs of other symbols and whitespace. A run of
letters costs one token plus one per ``_LONG_WORD_LETTERS`` (common English words are one
token; long or rare words split), a run of digits one plus one per ``_LONG_NUMBER_DIGITS``,
symbols one per started two, whitespace nothing (tokenizers glue it to the next word). Each
message adds ``_PER_MESSAGE`` tokens of framing; some model families get a hidden header
(``_MODEL_PREAMBLES``); tool definitions are counted as their JSON text scaled per provider,
plus a per-provider tool-use preamble and per-tool framing.
Binary parts (images, audio, files, base64 data) are not counted: their cost depends on
the model and is left out, so the estimate of a multimodal prompt is low.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ._common import ESTIMATED, field, usage_dict

__all__ = (
    "anthropic_input_tokens",
    "gemini_input_tokens",
    "partial_usage",
    "request_input_tokens",
    "text_tokens",
)

_PER_MESSAGE = 4
_PER_REQUEST = 3
_PER_TOOL = 8
_OUTPUT_CHARS_PER_TOKEN = 4
_PIECES = re.compile(r"([^\W\d_]+)|(\d+)|((?:[^\w\s]|_)+)")
# A run of letters costs one token plus one per _LONG_WORD_LETTERS (long or rare words
# split), a run of digits one plus one per _LONG_NUMBER_DIGITS, symbols one per started two.
_LONG_WORD_LETTERS = 8
_LONG_NUMBER_DIGITS = 4
_LONG_WORD = b"a" * _LONG_WORD_LETTERS
_LONG_NUMBER = b"0" * _LONG_NUMBER_DIGITS
# ASCII character classes: letters a, digits 0, whitespace and control characters a space,
# everything else (punctuation, symbols, underscore) a dot.
_CLASSES = bytes(
    97 if chr(c).isalpha() else 48 if chr(c).isdigit() else 32 if c < 33 or c == 127 else 46
    for c in range(256)
)
# Keys whose values are not text the model reads as tokens (binary data, ids, settings).
_SKIPPED_KEYS = frozenset(
    {
        "image_url",
        "input_image",
        "input_audio",
        "file",
        "file_data",
        "file_id",
        "data",
        "bytes",
        "inline_data",
        "inlineData",
        "fileData",
        "source",
        "image",
        "document",
        "video",
        "audio",
        "cache_control",
        "cachePoint",
        "id",
        "tool_use_id",
        "tool_call_id",
        "call_id",
        "signature",
        "encrypted_content",
        "thoughtSignature",  # Gemini: opaque base64 the model does not read as text
        "thought_signature",
    }
)
# Keys of a message that frame it rather than carry text.
_FRAME_KEYS = frozenset({"role", "type", "name"})
# Request keywords that reach the model as prompt text, per provider shape.
_PROMPT_KEYS = (
    "messages",  # OpenAI chat, Anthropic, Bedrock Converse
    "input",  # OpenAI Responses
    "instructions",
    "prompt",  # legacy completions
    "system",  # Anthropic, Bedrock Converse
    "contents",  # Gemini
    "message",  # Gemini chat send_message
    "systemInstruction",  # Gemini REST bodies
)
_TOOL_KEYS = ("tools", "functions", "toolConfig")
# Structured-output schemas are rendered into the prompt too.
_SCHEMA_KEYS = ("response_format", "text", "output_config", "output_format")


def text_tokens(text: str) -> int:
    """The estimated token count of ``text`` (see the module docstring)."""
    if not text.isascii():
        return _unicode_tokens(text)
    # ASCII: one class byte per character, then runs and long runs are counted by
    # ``bytes.count`` in C (a regex costs about half a microsecond per token).
    b = text.encode("ascii").translate(_CLASSES)
    starts = (b[:1] == b"a") + (b[:1] == b"0")
    for before in b" .":
        starts += b.count(bytes((before, 97))) + b.count(bytes((before, 48)))
    starts += b.count(b"0a") + b.count(b"a0")
    return starts + b.count(_LONG_WORD) + b.count(_LONG_NUMBER) + b.count(b".") - b.count(b"..")


def _unicode_tokens(text: str) -> int:
    """``text_tokens`` of text with non-ASCII characters (same rules, slower)."""
    count = 0
    for match in _PIECES.finditer(text):
        letters, digits, symbols = match.groups()
        if letters is not None:
            count += 1 + len(letters) // _LONG_WORD_LETTERS
        elif digits is not None:
            count += 1 + len(digits) // _LONG_NUMBER_DIGITS
        elif symbols is not None:
            count += len(symbols) - len(symbols) // 2
    return count


def _strings(value: Any, depth: int = 0) -> Iterable[str]:
    """The text of a message, content part or any nested JSON-like value."""
    if depth > 12 or value is None:
        return
    if isinstance(value, str):
        if not value.startswith("data:"):
            yield value
        return
    if isinstance(value, (bytes, bytearray, int, float, bool)):
        return
    if isinstance(value, Mapping):
        items: Iterable[tuple[Any, Any]] = value.items()
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item, depth + 1)
        return
    else:
        data = getattr(value, "__dict__", None)  # SDK objects (pydantic models, dataclasses)
        if not isinstance(data, dict):
            return
        items = data.items()
    for key, item in items:
        if key in _SKIPPED_KEYS or key in _FRAME_KEYS or str(key).startswith("_"):
            continue
        yield from _strings(item, depth + 1)


def _messages(value: Any) -> int:
    """How many messages a prompt value holds (its framing cost)."""
    if isinstance(value, (list, tuple)):
        return len(value)
    return 1 if value else 0


def _config(request: Mapping[str, Any]) -> Any:
    return (
        request.get("config") or request.get("generation_config") or request.get("generationConfig")
    )


# Hidden system prompts some model families get on every request (Llama 3's date header,
# gpt-oss's harmony preamble), by model-name prefix.
_MODEL_PREAMBLES = (("llama", 26), ("gpt-oss", 58))


def _model_preamble(model: Any) -> int:
    name = str(model or "").rsplit("/", 1)[-1].lower()
    return next((tokens for prefix, tokens in _MODEL_PREAMBLES if name.startswith(prefix)), 0)


def request_input_tokens(
    request: Mapping[str, Any],
    *,
    per_message: int = _PER_MESSAGE,
    per_request: int = _PER_REQUEST,
    with_tools: int = 0,
    per_tool: int = _PER_TOOL,
    schema_percent: int = 100,
    output_schemas: bool = True,
) -> int:
    """Estimate the input tokens a request is billed for, from its keyword arguments.

    Reads the prompt keywords of every supported provider: ``messages``, ``input``,
    ``instructions``, ``prompt``, ``system``, ``contents`` / ``message`` (Gemini, with the
    ``config``'s ``system_instruction`` and ``tools``), the tool definitions
    (``tools`` / ``functions`` / ``toolConfig``) and structured-output schemas, counted
    as their names and texts. ``per_message`` / ``per_request``: the provider's framing;
    ``with_tools``: the hidden system prompt a provider adds when tools are given;
    ``per_tool``: the framing of each tool; ``schema_percent``: how the provider's rendering
    of a tool's JSON schema compares with its text (100: as many tokens as the text);
    ``output_schemas``: whether structured-output schemas are billed as prompt (not by Gemini).
    """
    total = per_request + _model_preamble(request.get("model"))
    for key in _PROMPT_KEYS:
        value = request.get(key)
        if value is None:
            continue
        total += _messages(value) * per_message
        total += sum(text_tokens(text) for text in _strings(value))
    config = _config(request)
    system = field(config, "system_instruction") if config is not None else None
    if system is not None:
        total += per_message + sum(text_tokens(text) for text in _strings(system))
    tools: list[Any] = [request.get(key) for key in _TOOL_KEYS]
    schemas: list[Any] = [request.get(key) for key in _SCHEMA_KEYS]
    if config is not None:
        tools.append(field(config, "tools"))
        names = ("response_schema", "response_json_schema", "responseSchema", "responseJsonSchema")
        schemas.extend(field(config, name) for name in names)
    if any(tools):
        total += with_tools
    for value in tools:
        if value:
            words = sum(map(text_tokens, _schema_words(value)))
            total += per_tool * _messages(value) + -(-words * schema_percent // 100)
    for value in schemas if output_schemas else ():
        if value:
            total += sum(map(text_tokens, _schema_words(value)))
    return total


def _schema_words(value: Any, depth: int = 0) -> Iterable[str]:
    """The names and texts of tool definitions (their keys count: they are rendered)."""
    if depth > 12:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and key not in _SKIPPED_KEYS:
                yield key
                yield from _schema_words(item, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _schema_words(item, depth + 1)
    else:
        data = getattr(value, "__dict__", None)
        if isinstance(data, dict):
            clean = {k: v for k, v in data.items() if v is not None and not str(k).startswith("_")}
            yield from _schema_words(clean, depth + 1)


def anthropic_input_tokens(request: Mapping[str, Any]) -> int:
    """``request_input_tokens`` with Anthropic's tool-use system prompt (documented as 346
    tokens for ``tool_choice`` auto; 420 fitted on recordings) and tool schemas rendered at
    about twice their text's tokens (fitted)."""
    return request_input_tokens(request, with_tools=420, schema_percent=200)


def gemini_input_tokens(request: Mapping[str, Any]) -> int:
    """``request_input_tokens`` for Gemini: no per-message framing, one token per request,
    function declarations at a fifth of their text (fitted), response schemas not billed."""
    return request_input_tokens(
        request, per_message=0, per_request=1, schema_percent=20, output_schemas=False
    )


def partial_usage(seen: Any, output_name: str, chars: int, pieces: int) -> dict[str, Any]:
    """The usage of a stream that ended before its final usage.

    ``seen``: the usage the provider sent so far (kept as is). ``output_name`` becomes the
    estimate of the ``chars`` characters of text seen (one token per
    ``_OUTPUT_CHARS_PER_TOKEN``, never below ``pieces``, one token per content chunk, nor
    below a count the provider already sent) and is listed in ``aicm_estimated``: the final
    output count never arrived. Counting characters keeps the per-chunk cost and the memory
    of a long stream flat.
    """
    usage = usage_dict(seen) or {}
    guess = max(pieces, -(-chars // _OUTPUT_CHARS_PER_TOKEN))
    count = usage.get(output_name)
    usage[output_name] = max(count, guess) if type(count) is int else guess
    usage[ESTIMATED] = [output_name]
    return usage
