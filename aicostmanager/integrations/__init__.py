"""Framework integrations, one module per framework (each needs its own extra).

- ``aicostmanager.integrations.fastapi``: FastAPI / Starlette lifespan, dependency, middleware
  (``pip install 'aicostmanager[fastapi]'``).
- ``aicostmanager.integrations.django``: app config, middleware, ``get_tracker()``
  (``pip install 'aicostmanager[django]'``).
- ``aicostmanager.integrations.celery``: per-worker trackers and ``TrackedTask``
  (``pip install 'aicostmanager[celery]'``).
- ``aicostmanager.integrations.streamlit``: one shared ``Tracker`` per Streamlit server
  (``pip install 'aicostmanager[streamlit]'``).
- ``aicostmanager.integrations.pool``: one ``Tracker`` per ``multiprocessing`` pool worker.
- ``aicostmanager.integrations.otel``: ``AICMSpanProcessor`` for GenAI OpenTelemetry spans
  (PydanticAI, Logfire, the official OpenAI instrumentation...) (``[otel]``).
- ``aicostmanager.integrations.langchain``: ``AICMCallbackHandler`` (``[langchain]``).
- ``aicostmanager.integrations.litellm``: ``AICMLogger`` (``[litellm]``).
- ``aicostmanager.integrations.openai_agents``: ``AICMTracingProcessor`` (``[openai-agents]``).

This package imports no framework: a framework is imported only by its own module.
"""

from __future__ import annotations

__all__: tuple[str, ...] = ()
