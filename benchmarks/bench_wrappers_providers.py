"""Overhead of ``AnthropicWrapper``, ``GeminiWrapper`` and ``BedrockWrapper`` over the bare SDKs.

Measures, with the real SDKs and a real tracker (persistent queue, in-process sink delivery).
Times are the caller's thread CPU time (``bench_wrappers``' clock and pairing: the median of
per-round differences, wrapped minus bare), so other processes on a loaded machine do not
count; the process CPU time (the tracker's background work included) is reported beside.

1. **Added time per non-streaming call** (sync, and async for Anthropic and Gemini), target
   ≤ 30 µs, and **per streamed event**, target ≤ 2 µs: the wrapper alone. In-memory clients
   with the SDKs' attribute paths answer with the SDKs' own objects (``Message`` and raw
   stream events, ``GenerateContentResponse`` chunks, Bedrock's dicts), parsed from bodies
   recorded from the fake provider server, so the difference is exactly what the wrapper
   adds (proxy, scope, limits check, usage extraction, ``track_nowait``).
2. The same with the whole SDK in the loop (reported): the real ``anthropic`` and
   ``google-genai`` clients replaying the recorded bodies through in-process mock transports.
3. Bedrock over real HTTP (boto3 has no transport seam): ``converse`` and ``converse_stream``
   per call to the fake provider server on 127.0.0.1 (reported).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anthropic
import boto3
import httpx
import httpx2
from _common import Measurement, SinkTransport, parse_args, print_header, report, tracker_options
from _common import workdir as _workdir
from bench_wrappers import Timing, _clock, _per, _per_call_us, _per_call_us_async, apaired, paired
from botocore.config import Config
from google import genai
from google.genai import types

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aicostmanager import (
    AnthropicWrapper,
    AsyncTracker,
    BedrockWrapper,
    GeminiWrapper,
    Tracker,
)

NAME = "wrappers_providers"
CLAUDE = "claude-sonnet-4"
GEMINI = "gemini-2.5-flash"
NOVA = "amazon.nova-lite-v1:0"
MESSAGES = [{"role": "user", "content": "What is the answer?"}]
BMSG = [{"role": "user", "content": [{"text": "hi"}]}]


# ---- recorded bodies --------------------------------------------------------------------------


def record_bodies(url: str) -> dict[str, bytes]:
    """Plain and streamed bodies of Anthropic and Gemini, recorded from the fake server."""
    with httpx.Client(base_url=url) as http:
        body = {"model": CLAUDE, "max_tokens": 64, "messages": MESSAGES}
        gemini = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
        return {
            "anthropic": http.post("/v1/messages", json=body).content,
            "anthropic_sse": http.post("/v1/messages", json={**body, "stream": True}).content,
            "gemini": http.post(f"/v1beta/models/{GEMINI}:generateContent", json=gemini).content,
            "gemini_sse": http.post(
                f"/v1beta/models/{GEMINI}:streamGenerateContent?alt=sse", json=gemini
            ).content,
        }


def anthropic_stream_of(recorded: bytes, chunks: int) -> bytes:
    """The recorded Anthropic SSE with its first text delta repeated to ``chunks`` deltas."""
    events = [e for e in recorded.split(b"\n\n") if e]
    delta = next(e for e in events if b"content_block_delta" in e)
    head = events[:3]  # message_start, content_block_start, ping
    tail = [e for e in events if b"content_block_stop" in e or b"message_" in e][1:]
    return b"\n\n".join(head + [delta] * chunks + tail) + b"\n\n"


def gemini_stream_of(recorded: bytes, chunks: int) -> bytes:
    """The recorded Gemini SSE with its first chunk repeated, then its final chunk."""
    events = [e for e in recorded.split(b"\r\n\r\n") if e]
    return b"\r\n\r\n".join([events[0]] * (chunks - 1) + [events[-1]]) + b"\r\n\r\n"


# ---- clients on mock transports ---------------------------------------------------------------


def _anthropic(bodies: dict[str, bytes], stream: bytes) -> anthropic.Anthropic:
    def handler(request: httpx2.Request) -> httpx2.Response:
        if b'"stream":true' in request.content or b'"stream": true' in request.content:
            return httpx2.Response(
                200, content=stream, headers={"content-type": "text/event-stream"}
            )
        return httpx2.Response(
            200, content=bodies["anthropic"], headers={"content-type": "application/json"}
        )

    http = httpx2.Client(transport=httpx2.MockTransport(handler))
    return anthropic.Anthropic(
        base_url="http://fake.invalid", api_key="sk-bench", max_retries=0, http_client=http
    )


def _gemini(bodies: dict[str, bytes], stream: bytes) -> genai.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        if b"streamGenerateContent" in request.url.raw_path:
            return httpx.Response(
                200, content=stream, headers={"content-type": "text/event-stream"}
            )
        return httpx.Response(
            200, content=bodies["gemini"], headers={"content-type": "application/json"}
        )

    http = httpx.Client(transport=httpx.MockTransport(handler))
    options = types.HttpOptions(base_url="http://fake.invalid", httpx_client=http)
    return genai.Client(api_key="gm-bench", http_options=options)


# ---- measurements -----------------------------------------------------------------------------


def bench_mocked(args: argparse.Namespace, bodies: dict[str, bytes]) -> list[Measurement]:
    """Added µs per call and per chunk for Anthropic and Gemini on mock transports."""
    calls = 100 if args.quick else 400
    rounds = 6 if args.quick else 20
    chunks = 500 if args.quick else 2000
    results: list[Measurement] = []
    with _workdir() as tmp, Tracker(**tracker_options(tmp, transport=SinkTransport())) as tracker:
        providers: list[tuple[str, Any, Any, Callable[[Any], Any], Callable[[Any], Any]]] = []
        a_stream = anthropic_stream_of(bodies["anthropic_sse"], chunks)
        providers.append(
            (
                "anthropic",
                _anthropic(bodies, a_stream),
                AnthropicWrapper(_anthropic(bodies, a_stream), tracker=tracker),
                lambda c: c.messages.create(model=CLAUDE, max_tokens=64, messages=MESSAGES),
                lambda c: c.messages.create(
                    model=CLAUDE, max_tokens=64, messages=MESSAGES, stream=True
                ),
            )
        )
        g_stream = gemini_stream_of(bodies["gemini_sse"], chunks)
        providers.append(
            (
                "gemini",
                _gemini(bodies, g_stream),
                GeminiWrapper(_gemini(bodies, g_stream), tracker=tracker),
                lambda c: c.models.generate_content(model=GEMINI, contents="hi"),
                lambda c: c.models.generate_content_stream(model=GEMINI, contents="hi"),
            )
        )
        for name, bare, wrapped, call, stream in providers:
            call_m = Measurement(f"{name}: added time per call, whole SDK (sync)", "µs")
            chunk_m = Measurement(f"{name}: added time per chunk, whole SDK (sync)", "µs")
            call_m.extra = {"calls_per_round": calls, "rounds": rounds}
            chunk_m.extra = {"chunks_per_stream": chunks, "rounds": rounds}

            def timed_calls(client: Any, call: Callable[[Any], Any] = call) -> Callable[[], Timing]:
                return lambda: _per_call_us(lambda: call(client), calls)

            def timed_stream(
                client: Any, stream: Callable[[Any], Any] = stream
            ) -> Callable[[], Timing]:
                def run() -> Timing:
                    gc.collect()
                    start = _clock()
                    for _ in stream(client):
                        pass
                    return _per(start, chunks)

                return run

            paired(call_m, timed_calls(bare), timed_calls(wrapped), rounds)
            paired(chunk_m, timed_stream(bare), timed_stream(wrapped), rounds)
            results += [call_m, chunk_m]
        tracker.flush(30)
        results[0].extra["events_enqueued"] = tracker.statistics().enqueued
    return results


# ---- the wrapper alone: in-memory clients answering with the SDKs' own objects ------------


class _ListStream:
    """A stream over prepared events (iterable, closable), like the SDKs' streams."""

    def __init__(self, events: list[Any]) -> None:
        self._events = events

    def __iter__(self) -> Any:
        return iter(self._events)

    def close(self) -> None:
        pass


