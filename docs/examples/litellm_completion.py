"""LiteLLM calls costed with AICostManager's prices via ``AICMLogger``.

    pip install 'aicostmanager[litellm]'
    export AICM_API_KEY=... OPENAI_API_KEY=... ANTHROPIC_API_KEY=...
    python docs/examples/litellm_completion.py
"""

from __future__ import annotations

import litellm

from aicostmanager import Tracker, tracking_scope
from aicostmanager.integrations.litellm import AICMLogger


def main() -> None:
    """A plain call billed to ``user=``, a stream billed by the tracking scope."""
    with Tracker() as tracker:
        litellm.callbacks = [AICMLogger(tracker)]
        messages = [{"role": "user", "content": "Say hello"}]
        litellm.completion(model="openai/gpt-4o-mini", messages=messages, user="acme")
        with tracking_scope(customer_key="globex"):
            # Finished in one of LiteLLM's threads, still billed to globex.
            for _ in litellm.completion(
                model="anthropic/claude-3-5-haiku-latest", messages=messages, stream=True
            ):
                pass
        tracker.flush(10)


if __name__ == "__main__":
    main()
