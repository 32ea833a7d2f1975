"""Turn a usage payload (exactly as the provider returned it) into genai-prices usage counts.

The payload's shape picks one of genai-prices' own usage extractors (its public
``Provider.extractors`` table: OpenAI chat / responses, Anthropic, Gemini, Bedrock Converse);
each mapping of that extractor is evaluated here rather than through ``UsageExtractor.extract``
so that we also learn *which* payload fields were read. A numeric field that no mapping read
and that is not informational (totals, timings, subsets already counted) is reported back as
unread: the caller flags it "not priced" rather than pricing it at zero. A total is
informational only while it is consistent: one that exceeds the sum of the counts it adds up
(OpenAI ``total_tokens``, Bedrock ``totalTokens``) is reported as unread too, since the surplus
is usage the provider counted but no field here prices.

Anthropic's ``usage.iterations`` (server-side compaction, advisor steps) is split into one
:class:`Part` per iteration, each billed like a message of its own (so each gets its own
long-context tier); the top-level token counts repeat the last iteration and are not billed
again. Gemini payloads are accepted in camelCase (REST) or snake_case (the Python SDK).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from genai_prices import data_snapshot
from genai_prices import types as gp_types

__all__ = ("ESTIMATED_KEY", "Extracted", "Part", "extract", "value_at")

ESTIMATED_KEY = "aicm_estimated"
"""Payload key listing the usage fields whose values are estimates (never priced itself)."""

# Numeric fields that are totals, timings or subsets of a count that is billed already.
_INFORMATIONAL = frozenset(
    {
        "total_tokens",
        "totalTokenCount",
        "totalTokens",
        "text_tokens",
        "accepted_prediction_tokens",
        "rejected_prediction_tokens",
        "queue_time",
        "prompt_time",
        "completion_time",
        "total_time",
    }
)
# Totals and the top-level counts they add up (Gemini's ``totalTokenCount`` is left out: its
# parts depend on the modality details). A total above its parts is usage nobody priced.
_TOTALS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("total_tokens", ("prompt_tokens", "completion_tokens")),
    ("total_tokens", ("input_tokens", "output_tokens")),
    (
        "totalTokens",
        ("inputTokens", "outputTokens", "cacheReadInputTokens", "cacheWriteInputTokens"),
    ),
)
_NOT_USAGE = frozenset({"service_tier", "model"})
_CAMEL = re.compile(r"_([a-z])")


@dataclass(slots=True)
class Part:
    """The genai-prices usage counts of one billed message (``label`` "" for the response
    itself, else the iteration's type, e.g. ``compaction``), and the payload fields read."""

    label: str
    counts: dict[str, int] = field(default_factory=dict)
    sources: dict[str, list[str]] = field(default_factory=dict)  # usage key -> payload fields


@dataclass(slots=True)
class Extracted:
    """What :func:`extract` found in one payload."""

    parts: list[Part]
    unread: list[str]  # numeric payload fields (dotted paths) that no mapping read
    price_context: dict[str, str]
    service_tier: str | None
    estimated: list[str]


# One extractor mapping, compiled: (usage key, path steps, reads a token count).
_Step = tuple[str, tuple[Any, ...], bool]

# Counts our wrappers add that genai-prices' extractors do not read (the provider reports
# them outside ``usage``): OpenAI bills each ``web_search_call`` output item of a response.
_WEB_SEARCH_CALLS: _Step = ("web_searches", ("web_search_calls",), False)
_OWN_MAPPINGS: dict[tuple[str, str], tuple[_Step, ...]] = {
    ("openai", "chat"): (_WEB_SEARCH_CALLS,),
    ("openai", "responses"): (_WEB_SEARCH_CALLS,),
}


@functools.cache
def _extractors() -> dict[tuple[str, str], tuple[_Step, ...]]:
    """genai-prices' extractors by (provider, API flavor), as tuples of compiled mappings."""
    out: dict[tuple[str, str], tuple[_Step, ...]] = {}
    for provider in data_snapshot.get_snapshot().providers:
        for extractor in provider.extractors or ():
            out[(provider.id, extractor.api_flavor)] = tuple(
                (
                    m.dest,
                    (m.path,) if isinstance(m.path, str) else tuple(m.path),
                    m.dest.endswith("_tokens"),
                )
                for m in extractor.mappings
            )
    for flavor, steps in _OWN_MAPPINGS.items():
        if flavor in out:
            out[flavor] += steps
    return out


def _camel(value: Any) -> Any:
    """snake_case keys (google-genai's ``model_dump``) as the REST API's camelCase."""
    if isinstance(value, Mapping):
        return {
            _CAMEL.sub(lambda m: m.group(1).upper(), str(k)): _camel(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def _flavor(
    payload: Mapping[str, Any], provider_id: str, units: Mapping[str, Any]
) -> tuple[str, str] | None:
    """The genai-prices extractor that reads ``payload`` (None: genai-prices' own keys)."""
    if all(k in units or k in _NOT_USAGE or k.startswith("aicm_") for k in payload):
        return None
    if "prompt_tokens" in payload or "completion_tokens" in payload:
        return ("openai", "chat")
    if "promptTokenCount" in payload or "candidatesTokenCount" in payload:
        return ("google", "default")
    if "inputTokens" in payload or "outputTokens" in payload:
        return ("aws", "default")
    anthropic_keys = ("cache_creation_input_tokens", "cache_read_input_tokens", "iterations")
    if any(k in payload for k in anthropic_keys) or "server_tool_use" in payload:
        return ("anthropic", "default")
    if provider_id == "anthropic" and "input_tokens" in payload:
        return ("anthropic", "default")
    if any(k in payload for k in ("input_tokens_details", "output_tokens_details")):
        return ("openai", "responses")
    if "web_search_calls" in payload and "input_tokens" in payload:
        return ("openai", "responses")
    return None


def _walk(steps: tuple[Any, ...], root: Mapping[str, Any]) -> tuple[Any, str] | None:
    """The value at an extractor path and its dotted payload path, or None when absent."""
    if len(steps) == 1:
        step = steps[0]
        return (root[step], step) if step in root else None
    current: Any = root
    names = []
    for step in steps:
        if isinstance(step, gp_types.ArrayMatch):
            if not isinstance(current, list):
                return None
            item = step.extract(current)
            if item is None:
                return None
            names.append(str(next(i for i, x in enumerate(current) if x is item)))
            current = item
        else:
            if type(current) is not dict or step not in current:
                return None
            names.append(step)
            current = current[step]
    return current, ".".join(names)


def _count(value: Any, where: str) -> int:
    if type(value) is int and value >= 0:
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where} is not a number")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{where} is not an integer")
    count = int(value)
    if count < 0:
        raise ValueError(f"{where} is negative")
    return count


def _read(
    plan: tuple[_Step, ...],
    usage: Mapping[str, Any],
    prefix: str,
    label: str,
    read: set[str],
    skip_tokens: bool = False,
) -> Part:
    part = Part(label)
    counts, sources = part.counts, part.sources
    for dest, steps, is_tokens in plan:
        found = _walk(steps, usage)
        if found is None:
            continue
        value, where = found
        if prefix:
            where = prefix + where
        read.add(where)
        if value is None or (skip_tokens and is_tokens):
            continue
        counts[dest] = counts.get(dest, 0) + _count(value, where)
        sources.setdefault(dest, []).append(where)
    return part


def _numeric_leaves(
    value: Any, path: str = "", out: list[tuple[str, str, Any]] | None = None
) -> list[tuple[str, str, Any]]:
    """``(dotted path, last name, value)`` of every number in ``value``."""
    if out is None:
        out = []
    items = value.items() if type(value) is dict else enumerate(value)
    for k, v in items:
        kind = type(v)
        if kind is int or kind is float:
            out.append((f"{path}.{k}" if path else str(k), str(k), v))
        elif kind is dict or kind is list:
            _numeric_leaves(v, f"{path}.{k}" if path else str(k), out)
    return out


def _native(payload: Mapping[str, Any], units: Mapping[str, Any], read: set[str]) -> Part:
    """A payload written in genai-prices' own usage keys."""
    part = Part("")
    for key, value in payload.items():
        if key in units and value is not None:
            part.counts[key] = _count(value, key)
            part.sources[key] = [key]
            read.add(key)
    return part


def _context(tier: Any) -> dict[str, str]:
    if not isinstance(tier, str) or not tier:
        return {}
    return {"processing": "batch"} if tier == "batch" else {"service_tier": tier}


def extract(payload: Mapping[str, Any], provider_id: str, units: Mapping[str, Any]) -> Extracted:
    """Read ``payload`` into genai-prices usage counts (see the module docstring).

    Which fields are read, and where, depends only on the payload's shape (its keys, the
    kinds of its values, and a few telling strings: modality, iteration type, service tier),
    so it is worked out once per shape and then only the values are read.

    Args:
        payload: the record's usage payload.
        provider_id: the genai-prices provider of the record's model (breaks the tie between
            Anthropic and OpenAI Responses, which share ``input_tokens`` / ``output_tokens``).
        units: genai-prices' usage keys (payloads written in them are read as they are).

    Raises:
        ValueError: a count is negative, fractional or not a number, or ``aicm_estimated`` is
            not a list of field names.
    """
    estimated = payload.get(ESTIMATED_KEY)
    if estimated is None:
        estimated = []
    elif not isinstance(estimated, list) or not all(isinstance(x, str) for x in estimated):
        raise ValueError(f"{ESTIMATED_KEY} must be a list of usage field names")
    usage: Mapping[str, Any] = payload
    if "prompt_token_count" in payload or "candidates_token_count" in payload:
        usage = _camel(payload)
    shape = (provider_id, _shape(usage, ""))
    plan = _plans.get(shape)
    if plan is None:
        plan = _plan(usage, provider_id, units)
        if len(_plans) > 4096:
            _plans.clear()
        _plans[shape] = plan
    parts = []
    for label, reads, names in plan.parts:
        counts: dict[str, int] = {}
        for dest, steps, where in reads:
            value: Any = usage
            for step in steps:
                value = value[step]
            if type(value) is not int or value < 0:
                value = _count(value, where)
            if dest in counts:
                counts[dest] += value
            else:
                counts[dest] = value
        parts.append(Part(label, counts, names))
    unread = [where for steps, where in plan.others if _at(usage, steps)] if plan.others else []
    return Extracted(
        parts=parts,
        unread=_surplus(usage, unread),
        # The service tier is a telling string of the shape: the plan's own.
        price_context=plan.price_context,
        service_tier=plan.service_tier,
        estimated=list(estimated) if estimated else [],
    )


def _surplus(usage: Mapping[str, Any], unread: list[str]) -> list[str]:
    """``unread`` plus each total that exceeds the sum of its parts (see ``_TOTALS``)."""
    for total_key, keys in _TOTALS:
        total = usage.get(total_key)
        if type(total) is not int or total_key in unread:
            continue
        values = [usage[k] for k in keys if k in usage]
        if values and all(type(v) is int for v in values) and total > sum(values):
            unread = [*unread, total_key]
    return unread


@dataclass(frozen=True)
class _Plan:
    """Where the counts of one payload shape are: per part, its label and per usage key the
    ``(steps, dotted path)`` of its fields; ``others``: numeric fields no mapping reads."""

    # Per part: label, (usage key, steps, dotted path) per field read (a key's fields in a
    # row), and the paths of each count (shared by every event of the shape: read only).
    parts: tuple[
        tuple[str, tuple[tuple[str, tuple[Any, ...], str], ...], dict[str, list[str]]], ...
    ]
    others: tuple[tuple[tuple[Any, ...], str], ...]
    price_context: dict[str, str]  # shared by every event of the shape: read only
    service_tier: str | None


_plans: dict[tuple[str, Any], _Plan] = {}
# String values that change how a payload is read (all others are just "a string").
_TELLING = frozenset({"modality", "type", "service_tier"})


def _shape(value: Any, key: str) -> Any:
    """A hashable summary of a payload: keys, value kinds and the telling strings."""
    kind = type(value)
    if kind is dict:
        # Numbers (most values) inline: a call per leaf would cost more than the rest.
        return tuple(
            [
                (k, 0) if (t := type(v)) is int or t is float else (k, _shape(v, k))
                for k, v in value.items()
            ]
        )
    if kind is list:
        return ("[", *[_shape(v, key) for v in value])
    if kind is int or kind is float:
        return 0
    if kind is str:
        return ("s", value) if key in _TELLING else "s"
    return kind.__name__


def _at(payload: Any, steps: tuple[Any, ...]) -> Any:
    for step in steps:
        payload = payload[step]
    return payload


def _steps(payload: Any, where: str) -> tuple[Any, ...]:
    """The keys and list indexes of a dotted path of ``payload``."""
    out: list[Any] = []
    for name in where.split("."):
        step: Any = int(name) if type(payload) is list else name
        out.append(step)
        payload = payload[step]
    return tuple(out)


def _plan(usage: Mapping[str, Any], provider_id: str, units: Mapping[str, Any]) -> _Plan:
    """Read one payload the slow way and remember where everything was."""
    read: set[str] = set()
    tier = usage.get("service_tier")
    flavor = _flavor(usage, provider_id, units)
    parts: list[Part] = []
    if flavor is None:
        parts.append(_native(usage, units, read))
    else:
        extractor = _extractors()[flavor]
        iterations = usage.get("iterations") if flavor[0] == "anthropic" else None
        if isinstance(iterations, list) and iterations:
            parts.append(_read(extractor, usage, "", "", read, skip_tokens=True))
            for index, item in enumerate(iterations):
                if type(item) is not dict:
                    continue
                label = str(item.get("type") or "message")
                parts.append(_read(extractor, item, f"iterations.{index}.", label, read))
            # The top-level token counts repeat the last iteration: read, not billed again.
            read.update(
                path
                for path, name, _ in _numeric_leaves(usage)
                if not path.startswith(("iterations.", "server_tool_use."))
                and name.endswith("_tokens")
            )
        else:
            parts.append(_read(extractor, usage, "", "", read))
    others = tuple(
        (_steps(usage, path), path)
        for path, name, _ in _numeric_leaves(usage)
        if path not in read and name not in _INFORMATIONAL and not path.startswith("aicm_")
    )
    return _Plan(
        parts=tuple(
            (
                part.label,
                tuple(
                    (dest, _steps(usage, w), w) for dest in part.counts for w in part.sources[dest]
                ),
                {dest: list(part.sources[dest]) for dest in part.counts},
            )
            for part in parts
            if part.counts or part.label
        ),
        others=others,
        price_context=_context(tier),
        service_tier=tier if isinstance(tier, str) else None,
    )


def value_at(payload: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted ``path`` of ``payload`` (list items by index), or None."""
    current: Any = payload
    for step in path.split("."):
        if isinstance(current, Mapping):
            current = current.get(step)
        elif isinstance(current, list) and step.isdigit() and int(step) < len(current):
            current = current[int(step)]
        else:
            return None
    return current
