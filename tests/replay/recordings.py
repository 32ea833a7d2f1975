"""The recorded corpus: load ``tests/recordings/<api>/<name>.json`` and read what was recorded.

A recording is one real provider response (see ``docs/recordings.md``): its source (repository,
path, commit, licence), the request that was sent and the response that came back (status,
a few headers, the body as JSON, text, or base64 for binary event streams). The functions here
read from the recorded bytes what the provider billed: the final usage and the response id,
independently of the SDKs and of ``aicostmanager``'s extractors.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import unquote

__all__ = ("RECORDINGS", "Recording", "load_all")

ROOT = Path(__file__).resolve().parent.parent / "recordings"


@dataclass(frozen=True)
class Recording:
    """One recorded request and response, with what the provider billed for it."""

    path: Path
    data: dict[str, Any]

    @property
    def key(self) -> str:
        """``<api>/<name>``: the file's place in the corpus, also its URL prefix on the server."""
        return f"{self.api}/{self.data['name']}"

    @property
    def api(self) -> str:
        """The wire format: ``openai-chat``, ``openai-responses``, ``anthropic``, ``gemini``, ..."""
        api: str = self.data["api"]
        return api

    @property
    def vendor(self) -> str:
        """The vendor slug the wrapper bills to."""
        vendor: str = self.data["vendor"]
        return vendor

    @property
    def request(self) -> dict[str, Any]:
        """The recorded request body (JSON), ``{}`` when none was kept."""
        body: dict[str, Any] = self.data["request"]["body"].get("json") or {}
        return body

    @property
    def model(self) -> str:
        """The model the request named (body, or Gemini / Bedrock URL)."""
        if "model" in self.request:
            return str(self.request["model"])
        uri = self.data["request"]["uri"].split("?")[0]
        if "/model/" in uri:
            return unquote(uri.split("/model/")[1].split("/")[0])
        return uri.split("/models/")[1].split(":")[0]

    @property
    def streamed(self) -> bool:
        """Whether the response is a stream (SSE or AWS event stream)."""
        body = self.data["response"]["body"]
        return "text" in body or "base64" in body

    @property
    def content_type(self) -> str:
        """The recorded content type (streams default to their wire format)."""
        headers = self.data["response"]["headers"]
        if "content-type" in headers:
            return str(headers["content-type"])
        return (
            "text/event-stream" if "text" in self.data["response"]["body"] else "application/json"
        )

    @property
    def body_bytes(self) -> bytes:
        """The response body as served: JSON re-serialised, SSE text and binary as recorded."""
        body = self.data["response"]["body"]
        if "base64" in body:
            return base64.b64decode(body["base64"])
        if "text" in body:
            return str(body["text"]).encode()
        return json.dumps(body["json"]).encode()

    @property
    def aws_request_id(self) -> str:
        """A fixed request id for Bedrock replays (the source scrubbed the real header)."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, self.key))

    def prompt_text(self) -> str:
        """The first text the recorded request sent (a fallback prompt for simple requests)."""
        found = _first_text(self.request.get("messages") or self.request.get("contents") or [])
        return found or str(self.request.get("input") or "Hello")

    @cached_property
    def events(self) -> list[Any]:
        """The stream's events as JSON objects (SSE ``data:`` lines, or AWS event payloads)."""
        body = self.data["response"]["body"]
        if "base64" in body:
            return _aws_events(base64.b64decode(body["base64"]))
        if "text" not in body:
            return [body["json"]]
        lines = str(body["text"]).splitlines()
        return [
            json.loads(line[5:])
            for line in lines
            if line.startswith("data:") and line[5:].strip() not in ("", "[DONE]")
        ]

    @cached_property
    def usage(self) -> dict[str, Any]:
        """The final usage the provider reported, in its own field names."""
        return _USAGE[self.api](self.events)

    @cached_property
    def response_id(self) -> str:
        """The id the provider gave the response (Bedrock: the AWS request id)."""
        if self.api == "bedrock":
            return self.aws_request_id
        first = self.events[0]
        if self.api == "openai-responses":
            return str((first.get("response") or first)["id"])
        if self.api == "anthropic":
            return str((first.get("message") or first)["id"])
        if self.api == "gemini":
            return str(first["responseId"])
        return str(first["id"])

    @cached_property
    def response_model(self) -> str:
        """The model the response named (the request's when the response names none)."""
        first = self.events[0]
        inner = first.get("response") or first.get("message") or first
        return str(inner.get("model") or inner.get("modelVersion") or self.model)


def _first_text(items: Any) -> str | None:
    if isinstance(items, str):
        return items
    if isinstance(items, dict):
        if isinstance(items.get("text"), str) and not items["text"].startswith("<elided"):
            return str(items["text"])
        items = items.get("content") or items.get("parts") or []
    if isinstance(items, list):
        for item in items:
            found = _first_text(item)
            if found:
                return found
    return None


def _aws_events(raw: bytes) -> list[Any]:
    """Payloads of an AWS binary event stream (prelude: total length, header length, CRC)."""
    out, offset = [], 0
    while offset + 12 <= len(raw):
        total = int.from_bytes(raw[offset : offset + 4], "big")
        headers = int.from_bytes(raw[offset + 4 : offset + 8], "big")
        payload = raw[offset + 12 + headers : offset + total - 4]
        out.append(json.loads(payload))
        offset += total
    return out


def _openai_chat_usage(events: list[Any]) -> dict[str, Any]:
    found = [e["usage"] for e in events if e.get("usage")]
    return dict(found[-1])


def _groq_usage(events: list[Any]) -> dict[str, Any]:
    found = [e["x_groq"]["usage"] for e in events if (e.get("x_groq") or {}).get("usage")]
    return dict(found[-1]) if found else _openai_chat_usage(events)


def _responses_usage(events: list[Any]) -> dict[str, Any]:
    for event in reversed(events):
        inner = event.get("response") or event
        if inner.get("usage"):
            return dict(inner["usage"])
    raise LookupError("no usage in the recording")


def _anthropic_usage(events: list[Any]) -> dict[str, Any]:
    usage: dict[str, Any] = {}
    for event in events:
        inner = event.get("message") or event
        usage.update(inner.get("usage") or {})
    return usage


def _gemini_usage(events: list[Any]) -> dict[str, Any]:
    return dict([e["usageMetadata"] for e in events if e.get("usageMetadata")][-1])


def _bedrock_usage(events: list[Any]) -> dict[str, Any]:
    return dict([e["usage"] for e in events if e.get("usage")][-1])


_USAGE = {
    "openai-chat": _openai_chat_usage,
    "groq": _groq_usage,
    "openai-responses": _responses_usage,
    "anthropic": _anthropic_usage,
    "gemini": _gemini_usage,
    "bedrock": _bedrock_usage,
}


def load_all() -> list[Recording]:
    """Every recording of the corpus, sorted by key."""
    found = [Recording(path, json.loads(path.read_text())) for path in ROOT.glob("*/*.json")]
    return sorted(found, key=lambda r: r.key)


RECORDINGS = load_all()
