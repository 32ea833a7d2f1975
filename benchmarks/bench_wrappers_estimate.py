"""Error of the abandoned-stream input estimate against real recorded prompt token counts.

Reads recorded request/response pairs (vcrpy cassettes with ``parsed_body``, e.g. the public
pydantic/pydantic-ai ``tests/models/cassettes`` directory, MIT licence), estimates each
request's input tokens with ``aicostmanager._usage.estimate`` exactly as a wrapper does for a
stream abandoned before its usage, and compares with the provider's reported count (OpenAI
``prompt_tokens`` / Responses ``input_tokens``, Anthropic ``input_tokens`` plus cache reads and
writes, Gemini ``promptTokenCount`` plus ``toolUsePromptTokenCount``, Bedrock ``inputTokens``).

Requests with images, audio, files or documents are left out (their cost is not estimated,
see docs/wrappers.md), and so are compaction and thinking recordings (hidden prompt parts).
Groups: English text prompts, prompts with function tools, and "hidden" (part of the prompt is
server-side: stored conversations, provider-run tools, Groq); each also split into the "fit"
half the constants were chosen on and the "held-out" half (a hash of the file name). Figures:
count, median and 90th percentile of |error|, share within 25%, mean signed error; per provider
folder too; and µs per estimate of a 2,000-token request.

Usage: ``python benchmarks/bench_wrappers_estimate.py --cassettes <dir>`` (each sub-folder's
name tells the provider: ``test_openai``, ``test_anthropic``, ``test_google``, ...).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import zlib
from pathlib import Path
from typing import Any

from _common import Measurement, machine_info, report

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aicostmanager._usage.estimate import (
    anthropic_input_tokens,
    gemini_input_tokens,
    request_input_tokens,
)

_BINARY = (
    '"image_url"',
    '"inline_data"',
    '"inlineData"',
    '"file_data"',
    '"fileData"',
    '"image"',
    '"document"',
    '"input_image"',
    '"file"',
    "base64",
    '"bytes"',
    '"video"',
    '"audio"',
    '"input_audio"',
)


def _real_input(usage: dict[str, Any]) -> int | None:
    if "prompt_tokens" in usage:
        return int(usage["prompt_tokens"])
    if "inputTokens" in usage:
        extra = usage.get("cacheReadInputTokens", 0) + usage.get("cacheWriteInputTokens", 0)
        return int(usage["inputTokens"]) + int(extra)
    if "input_tokens" in usage:
        if "input_tokens_details" in usage or "output_tokens_details" in usage:
            return int(usage["input_tokens"])  # OpenAI Responses: cached tokens are included
        cache = (usage.get("cache_read_input_tokens") or 0) + (
            usage.get("cache_creation_input_tokens") or 0
        )
        return int(usage["input_tokens"]) + int(cache)
    if "promptTokenCount" in usage:
        return int(usage["promptTokenCount"]) + int(usage.get("toolUsePromptTokenCount", 0))
    return None


def _estimate(provider: str, request: dict[str, Any]) -> int:
    if "google" in provider or "gemini" in provider:
        return gemini_input_tokens(request)
    if "anthropic" in provider:
        return anthropic_input_tokens(request)
    return request_input_tokens(request)


# Request keys that add prompt text the client never sees: server-side conversation state,
# server-run tools (web search, MCP) and their hidden system prompts.
_HIDDEN_KEYS = (
    "previous_response_id",
    "conversation",
    "context_management",
    "mcp_servers",
    "web_search_options",
    "search_settings",
)
_TOOL_KEYS = ("tools", "toolConfig", "functions")


def _server_tool(tool: Any) -> bool:
    """A provider-run tool (web search, code execution, ...): its prompt and results are hidden."""
    if not isinstance(tool, dict):
        return False
    if any(k in tool for k in ("input_schema", "parameters", "function", "functionDeclarations")):
        return False
    return tool.get("type") not in (None, "function", "custom") or "toolSpec" not in tool


def _kind(provider: str, name: str, request: dict[str, Any]) -> str:
    """``hidden`` (part of the prompt is server-side), ``tools`` or ``text``."""
    model = str(request.get("model") or "")
    if (
        any(request.get(k) for k in _HIDDEN_KEYS)
        or "compact" in name
        or "groq" in provider  # Groq's built-in tools and system prompts on every model
        or model.startswith("compound")
        or any(_server_tool(t) for k in ("tools", "functions") for t in request.get(k) or ())
    ):
        return "hidden"
    return "tools" if any(request.get(k) for k in _TOOL_KEYS) else "text"


def _half(name: str) -> str:
    """``fit`` or ``held-out``: a stable split of the recordings by file name."""
    return "held-out" if zlib.crc32(name.encode()) % 2 else "fit"


def _pairs(root: Path) -> list[tuple[str, str, dict[str, Any], int]]:
    import yaml

    pairs = []
    for path in sorted(root.glob("*/*.yaml")):
        if "compaction" in path.name or "thinking" in path.name:
            continue
        try:
            data = yaml.safe_load(path.read_text())
        except Exception:  # not a cassette
            continue
        for interaction in (data or {}).get("interactions", []):
            request = interaction.get("request", {}).get("parsed_body")
            response = interaction.get("response", {}).get("parsed_body")
            if not isinstance(request, dict) or not isinstance(response, dict):
                continue
            usage = response.get("usage") or response.get("usageMetadata")
            real = _real_input(usage) if isinstance(usage, dict) else None
            if real is None or real < 5:
                continue
            if any(marker in json.dumps(request) for marker in _BINARY):
                continue
            pairs.append((path.parent.name, path.name, request, real))
    return pairs


def _summary(name: str, errors: list[float]) -> Measurement:
    absolute = sorted(abs(e) for e in errors)
    m = Measurement(name, "|error| %", [100 * statistics.median(absolute)])
    m.extra.update(
        count=len(errors),
        p90_abs_error_pct=round(100 * absolute[int(0.9 * (len(absolute) - 1))], 1),
        within_25_pct=round(100 * sum(a <= 0.25 for a in absolute) / len(absolute), 1),
        mean_signed_error_pct=round(100 * statistics.mean(errors), 1),
    )
    return m


def _speed(pairs: list[tuple[str, str, dict[str, Any], int]]) -> Measurement:
    """µs per estimate of a request of about 2,000 prompt tokens (recorded English text)."""
    texts = [
        m.get("content")
        for provider, name, request, _ in pairs
        if "openai" in provider and _kind(provider, name, request) == "text"
        for m in request.get("messages") or ()
        if isinstance(m, dict) and isinstance(m.get("content"), str)
    ]
    prompt = ""
    while request_input_tokens({"messages": [{"role": "user", "content": prompt}]}) < 2000:
        prompt += " ".join(texts) + "\n"
    request = {"messages": [{"role": "system", "content": "Be brief."}]}
    request["messages"].append({"role": "user", "content": prompt})
    runs = []
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(200):
            request_input_tokens(request)
        runs.append((time.perf_counter() - start) / 200 * 1e6)
    m = Measurement("input estimate, 2k-token prompt", "µs", runs, 200, higher_is_better=False)
    m.extra.update(tokens=request_input_tokens(request), chars=len(prompt))
    return m


def main(argv: list[str] | None = None) -> list[Measurement]:
    """Measure and report (``results/wrappers_estimate.json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cassettes", type=Path, required=True, help="folder of cassette folders")
    args = parser.parse_args(argv)
    args.quick, args.repeat = False, None
    groups: dict[str, list[float]] = {}
    pairs = _pairs(args.cassettes)
    for provider, name, request, real in pairs:
        kind = _kind(provider, name, request)
        error = (_estimate(provider, request) - real) / real
        groups.setdefault(kind, []).append(error)
        groups.setdefault(f"{kind}, {_half(name)}", []).append(error)
        groups.setdefault(f"{kind}, {provider}", []).append(error)
    measurements = [
        _summary(f"input estimate, {name}", errs) for name, errs in sorted(groups.items())
    ]
    info = {**machine_info(), "cassettes": str(args.cassettes)}
    print(f"{'group':<48} {'n':>5} {'median|e|':>10} {'p90|e|':>8} {'≤25%':>6} {'mean':>7}")
    for m in measurements:
        x = m.extra
        print(
            f"{m.name:<48} {x['count']:>5} {m.median:>9.1f}% {x['p90_abs_error_pct']:>7.1f}% "
            f"{x['within_25_pct']:>5.1f}% {x['mean_signed_error_pct']:>+6.1f}%"
        )
    speed = _speed(pairs)
    print(f"{speed.name}: {speed.median:.0f} µs ({speed.extra['tokens']} estimated tokens)")
    measurements.append(speed)
    report("wrappers_estimate", measurements, info, args)
    return measurements


if __name__ == "__main__":
    main()
