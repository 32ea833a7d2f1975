"""LangChain chat models costed per customer with ``AICMCallbackHandler``.

    pip install 'aicostmanager[langchain]' langchain-openai
    export AICM_API_KEY=... OPENAI_API_KEY=...
    python docs/examples/langchain_chat.py
"""

from __future__ import annotations

from langchain_openai import ChatOpenAI

from aicostmanager import Tracker, tracking_scope
from aicostmanager.integrations.langchain import AICMCallbackHandler


def main() -> None:
    """A call billed by run metadata, a stream billed by the tracking scope, and a batch."""
    with Tracker() as tracker:
        handler = AICMCallbackHandler(tracker)
        llm = ChatOpenAI(model="gpt-4o-mini", stream_usage=True, callbacks=[handler])
        llm.invoke("Say hello", config={"metadata": {"customer_key": "acme"}})
        with tracking_scope(customer_key="globex"):
            for _ in llm.stream("Count to three"):
                pass
            llm.batch(["one", "two"])  # one event per input
        tracker.flush(10)


if __name__ == "__main__":
    main()
