"""A PydanticAI agent costed through its OpenTelemetry instrumentation (no Logfire needed).

    pip install 'aicostmanager[pydantic-ai]' 'pydantic-ai-slim[openai]'
    export AICM_API_KEY=... OPENAI_API_KEY=...
    python docs/examples/pydantic_ai_agent.py
"""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from pydantic_ai import Agent
from pydantic_ai.models.instrumented import InstrumentationSettings

from aicostmanager import Tracker, tracking_scope
from aicostmanager.integrations.otel import AICMSpanProcessor


def main() -> None:
    """One agent run; each model request is one event billed to ``acme``."""
    with Tracker() as tracker:
        provider = TracerProvider()
        provider.add_span_processor(AICMSpanProcessor(tracker))
        Agent.instrument_all(InstrumentationSettings(tracer_provider=provider))
        agent = Agent("openai:gpt-4o-mini", instructions="Answer briefly.")
        with tracking_scope(customer_key="acme"):
            print(agent.run_sync("What is the capital of France?").output)
        tracker.flush(10)


if __name__ == "__main__":
    main()
