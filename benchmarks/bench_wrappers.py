"""Overhead of the LLM wrappers (``OpenAIChatWrapper``) against the bare ``openai`` SDK.

Measures, with the real SDK and a real tracker (persistent queue, in-process sink delivery):

Times are CPU time, so that other processes on a loaded machine do not count: the figures
are the caller's **thread CPU time** (the latency the wrapper adds to the call), as the median
of per-round paired differences between wrapped and bare. The process CPU time (all threads,
including the tracker committing and delivering the events in the background) is reported
next to each figure as ``process_cpu_added_us``.

1. **Added time per non-streaming call**, targets ≤ 30 µs sync and ≤ 27 µs async: the
   SDK's resource returns the ``ChatCompletion`` parsed from a response recorded from the fake
   provider server, so the difference is exactly what the wrapper adds (proxy, scope,
   limits check, usage extraction, ``track_nowait``).
2. **Added time per streamed chunk**, target ≤ 2 µs: the recorded chunks (parsed
   ``ChatCompletionChunk`` objects) iterated through the stream proxy vs directly.
3. The same two with the whole SDK in the loop (reported): the real ``openai`` client
   replaying the recorded bodies through an in-process ``httpx2.MockTransport``, and plain
   calls over real HTTP to the fake provider server (``tests/wrappers/fake_provider.py``).
4. **Memory against stream length**: peak traced allocations while iterating a wrapped
   stream minus the bare stream's, at 1,000 and 20,000 chunks (flat = nothing kept per chunk).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx2
import openai
from _common import (
    Measurement,
    SinkTransport,
    parse_args,
    print_header,
    report,
    tracker_options,
    workdir,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aicostmanager import AsyncTracker, OpenAIChatWrapper, Tracker

NAME = "wrappers"
MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "What is the answer?"}]


# ---- recorded responses ----------------------------------------------------------------------


def record_bodies() -> tuple[bytes, bytes]:
    """(chat completion JSON, chat SSE stream with usage) recorded from the fake provider."""
    from tests.wrappers.fake_provider import FakeProvider

    fake = FakeProvider()
    fake.start()
    try:
        with httpx2.Client(base_url=f"{fake.url}/v1") as http:
            plain = http.post("/chat/completions", json={"model": MODEL, "messages": MESSAGES})
            stream = http.post(
                "/chat/completions",
                json={
                    "model": MODEL,
                    "messages": MESSAGES,
                    "stream": True,
                    "stream_options": {"include_usage": True},
                },
            )
            return plain.content, stream.content
    finally:
        fake.stop()


def stream_of(recorded: bytes, chunks: int) -> bytes:
    """The recorded stream with its second content chunk repeated to ``chunks`` chunks."""
    events = [e for e in recorded.split(b"\n\n") if e]
    first, middle, tail = events[0], events[1], events[-3:]  # last content, usage, [DONE]
    body = [first] + [middle] * max(chunks - 2, 0) + tail
    return b"\n\n".join(body) + b"\n\n"


def _transport(plain: bytes, stream: bytes) -> httpx2.MockTransport:
    def handler(request: httpx2.Request) -> httpx2.Response:
        if b'"stream":true' in request.content or b'"stream": true' in request.content:
            return httpx2.Response(
                200, content=stream, headers={"content-type": "text/event-stream"}
            )
        return httpx2.Response(200, content=plain, headers={"content-type": "application/json"})

    return httpx2.MockTransport(handler)


def _sync_client(transport: Any, base_url: str = "http://fake.invalid/v1") -> openai.OpenAI:
    http = httpx2.Client(transport=transport) if transport is not None else None
    return openai.OpenAI(base_url=base_url, api_key="sk-bench", max_retries=0, http_client=http)


def _async_client(transport: Any) -> openai.AsyncOpenAI:
    http = httpx2.AsyncClient(transport=transport)
    return openai.AsyncOpenAI(
        base_url="http://fake.invalid/v1", api_key="sk-bench", max_retries=0, http_client=http
    )


# ---- timing ---------------------------------------------------------------------------------


Timing = tuple[float, float]  # (thread CPU µs, process CPU µs) per unit


def _clock() -> tuple[int, int]:
    return time.thread_time_ns(), time.process_time_ns()


def _per(start: tuple[int, int], units: int) -> Timing:
    thread, process = _clock()
    return (thread - start[0]) / units / 1000, (process - start[1]) / units / 1000


def _per_call_us(fn: Callable[[], Any], calls: int) -> Timing:
    gc.collect()
    start = _clock()
    for _ in range(calls):
        fn()
    return _per(start, calls)


async def _per_call_us_async(fn: Callable[[], Any], calls: int) -> Timing:
    gc.collect()
    start = _clock()
    for _ in range(calls):
        await fn()
    return _per(start, calls)


def paired(
    measurement: Measurement, bare: Callable[[], Timing], wrapped: Callable[[], Timing], rounds: int
) -> None:
    """Run ``rounds`` alternating bare/wrapped blocks; store each round's difference."""
    bare(), wrapped()  # warm-up
    bares: list[Timing] = []
    wraps: list[Timing] = []
    for index in range(rounds):
        if index % 2 == 0:
            b = bare()
            w = wrapped()
        else:
            w = wrapped()
            b = bare()
        bares.append(b)
        wraps.append(w)
        measurement.values.append(w[0] - b[0])
    finish(measurement, bares, wraps)


