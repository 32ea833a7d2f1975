"""OpenAI calls traced by the official OpenTelemetry instrumentation, costed by AICostManager.

    pip install 'aicostmanager[otel]' opentelemetry-instrumentation-openai-v2
    export AICM_API_KEY=...   # and AICM_API_BASE for a local `aicostmanager serve`
    export OPENAI_API_KEY=... # (OPENAI_BASE_URL for an OpenAI-compatible server)
    python docs/examples/otel_openai.py
"""

from __future__ import annotations

import openai
from opentelemetry import trace
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.sdk.trace import TracerProvider

from aicostmanager import Tracker, tracking_scope
from aicostmanager.integrations.otel import AICMSpanProcessor


def main() -> None:
    """One chat call and one stream, each one event billed to ``acme``."""
    with Tracker() as tracker:
        provider = TracerProvider()
        provider.add_span_processor(AICMSpanProcessor(tracker))
        trace.set_tracer_provider(provider)
        OpenAIInstrumentor().instrument(tracer_provider=provider)

        client = openai.OpenAI()
        messages = [{"role": "user", "content": "Say hello"}]
        with tracking_scope(customer_key="acme"):
            client.chat.completions.create(model="gpt-4o-mini", messages=messages)
            # Streams carry usage only when asked for it.
            stream = client.chat.completions.create(
                model="gpt-4o-mini",
                messages=messages,
                stream=True,
                stream_options={"include_usage": True},
            )
            for _ in stream:
                pass
        tracker.flush(10)


if __name__ == "__main__":
    main()
