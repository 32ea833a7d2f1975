"""An OpenAI Agents SDK run costed per model response with ``AICMTracingProcessor``.

    pip install 'aicostmanager[openai-agents]'
    export AICM_API_KEY=... OPENAI_API_KEY=...
    python docs/examples/openai_agents_run.py
"""

from __future__ import annotations

import agents
from agents import Agent, RunConfig, Runner

from aicostmanager import Tracker
from aicostmanager.integrations.openai_agents import AICMTracingProcessor


def main() -> None:
    """One agent run; each model response is one event billed to ``acme``."""
    with Tracker() as tracker:
        agents.add_trace_processor(AICMTracingProcessor(tracker))
        agent = Agent(name="helper", instructions="Answer briefly.", model="gpt-4o-mini")
        config = RunConfig(trace_metadata={"customer_key": "acme"})
        result = Runner.run_sync(agent, "What is the capital of France?", run_config=config)
        print(result.final_output)
        tracker.flush(10)


if __name__ == "__main__":
    main()
