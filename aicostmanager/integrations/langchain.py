"""LangChain: a callback handler that records every chat-model (or LLM) call.

Usage::

    from aicostmanager.integrations.langchain import AICMCallbackHandler

    handler = AICMCallbackHandler()  # tracker=None: the process's tracker
    llm = ChatOpenAI(model="gpt-4o-mini", callbacks=[handler])
    llm.invoke("hi", config={"metadata": {"customer_key": "acme"}})

One handler serves the sync and the async paths (it never blocks, so LangChain runs it inline).
Each model call (``invoke``, ``stream``, each input of ``batch``, each step of an agent or a
tool-calling loop) is one event, recorded in ``on_llm_end``:

- usage: the message's ``usage_metadata`` (input tokens with their cache-read / cache-creation
  details, output tokens with reasoning), else the provider's ``llm_output["token_usage"]``;
- service key: ``vendor::model`` from LangChain's ``ls_provider`` and ``ls_model_name``;
- response id: the provider's (``response_metadata["id"]``). LangChain streams hide it: the event
  is then keyed ``langchain-<run id>``, and a call that an AICM wrapper beneath LangChain
  recorded during the run (under the provider's id) is skipped, so it is still counted once;
- customer: the run's ``metadata["customer_key"]``, else the ``tracking_scope`` in force when
  the call started; ``metadata["aicm_context"]`` (a mapping) is added to the context.

OpenAI streams carry usage only when asked: ``ChatOpenAI(stream_usage=True)``.

Install with ``pip install 'aicostmanager[langchain]'``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from ._extra import requires_extra

with requires_extra("langchain", "langchain-core", "langchain"):
    from langchain_core.callbacks import BaseCallbackHandler

from .. import _seen
from .._scope import Scope, current_scope
from .._usage import field, genai_usage, int_or_none, text_or_none, usage_dict
from .._usage.genai import vendor_slug
from ._emit import Emitter

if TYPE_CHECKING:
    from uuid import UUID

    from langchain_core.outputs import LLMResult

    from ..wrappers._recorder import TrackerLike

__all__ = ("AICMCallbackHandler",)


class _Run(NamedTuple):
    scope: Scope
    customer_key: str | None
    context: Mapping[str, Any] | None
    vendor: str | None
    model: str | None
    wrapper_records: int


def _usage_of_metadata(usage: Mapping[str, Any]) -> dict[str, Any] | None:
    """LangChain's ``usage_metadata`` -> a usage payload in genai-prices keys."""
    inp, out = int_or_none(usage.get("input_tokens")), int_or_none(usage.get("output_tokens"))
    if inp is None and out is None:
        return None
    details = usage.get("input_token_details") or {}
    return genai_usage(
        inp,
        out,
        cache_read_tokens=int_or_none(details.get("cache_read")),
        cache_write_tokens=int_or_none(details.get("cache_creation")),
        reasoning_tokens=int_or_none((usage.get("output_token_details") or {}).get("reasoning")),
    )


class AICMCallbackHandler(BaseCallbackHandler):
    """Records one usage event per LangChain model call (sync and async).

    Args:
        tracker: the ``AsyncTracker`` or ``Tracker`` to record on (default: the process's
            shared tracker, created from the environment).

    Raises:
        TypeError: ``tracker`` is not a tracker.
        MissingConfiguration: no tracker was given and no API key is configured.
    """

    run_inline = True  # never blocks: no thread-pool hop on the async path
    raise_error = False

    def __init__(self, tracker: TrackerLike | None = None) -> None:
        super().__init__()
        self._emitter = Emitter(tracker)
        self._runs: dict[UUID, _Run] = {}
        self._lock = threading.Lock()

    # ---- start: capture what the end will need ---------------------------------------------

    def _start(self, run_id: UUID, metadata: Mapping[str, Any] | None, kwargs: Any) -> None:
        metadata = metadata or {}
        params = kwargs.get("invocation_params") or {}
        provider = text_or_none(metadata.get("ls_provider"))
        model = text_or_none(metadata.get("ls_model_name")) or text_or_none(params.get("model"))
        context = metadata.get("aicm_context")
        run = _Run(
            current_scope(),
            text_or_none(metadata.get("customer_key")),
            context if isinstance(context, Mapping) else None,
            vendor_slug(provider) if provider else None,
            model or text_or_none(params.get("model_name")),
            _seen.wrapper_records.get(),
        )
        with self._lock:
            self._runs[run_id] = run

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: Any,
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Note the run's scope, customer, provider and model."""
        self._start(run_id, metadata, kwargs)

    def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Note the run's scope, customer, provider and model (completion models)."""
        self._start(run_id, metadata, kwargs)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Forget a failed run (a failed call is not billed)."""
        with self._lock:
            self._runs.pop(run_id, None)

    # ---- end: one event ----------------------------------------------------------------------

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        """Record the finished model call; never raises."""
        with self._lock:
            run = self._runs.pop(run_id, None)
        try:
            self._record(response, run_id, run)
        except Exception:  # pragma: no cover - never break the host's chain
            return

    def _record(self, response: LLMResult, run_id: UUID, run: _Run | None) -> None:
        llm_output = response.llm_output or {}
        for index, generations in enumerate(response.generations):
            if not generations:
                continue
            message = getattr(generations[0], "message", None)
            metadata = field(message, "response_metadata") or {}
            usage_metadata = field(message, "usage_metadata")
            usage = _usage_of_metadata(usage_metadata) if usage_metadata else None
            if usage is None and index == 0:
                usage = usage_dict(llm_output.get("token_usage") or llm_output.get("usage"))
            if usage is None:
                continue
            response_id = text_or_none(metadata.get("id")) or (
                text_or_none(llm_output.get("id")) if len(response.generations) == 1 else None
            )
            if response_id is None:
                if run is not None and _seen.wrapper_records.get() > run.wrapper_records:
                    continue  # a wrapper beneath recorded this call under the provider's id
                suffix = f"-{index}" if index else ""
                response_id = f"langchain-{run_id}{suffix}"
            vendor = (run.vendor if run else None) or vendor_slug(
                text_or_none(metadata.get("model_provider")) or "unknown"
            )
            model = (
                (run.model if run else None)
                or text_or_none(metadata.get("model_name"))
                or text_or_none(metadata.get("model"))
                or "unknown-model"
            )
            self._emitter.emit(
                f"{vendor}::{model}",
                usage,
                response_id,
                scope=run.scope if run else None,
                customer_key=run.customer_key if run else None,
                context=run.context if run else None,
            )
