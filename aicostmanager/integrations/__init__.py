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

Writing one: take tracker options as ``**options: Unpack[TrackerOptions]`` and check them with
``check_options(options, "setup()")`` (``aicostmanager._options``), so every documented
option is accepted and a bad one is a ``ConfigurationError``. A tracker per process is the
process tracker (``aicostmanager._process_tracker``): ``configure_process_tracker(options)``,
then ``process_tracker()``; wrappers built without ``tracker=`` use the same one, and fork and
``os._exit`` are handled there.
"""

from __future__ import annotations

__all__: tuple[str, ...] = ()
