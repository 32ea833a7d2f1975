"""LiteLLM: a custom logger that records every successful LiteLLM SDK call.

Usage::

    import litellm
    from aicostmanager.integrations.litellm import AICMLogger

    litellm.callbacks = [AICMLogger()]  # tracker=None: the process's tracker
    litellm.completion(model="openai/gpt-4o-mini", messages=[...], user="acme")

Sync and async calls, streams included (LiteLLM reports a stream once, when it is complete),
are one event each:

- service key: ``vendor::model`` from LiteLLM's provider (``custom_llm_provider``) and model;
  the price is ours (the server's), never LiteLLM's ``response_cost``;
- usage: the response's token counts as genai-prices keys (``input_tokens`` with cached and
  cache-creation tokens included, ``output_tokens``, ``cache_read_tokens``,
  ``cache_write_tokens``, reasoning tokens in ``output_tokens_details``);
- response id: the response's ``id`` (the provider's for OpenAI; LiteLLM makes one up for
  providers it translates, such as Anthropic);
- customer: ``metadata={"customer_key": ...}``, else the ``tracking_scope`` in force when the
  call was made, else ``user=``. LiteLLM runs success callbacks in its own threads: the scope is
  captured in ``log_pre_api_call`` (which runs in the caller) and kept by call id, so a sync
  stream finished in a LiteLLM thread still bills the caller's customer and context.

LiteLLM copies ``litellm.callbacks`` into its own lists on the first call; to replace a logger
later, remove the old one with
``litellm.logging_callback_manager.remove_callback_from_all_lists(old)``.

Install with ``pip install 'aicostmanager[litellm]'``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._extra import requires_extra

with requires_extra("litellm", "LiteLLM", "litellm"):
    from litellm.integrations.custom_logger import CustomLogger

from .._scope import Scope, current_scope
from .._usage import field, first_field, genai_usage, int_or_none, text_or_none
from .._usage.genai import vendor_slug
from ._emit import Emitter

if TYPE_CHECKING:
    from ..wrappers._recorder import TrackerLike

__all__ = ("AICMLogger",)

_MAX_PENDING = 10_000  # calls started but never reported (failed without a failure callback)


def _litellm_usage(usage: Any) -> dict[str, Any] | None:
    """A LiteLLM ``Usage`` (object or dict) -> a usage payload in genai-prices keys."""
    if usage is None:
        return None
    prompt_details = field(usage, "prompt_tokens_details")
    cache_read = int_or_none(field(usage, "cache_read_input_tokens"))
    if cache_read is None and prompt_details is not None:
        cache_read = int_or_none(field(prompt_details, "cached_tokens"))
    cache_write = int_or_none(field(usage, "cache_creation_input_tokens"))
    if cache_write is None and prompt_details is not None:
        cache_write = int_or_none(
            first_field(prompt_details, "cache_creation_tokens", "cache_write_tokens")
        )
    completion_details = field(usage, "completion_tokens_details")
    return genai_usage(
        int_or_none(field(usage, "prompt_tokens")),
        int_or_none(field(usage, "completion_tokens")),
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=None
        if completion_details is None
        else int_or_none(field(completion_details, "reasoning_tokens")),
    )


class AICMLogger(CustomLogger):
    """Records one usage event per successful LiteLLM call (sync, async, streamed).

    Args:
        tracker: the ``AsyncTracker`` or ``Tracker`` to record on (default: the process's
            shared tracker, created from the environment).

    Raises:
        TypeError: ``tracker`` is not a tracker.
        MissingConfiguration: no tracker was given and no API key is configured.
    """

    def __init__(self, tracker: TrackerLike | None = None) -> None:
        super().__init__()
        # LiteLLM keeps one logger per class and public attributes: this makes each instance
        # its own (a logger for another tracker is not silently dropped).
        self.aicm_logger_id = id(self)
        self._emitter = Emitter(tracker)
        self._scopes: OrderedDict[str, Scope] = OrderedDict()
        self._lock = threading.Lock()

    # ---- the caller's scope, captured where the call is made ---------------------------------

    def log_pre_api_call(self, model: Any, messages: Any, kwargs: Any) -> None:
        """Capture the caller's tracking scope (this hook runs in the caller's thread/task)."""
        call_id = kwargs.get("litellm_call_id") if isinstance(kwargs, Mapping) else None
        if not isinstance(call_id, str):
            return
        scope = current_scope()
        with self._lock:
            self._scopes[call_id] = scope
            while len(self._scopes) > _MAX_PENDING:
                self._scopes.popitem(last=False)

    def _scope_of(self, kwargs: Mapping[str, Any]) -> Scope | None:
        call_id = kwargs.get("litellm_call_id")
        if not isinstance(call_id, str):
            return None
        with self._lock:
            return self._scopes.pop(call_id, None)

    # ---- outcomes ----------------------------------------------------------------------------

    def log_success_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """Record a finished call (LiteLLM's sync success path); never raises."""
        try:
            self._record(kwargs, response_obj)
        except Exception:  # pragma: no cover - never break the host's call
            return

    async def async_log_success_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """Record a finished call (LiteLLM's async success path); never raises."""
        self.log_success_event(kwargs, response_obj, start_time, end_time)

    def log_failure_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """Forget a failed call's scope (a failed call is not billed)."""
        if isinstance(kwargs, Mapping):
            self._scope_of(kwargs)

    async def async_log_failure_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """Forget a failed call's scope (LiteLLM's async failure path)."""
        self.log_failure_event(kwargs, response_obj, start_time, end_time)

    def _record(self, kwargs: Mapping[str, Any], response: Any) -> None:
        scope = self._scope_of(kwargs)
        usage = _litellm_usage(field(response, "usage"))
        if usage is None:
            return
        params = kwargs.get("litellm_params") or {}
        provider = text_or_none(kwargs.get("custom_llm_provider")) or text_or_none(
            params.get("custom_llm_provider")
        )
        model = (
            text_or_none(kwargs.get("model"))
            or text_or_none(field(response, "model"))
            or "unknown-model"
        )
        if provider is None and "/" in model:
            provider, model = model.split("/", 1)
        metadata = params.get("metadata") or {}
        customer = text_or_none(metadata.get("customer_key"))
        if customer is None and (scope is None or scope.customer_key is None):
            customer = text_or_none(kwargs.get("user"))
        context = metadata.get("aicm_context")
        self._emitter.emit(
            f"{vendor_slug(provider or 'unknown')}::{model}",
            usage,
            text_or_none(field(response, "id")),
            scope=scope,
            customer_key=customer,
            context=context if isinstance(context, Mapping) else None,
        )
