"""Overhead of ``AnthropicWrapper``, ``GeminiWrapper`` and ``BedrockWrapper`` over the bare SDKs.

Measures, with the real SDKs and a real tracker (persistent queue, in-process sink delivery):

1. **Added time per non-streaming call** (sync): Anthropic ``messages.create`` and Gemini
   ``models.generate_content``, both replaying a response recorded from the fake provider
   server (``tests/wrappers/fake_provider.py``) through an in-process mock transport, so
   network noise does not drown the microseconds measured. The median of per-round paired
   differences (wrapped minus bare). Target: ≤ 30 µs.
2. **Added time per streamed chunk** (sync): a recorded stream (Anthropic SSE, Gemini SSE)
   extended to N chunks, iterated wrapped vs bare, (difference) / N. Target: ≤ 2 µs.
3. Bedrock (boto3 has no transport seam): ``converse`` per call and ``converse_stream`` per
   event over real HTTP to the fake provider server on 127.0.0.1; reported only, as the
   loopback spread is larger than the overhead.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import boto3
import httpx
import httpx2
from _common import Measurement, SinkTransport, parse_args, print_header, report, tracker_options
from _common import workdir as _workdir
from bench_wrappers import paired
from botocore.config import Config
from google import genai
from google.genai import types

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aicostmanager import (
    AnthropicWrapper,
    BedrockWrapper,
    GeminiWrapper,
    Tracker,
)

NAME = "wrappers_providers"
CLAUDE = "claude-sonnet-4"
GEMINI = "gemini-2.5-flash"
NOVA = "amazon.nova-lite-v1:0"
MESSAGES = [{"role": "user", "content": "What is the answer?"}]


def _per_call_us(fn: Callable[[], Any], calls: int) -> float:
    gc.collect()
    start = time.perf_counter_ns()
    for _ in range(calls):
        fn()
    return (time.perf_counter_ns() - start) / calls / 1000


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
            call_m = Measurement(
                f"{name}: added time per call (sync)", "µs", target=30.0, higher_is_better=False
            )
            chunk_m = Measurement(
                f"{name}: added time per chunk (sync)", "µs", target=2.0, higher_is_better=False
            )
            call_m.extra = {"calls_per_round": calls, "rounds": rounds}
            chunk_m.extra = {"chunks_per_stream": chunks, "rounds": rounds}

            def timed_calls(client: Any, call: Callable[[Any], Any] = call) -> Callable[[], float]:
                return lambda: _per_call_us(lambda: call(client), calls)

            def timed_stream(
                client: Any, stream: Callable[[Any], Any] = stream
            ) -> Callable[[], float]:
                def run() -> float:
                    gc.collect()
                    start = time.perf_counter_ns()
                    for _ in stream(client):
                        pass
                    return (time.perf_counter_ns() - start) / chunks / 1000

                return run

            paired(call_m, timed_calls(bare), timed_calls(wrapped), rounds)
            paired(chunk_m, timed_stream(bare), timed_stream(wrapped), rounds)
            results += [call_m, chunk_m]
        tracker.flush(30)
        results[0].extra["events_enqueued"] = tracker.statistics().enqueued
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

        def converse(c: Any) -> Callable[[], float]:
            return lambda: _per_call_us(lambda: c.converse(modelId=NOVA, messages=BMSG), calls)

        def stream(c: Any) -> Callable[[], float]:
            def one() -> None:
                for _ in c.converse_stream(modelId=NOVA, messages=BMSG)["stream"]:
                    pass

            return lambda: _per_call_us(one, calls)

        paired(call_m, converse(bare), converse(wrapped), rounds)
        paired(event_m, stream(bare), stream(wrapped), rounds)
        tracker.flush(30)
    return [call_m, event_m]


BMSG = [{"role": "user", "content": [{"text": "hi"}]}]


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
        measurements = bench_mocked(args, bodies)
        measurements += bench_bedrock(args, fake.url)
    finally:
        fake.stop()
    report(NAME, measurements, info, args)
    return measurements


if __name__ == "__main__":
    main()