async def apaired(
    measurement: Measurement,
    bare: Callable[[], Awaitable[Timing]],
    wrapped: Callable[[], Awaitable[Timing]],
    rounds: int,
) -> None:
    """``paired`` for coroutines."""
    await bare()
    await wrapped()
    bares: list[Timing] = []
    wraps: list[Timing] = []
    for index in range(rounds):
        if index % 2 == 0:
            b = await bare()
            w = await wrapped()
        else:
            w = await wrapped()
            b = await bare()
        bares.append(b)
        wraps.append(w)
        measurement.values.append(w[0] - b[0])
    finish(measurement, bares, wraps)


def finish(measurement: Measurement, bares: list[Timing], wraps: list[Timing]) -> None:
    """Record the medians (thread and process CPU) and print the line."""
    process = statistics.median(w[1] - b[1] for b, w in zip(bares, wraps, strict=True))
    measurement.extra.update(
        bare_median_us=statistics.median(b[0] for b in bares),
        wrapped_median_us=statistics.median(w[0] for w in wraps),
        process_cpu_added_us=process,
    )
    print(
        f"  {measurement.name}: bare {measurement.extra['bare_median_us']:.1f} µs, wrapped "
        f"{measurement.extra['wrapped_median_us']:.1f} µs, added {measurement.median:.2f} "
        f"{measurement.unit} (process CPU incl. background delivery: {process:.2f} µs)"
    )


def bench_sync_calls(args: argparse.Namespace, plain: bytes, stream: bytes) -> list[Measurement]:
    """Added µs per sync plain call, and per streamed chunk."""
    calls = 100 if args.quick else 400
    rounds = 6 if args.quick else 20
    chunks = 500 if args.quick else 2000
    long_stream = stream_of(stream, chunks)
    call_m = Measurement("added time per call, whole SDK (sync)", "µs")
    chunk_m = Measurement("added time per chunk, whole SDK (sync)", "µs")
    call_m.extra = {"calls_per_round": calls, "rounds": rounds}
    chunk_m.extra = {"chunks_per_stream": chunks, "rounds": rounds}
    with workdir() as tmp, Tracker(**tracker_options(tmp, transport=SinkTransport())) as tracker:
        transport = _transport(plain, long_stream)
        bare = _sync_client(transport)
        wrapped = OpenAIChatWrapper(_sync_client(transport), tracker=tracker, vendor="openai")

        def call(client: Any) -> Callable[[], Timing]:
            def one() -> Any:
                return client.chat.completions.create(model=MODEL, messages=MESSAGES)

            return lambda: _per_call_us(one, calls)

        paired(call_m, call(bare), call(wrapped), rounds)

        def consume(client: Any) -> Callable[[], Timing]:
            def run() -> Timing:
                gc.collect()
                start = _clock()
                for _ in client.chat.completions.create(
                    model=MODEL, messages=MESSAGES, stream=True
                ):
                    pass
                return _per(start, chunks)

            return run

        paired(chunk_m, consume(bare), consume(wrapped), rounds)
        tracker.flush(30)
        stats = tracker.statistics()
        call_m.extra["events_enqueued"] = stats.enqueued
    return [call_m, chunk_m]