class _Messages:
    def __init__(self, message: Any, events: list[Any]) -> None:
        self.message, self.events = message, events

    def create(self, **kwargs: Any) -> Any:
        return _ListStream(self.events) if kwargs.get("stream") else self.message


class _AsyncMessages(_Messages):
    async def create(self, **kwargs: Any) -> Any:  # type: ignore[override]
        return self.message


class _Models:
    def __init__(self, response: Any, chunks: list[Any]) -> None:
        self.response, self.chunks = response, chunks

    def generate_content(self, **kwargs: Any) -> Any:
        return self.response

    def generate_content_stream(self, **kwargs: Any) -> Any:
        return iter(self.chunks)


class _AsyncModels(_Models):
    async def generate_content(self, **kwargs: Any) -> Any:  # type: ignore[override]
        return self.response


class _Bedrock:
    def __init__(self, response: dict[str, Any], events: list[Any]) -> None:
        self.response, self.events = response, events

    def converse(self, **kwargs: Any) -> Any:
        return self.response

    def converse_stream(self, **kwargs: Any) -> Any:
        return {"ResponseMetadata": self.response["ResponseMetadata"], "stream": self.events}


def _holder(**attrs: Any) -> Any:
    return type("Namespace", (), attrs)()


def parsed(bodies: dict[str, bytes], chunks: int) -> dict[str, Any]:
    """The recorded bodies parsed by the SDKs' own models, streams extended to ``chunks``."""
    from anthropic.types import Message, RawMessageStreamEvent
    from pydantic import TypeAdapter

    events = TypeAdapter(RawMessageStreamEvent)
    sse = anthropic_stream_of(bodies["anthropic_sse"], chunks).split(b"\n\n")
    data = [
        line[6:]
        for e in sse
        for line in e.split(b"\n")
        if line.startswith(b"data: ") and b'"ping"' not in line  # the SDK drops pings
    ]
    g_sse = gemini_stream_of(bodies["gemini_sse"], chunks).split(b"\r\n\r\n")

    def gemini(raw: bytes) -> Any:
        body = json.loads(raw)
        return types.GenerateContentResponse._from_response(response=body, kwargs={})

    usage = {"inputTokens": 30, "outputTokens": 10, "totalTokens": 40}
    delta = {"contentBlockDelta": {"delta": {"text": "w "}, "contentBlockIndex": 0}}
    return {
        "message": Message.model_validate_json(bodies["anthropic"]),
        "events": [events.validate_json(d) for d in data],
        "gemini": gemini(bodies["gemini"]),
        "chunks": [gemini(e[6:]) for e in g_sse if e.startswith(b"data: ")],
        "converse": {
            "ResponseMetadata": {"RequestId": "req-1", "HTTPStatusCode": 200},
            "output": {"message": {"role": "assistant", "content": [{"text": "w0"}]}},
            "usage": usage,
        },
        "converse_events": [{"messageStart": {"role": "assistant"}}]
        + [delta] * (chunks - 2)
        + [{"metadata": {"usage": usage, "metrics": {"latencyMs": 1}}}],
    }


