"""Overhead per model call of the framework integrations (target ≤ 50 µs each).

Each integration's hooks are driven with the framework's own objects, on a real ``Tracker``
(persistent queue, in-process sink delivery), with a fresh response id per call so every call
is really recorded (``track_nowait``):

1. ``AICMSpanProcessor``: a GenAI span started and ended through the OpenTelemetry SDK, minus
   the same span on a provider without the processor; and a plain (non-GenAI) span, which
   should cost next to nothing.
2. ``AICMCallbackHandler`` (LangChain): ``on_chat_model_start`` + ``on_llm_end`` with an
   ``LLMResult`` holding an ``AIMessage`` with ``usage_metadata``.
3. ``AICMLogger`` (LiteLLM): ``log_pre_api_call`` + ``log_success_event`` with a LiteLLM
   ``ModelResponse``.
4. ``AICMTracingProcessor`` (OpenAI Agents SDK): a ``response`` span started and finished
   inside a trace, minus the same with a processor that does nothing.

Figures are the caller's thread CPU time per call (so other processes on a loaded machine do
not count), the median over ``--repeat`` runs. ``track_nowait`` alone is measured the same way
for reference: each integration's figure includes one ``track_nowait``. The machine's load
average is in the JSON (on a shared, loaded machine every figure grows several times).
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import (
    Measurement,
    SinkTransport,
    parse_args,
    print_header,
    repeat_runs,
    report,
    tracker_options,
    workdir,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from aicostmanager import Tracker

NAME = "integrations"
TARGET_US = 50.0


def _per_call_us(calls: int, body: Callable[[int], None]) -> float:
    start = time.thread_time_ns()
    for i in range(calls):
        body(i)
    return (time.thread_time_ns() - start) / calls / 1000


def _ids(calls: int) -> list[str]:
    return [uuid.uuid4().hex for _ in range(calls)]


def nowait_run(tracker: Tracker, calls: int) -> float:
    ids = _ids(calls)
    usage = {"input_tokens": 19, "output_tokens": 8}
    return _per_call_us(
        calls, lambda i: tracker.track_nowait("openai::gpt-4o-mini", usage, response_id=ids[i])
    )


# ---- OpenTelemetry ---------------------------------------------------------------------------


def otel_runs(tracker: Tracker, calls: int) -> dict[str, Callable[[], float]]:
    from opentelemetry.sdk.trace import TracerProvider

    from aicostmanager.integrations.otel import AICMSpanProcessor

    with_aicm = TracerProvider()
    with_aicm.add_span_processor(AICMSpanProcessor(tracker))
    bare = TracerProvider()

    def genai(provider: TracerProvider) -> float:
        tracer = provider.get_tracer("bench")
        ids = _ids(calls)

        def one(i: int) -> None:
            with tracer.start_as_current_span("chat gpt-4o-mini") as span:
                span.set_attributes(
                    {
                        "gen_ai.operation.name": "chat",
                        "gen_ai.provider.name": "openai",
                        "gen_ai.request.model": "gpt-4o-mini",
                        "gen_ai.response.id": ids[i],
                        "gen_ai.usage.input_tokens": 19,
                        "gen_ai.usage.output_tokens": 8,
                    }
                )

        return _per_call_us(calls, one)

    def plain(provider: TracerProvider) -> float:
        tracer = provider.get_tracer("bench")

        def one(i: int) -> None:
            with tracer.start_as_current_span("GET /health") as span:
                span.set_attribute("http.method", "GET")

        return _per_call_us(calls, one)

    return {
        "otel GenAI span (added)": lambda: genai(with_aicm) - genai(bare),
        "otel non-GenAI span (added)": lambda: plain(with_aicm) - plain(bare),
    }


# ---- LangChain -------------------------------------------------------------------------------


def langchain_run(tracker: Tracker, calls: int) -> float:
    from langchain_core.messages import AIMessage
    from langchain_core.outputs import ChatGeneration, LLMResult

    from aicostmanager.integrations.langchain import AICMCallbackHandler

    handler = AICMCallbackHandler(tracker)
    metadata = {"ls_provider": "openai", "ls_model_name": "gpt-4o-mini", "customer_key": "acme"}
    results = []
    for rid in _ids(calls):
        message = AIMessage(
            content="forty-two",
            usage_metadata={
                "input_tokens": 19,
                "output_tokens": 8,
                "total_tokens": 27,
                "input_token_details": {"cache_read": 0},
                "output_token_details": {"reasoning": 0},
            },
            response_metadata={"id": rid, "model_name": "gpt-4o-mini"},
        )
        results.append((uuid.uuid4(), LLMResult(generations=[[ChatGeneration(message=message)]])))

    def one(i: int) -> None:
        run_id, result = results[i]
        handler.on_chat_model_start({}, [], run_id=run_id, metadata=metadata)
        handler.on_llm_end(result, run_id=run_id)

    return _per_call_us(calls, one)


# ---- LiteLLM ---------------------------------------------------------------------------------


def litellm_run(tracker: Tracker, calls: int) -> float:
    from litellm import ModelResponse, Usage

    from aicostmanager.integrations.litellm import AICMLogger

    logger = AICMLogger(tracker)
    calls_kwargs = []
    for rid in _ids(calls):
        response = ModelResponse(
            id=rid, model="gpt-4o-mini", usage=Usage(prompt_tokens=19, completion_tokens=8)
        )
        kwargs = {
            "litellm_call_id": uuid.uuid4().hex,
            "model": "gpt-4o-mini",
            "custom_llm_provider": "openai",
            "litellm_params": {"metadata": {"customer_key": "acme"}},
        }
        calls_kwargs.append((kwargs, response))

    def one(i: int) -> None:
        kwargs, response = calls_kwargs[i]
        logger.log_pre_api_call("gpt-4o-mini", [], kwargs)
        logger.log_success_event(kwargs, response, None, None)

    return _per_call_us(calls, one)


# ---- OpenAI Agents SDK -----------------------------------------------------------------------


def agents_run(tracker: Tracker, calls: int) -> float:
    import agents
    from agents.tracing import response_span, trace
    from openai.types.responses import Response, ResponseUsage
    from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

    from aicostmanager.integrations.openai_agents import AICMTracingProcessor

    def response(rid: str) -> Response:
        return Response.model_construct(
            id=rid,
            model="gpt-4o-mini",
            usage=ResponseUsage.model_construct(
                input_tokens=19,
                output_tokens=8,
                total_tokens=27,
                input_tokens_details=InputTokensDetails.model_construct(cached_tokens=0),
                output_tokens_details=OutputTokensDetails.model_construct(reasoning_tokens=0),
            ),
        )

    def timed(processors: list[Any]) -> float:
        agents.set_trace_processors(processors)
        responses = [response(rid) for rid in _ids(calls)]

        def one(i: int) -> None:
            with response_span(response=responses[i]):
                pass

        with trace("bench"):
            return _per_call_us(calls, one)

    class Idle(agents.TracingProcessor):
        """A processor that does nothing: the SDK builds the same spans for it."""

        def on_trace_start(self, trace: Any) -> None: ...
        def on_trace_end(self, trace: Any) -> None: ...
        def on_span_start(self, span: Any) -> None: ...
        def on_span_end(self, span: Any) -> None: ...
        def shutdown(self) -> None: ...
        def force_flush(self) -> None: ...

    try:
        return timed([AICMTracingProcessor(tracker)]) - timed([Idle()])
    finally:
        agents.set_trace_processors([])


def main() -> None:
    """Run the measurements, print them and write ``results/integrations.json``."""
    args = parse_args(__doc__)
    info = print_header(NAME, __doc__)
    calls = 2_000 if args.quick else 20_000
    measurements: list[Measurement] = []
    with workdir() as tmp, Tracker(**tracker_options(tmp, transport=SinkTransport())) as tracker:
        runs: dict[str, Callable[[], float]] = {
            "track_nowait alone (reference)": lambda: nowait_run(tracker, calls)
        }
        runs.update(otel_runs(tracker, calls))
        runs["langchain handler"] = lambda: langchain_run(tracker, calls)
        runs["litellm logger"] = lambda: litellm_run(tracker, calls)
        runs["agents processor (added)"] = lambda: agents_run(tracker, calls)
        for name, run in runs.items():
            target = None if name.startswith("track_nowait") else TARGET_US
            measurement = Measurement(
                name=name, unit="µs/call", target=target, higher_is_better=False
            )
            measurement.extra["calls_per_run"] = calls
            measurements.append(repeat_runs(measurement, args.repeat, run))
            tracker.flush(60)
    report(NAME, measurements, info, args)


if __name__ == "__main__":
    main()