def bench_async_calls(args: argparse.Namespace, plain: bytes) -> list[Measurement]:
    """Added µs per async plain call."""
    calls = 100 if args.quick else 400
    rounds = 6 if args.quick else 20
    measurement = Measurement("added time per call, whole SDK (async)", "µs")
    measurement.extra = {"calls_per_round": calls, "rounds": rounds}

    async def main() -> None:
        with workdir() as tmp:
            options = tracker_options(tmp, transport=SinkTransport())
            async with AsyncTracker(**options) as tracker:
                transport = _transport(plain, b"")
                bare = _async_client(transport)
                wrapped = OpenAIChatWrapper(
                    _async_client(transport), tracker=tracker, vendor="openai"
                )

                def calls_of(client: Any) -> Callable[[], Awaitable[Timing]]:
                    create = client.chat.completions.create
                    return lambda: _per_call_us_async(
                        lambda: create(model=MODEL, messages=MESSAGES), calls
                    )

                await apaired(measurement, calls_of(bare), calls_of(wrapped), rounds)
                await bare.close()
                await wrapped.close()

    asyncio.run(main())
    return [measurement]


def bench_http(args: argparse.Namespace) -> list[Measurement]:
    """Added µs per call over real HTTP to the fake provider server (reported only)."""
    from tests.wrappers.fake_provider import FakeProvider

    calls = 20 if args.quick else 100
    rounds = 4 if args.quick else 10
    measurement = Measurement("added time per call, HTTP to the fake server (sync)", "µs")
    measurement.extra = {"calls_per_round": calls, "rounds": rounds}
    fake = FakeProvider()
    fake.start()
    try:
        with workdir() as tmp, Tracker(**tracker_options(tmp, transport=SinkTransport())) as tr:
            bare = _sync_client(None, f"{fake.url}/v1")
            wrapped = OpenAIChatWrapper(
                _sync_client(None, f"{fake.url}/v1"), tracker=tr, vendor="openai"
            )

            def call(client: Any) -> Callable[[], Timing]:
                def one() -> Any:
                    return client.chat.completions.create(model=MODEL, messages=MESSAGES)

                return lambda: _per_call_us(one, calls)

            paired(measurement, call(bare), call(wrapped), rounds)
            bare.close()
            wrapped.close()
    finally:
        fake.stop()
    return [measurement]


# ---- the wrapper alone: the SDK resource answers from memory --------------------------------


class _Completions:
    def __init__(self, response: Any, chunks: list[Any]) -> None:
        self.response, self.chunks = response, chunks

    def create(self, **kwargs: Any) -> Any:
        return _ListStream(self.chunks) if kwargs.get("stream") else self.response


class _AsyncCompletions(_Completions):
    async def create(self, **kwargs: Any) -> Any:  # type: ignore[override]
        return self.response