def bench_isolated(args: argparse.Namespace, bodies: dict[str, bytes]) -> list[Measurement]:
    """Added µs per call and per streamed event, the SDK answering from memory."""
    calls = 1000 if args.quick else 5000
    rounds = 6 if args.quick else 20
    chunks = 2000 if args.quick else 10000
    objs = parsed(bodies, chunks)
    results: list[Measurement] = []
    with _workdir() as tmp, Tracker(**tracker_options(tmp, transport=SinkTransport())) as tracker:

        def anthropic_client() -> Any:
            return _holder(messages=_Messages(objs["message"], objs["events"]))

        def gemini_client() -> Any:
            return _holder(models=_Models(objs["gemini"], objs["chunks"]))

        def bedrock_client() -> Any:
            return _Bedrock(objs["converse"], objs["converse_events"])

        cases: list[tuple[str, Any, Any, Callable[[Any], Any], Callable[[Any], Any], int]] = [
            (
                "anthropic",
                anthropic_client(),
                AnthropicWrapper(anthropic_client(), tracker=tracker),
                lambda c: c.messages.create(model=CLAUDE, max_tokens=64, messages=MESSAGES),
                lambda c: c.messages.create(
                    model=CLAUDE, max_tokens=64, messages=MESSAGES, stream=True
                ),
                len(objs["events"]),
            ),
            (
                "gemini",
                gemini_client(),
                GeminiWrapper(gemini_client(), tracker=tracker),
                lambda c: c.models.generate_content(model=GEMINI, contents="hi"),
                lambda c: c.models.generate_content_stream(model=GEMINI, contents="hi"),
                len(objs["chunks"]),
            ),
            (
                "bedrock",
                bedrock_client(),
                BedrockWrapper(bedrock_client(), tracker=tracker),
                lambda c: c.converse(modelId=NOVA, messages=BMSG),
                lambda c: c.converse_stream(modelId=NOVA, messages=BMSG)["stream"],
                len(objs["converse_events"]),
            ),
        ]
        for name, bare, wrapped, call, stream, events in cases:
            call_m = Measurement(
                f"{name}: added time per call (sync)", "µs", target=30.0, higher_is_better=False
            )
            event_m = Measurement(
                f"{name}: added time per streamed event", "µs", target=2.0, higher_is_better=False
            )
            call_m.extra = {"calls_per_round": calls, "rounds": rounds}
            event_m.extra = {"events_per_stream": events, "rounds": rounds}

            def timed_calls(client: Any, call: Callable[[Any], Any] = call) -> Callable[[], Timing]:
                return lambda: _per_call_us(lambda: call(client), calls)

            def timed_stream(
                client: Any, stream: Callable[[Any], Any] = stream, events: int = events
            ) -> Callable[[], Timing]:
                def run() -> Timing:
                    gc.collect()
                    start = _clock()
                    for _ in stream(client):
                        pass
                    return _per(start, events)

                return run

            paired(call_m, timed_calls(bare), timed_calls(wrapped), rounds)
            paired(event_m, timed_stream(bare), timed_stream(wrapped), rounds)
            results += [call_m, event_m]

    async def run_async() -> None:
        with _workdir() as tmp:
            async with AsyncTracker(**tracker_options(tmp, transport=SinkTransport())) as tr:
                for name, make, call in (
                    (
                        "anthropic",
                        lambda: _holder(messages=_AsyncMessages(objs["message"], [])),
                        lambda c: c.messages.create(model=CLAUDE, max_tokens=64, messages=MESSAGES),
                    ),
                    (
                        "gemini",
                        lambda: _holder(models=_AsyncModels(objs["gemini"], [])),
                        lambda c: c.models.generate_content(model=GEMINI, contents="hi"),
                    ),
                ):
                    measurement = Measurement(
                        f"{name}: added time per call (async)",
                        "µs",
                        target=30.0,
                        higher_is_better=False,
                    )
                    measurement.extra = {"calls_per_round": calls, "rounds": rounds}
                    bare = make()
                    wrapped = (AnthropicWrapper if name == "anthropic" else GeminiWrapper)(
                        make(), tracker=tr
                    )

                    def calls_of(client: Any, call: Any = call) -> Callable[[], Awaitable[Timing]]:
                        return lambda: _per_call_us_async(lambda: call(client), calls)

                    await apaired(measurement, calls_of(bare), calls_of(wrapped), rounds)
                    results.append(measurement)

    asyncio.run(run_async())
    return results


def bench_bedrock(args: argparse.Namespace, url: str) -> list[Measurement]:
    """Added µs per converse call and per converse_stream event over loopback HTTP."""
    calls = 20 if args.quick else 100
    rounds = 4 if args.quick else 10
    call_m = Measurement("bedrock: added time per converse call (HTTP to fake server)", "µs")
    event_m = Measurement("bedrock: added time per converse_stream call (HTTP)", "µs")
    call_m.extra = event_m.extra = {"calls_per_round": calls, "rounds": rounds}

    def client() -> Any:
        return boto3.client(
            "bedrock-runtime",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="AKIDBENCH",
            aws_secret_access_key="secret-bench",
            config=Config(retries={"max_attempts": 1}),
        )

    with _workdir() as tmp, Tracker(**tracker_options(tmp, transport=SinkTransport())) as tracker:
        bare, wrapped = client(), BedrockWrapper(client(), tracker=tracker)

        def converse(c: Any) -> Callable[[], Timing]:
            return lambda: _per_call_us(lambda: c.converse(modelId=NOVA, messages=BMSG), calls)

        def stream(c: Any) -> Callable[[], Timing]:
            def one() -> None:
                for _ in c.converse_stream(modelId=NOVA, messages=BMSG)["stream"]:
                    pass

            return lambda: _per_call_us(one, calls)

        paired(call_m, converse(bare), converse(wrapped), rounds)
        paired(event_m, stream(bare), stream(wrapped), rounds)
        tracker.flush(30)
    return [call_m, event_m]


def main(argv: list[str] | None = None) -> list[Measurement]:
    """Run and report."""
    args = parse_args(__doc__, argv)
    info = print_header(NAME, __doc__)
    info["versions"].update(
        anthropic=anthropic.__version__, google_genai=genai.__version__, boto3=boto3.__version__
    )
    from tests.wrappers.fake_provider import FakeProvider

    fake = FakeProvider()
    fake.start()
    try:
        bodies = record_bodies(fake.url)
        json.loads(bodies["anthropic"])  # the recording worked
        measurements = bench_isolated(args, bodies)
        measurements += bench_mocked(args, bodies)
        measurements += bench_bedrock(args, fake.url)
    finally:
        fake.stop()
    report(NAME, measurements, info, args)
    return measurements


if __name__ == "__main__":
    main()