class _ListStream:
    def __init__(self, chunks: list[Any]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Any:
        return iter(self._chunks)

    def close(self) -> None:
        pass


class _Client:
    """The attribute path of ``openai.OpenAI`` (``chat.completions.create``), in memory."""

    base_url = "https://api.openai.com/v1"

    def __init__(self, completions: _Completions) -> None:
        self.chat = type("Chat", (), {"completions": completions})()


def parsed(plain: bytes, stream: bytes, chunks: int) -> tuple[Any, list[Any]]:
    """The recorded bodies parsed by the SDK's own models."""
    from openai.types.chat import ChatCompletion, ChatCompletionChunk

    events = [e for e in stream_of(stream, chunks).split(b"\n\n") if e.startswith(b"data: {")]
    return ChatCompletion.model_validate_json(plain), [
        ChatCompletionChunk.model_validate_json(e[6:]) for e in events
    ]


def bench_isolated(args: argparse.Namespace, plain: bytes, stream: bytes) -> list[Measurement]:
    """Added µs per call (sync, async) and per chunk, with the SDK answering from memory."""
    calls = 1000 if args.quick else 5000
    rounds = 6 if args.quick else 20
    chunks = 2000 if args.quick else 10000
    response, chunk_list = parsed(plain, stream, chunks)
    sync_m = Measurement("added time per call (sync)", "µs", target=30.0, higher_is_better=False)
    async_m = Measurement("added time per call (async)", "µs", target=27.0, higher_is_better=False)
    chunk_m = Measurement("added time per chunk", "µs", target=2.0, higher_is_better=False)
    sync_m.extra = {"calls_per_round": calls, "rounds": rounds}
    async_m.extra = {"calls_per_round": calls, "rounds": rounds}
    chunk_m.extra = {"chunks_per_stream": len(chunk_list), "rounds": rounds}
    with workdir() as tmp, Tracker(**tracker_options(tmp, transport=SinkTransport())) as tracker:
        bare = _Client(_Completions(response, chunk_list))
        wrapped = OpenAIChatWrapper(_Client(_Completions(response, chunk_list)), tracker=tracker)

        def call(client: Any) -> Callable[[], Timing]:
            create = client.chat.completions.create
            return lambda: _per_call_us(lambda: create(model=MODEL, messages=MESSAGES), calls)

        paired(sync_m, call(bare), call(wrapped), rounds)

        def consume(client: Any) -> Callable[[], Timing]:
            def run() -> Timing:
                gc.collect()
                start = _clock()
                for _ in client.chat.completions.create(
                    model=MODEL, messages=MESSAGES, stream=True
                ):
                    pass
                return _per(start, len(chunk_list))

            return run

        paired(chunk_m, consume(bare), consume(wrapped), rounds)

    async def run_async() -> None:
        with workdir() as tmp:
            async with AsyncTracker(**tracker_options(tmp, transport=SinkTransport())) as tr:
                abare = _Client(_AsyncCompletions(response, []))
                awrapped = OpenAIChatWrapper(_Client(_AsyncCompletions(response, [])), tracker=tr)

                def calls_of(client: Any) -> Callable[[], Awaitable[Timing]]:
                    create = client.chat.completions.create
                    return lambda: _per_call_us_async(
                        lambda: create(model=MODEL, messages=MESSAGES), calls
                    )

                await apaired(async_m, calls_of(abare), calls_of(awrapped), rounds)

    asyncio.run(run_async())
    return [sync_m, async_m, chunk_m]


def bench_memory(plain: bytes, stream: bytes) -> list[Measurement]:
    """Peak traced KiB while iterating a stream, wrapped minus bare, at two lengths."""
    results = []
    with workdir() as tmp, Tracker(**tracker_options(tmp, transport=SinkTransport())) as tracker:
        for chunks in (1_000, 20_000):
            body = stream_of(stream, chunks)
            transport = _transport(plain, body)
            peaks = {}
            for name in ("bare", "wrapped"):
                client: Any = _sync_client(transport)
                if name == "wrapped":
                    client = OpenAIChatWrapper(client, tracker=tracker, vendor="openai")
                gc.collect()
                tracemalloc.start()
                for _ in client.chat.completions.create(
                    model=MODEL, messages=MESSAGES, stream=True
                ):
                    pass
                peaks[name] = tracemalloc.get_traced_memory()[1] / 1024
                tracemalloc.stop()
                client.close()
            m = Measurement(f"extra peak memory, {chunks:,}-chunk stream", "KiB")
            m.values.append(peaks["wrapped"] - peaks["bare"])
            m.extra = {"bare_peak_kib": peaks["bare"], "wrapped_peak_kib": peaks["wrapped"]}
            print(
                f"  {chunks:,} chunks: bare peak {peaks['bare']:.0f} KiB, wrapped "
                f"{peaks['wrapped']:.0f} KiB"
            )
            results.append(m)
    return results


def main(argv: list[str] | None = None) -> list[Measurement]:
    """Run and report."""
    args = parse_args(__doc__, argv)
    info = print_header(NAME, __doc__)
    info["versions"]["openai"] = openai.__version__
    plain, stream = record_bodies()
    measurements = bench_isolated(args, plain, stream)
    measurements += bench_sync_calls(args, plain, stream)
    measurements += bench_async_calls(args, plain)
    measurements += bench_http(args)
    measurements += bench_memory(plain, stream)
    report(NAME, measurements, info, args)
    return measurements


if __name__ == "__main__":
    main()
