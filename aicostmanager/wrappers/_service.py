"""``ServiceWrapper``: track any SDK's calls, with your own usage extractors."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .._exceptions import ConfigurationError
from .._service_key import check_service_key_option, check_vendor
from .._usage import Observed, usage_dict
from .._usage.generic import GenericStreamAccumulator, generic_usage, response_id_of
from ._base import ClientProxy, Endpoint, ProviderSpec, unwrap_client
from ._recorder import Call, Recorder, TrackerLike
from ._stream import AsyncStreamProxy, StreamProxy

__all__ = ("ServiceWrapper",)

UsageExtractor = Callable[[Any], "Mapping[str, Any] | None"]


def _is_stream(result: Any) -> str | None:
    if isinstance(result, (str, bytes, Mapping)):
        return None
    if hasattr(result, "__anext__"):
        return "async"
    if hasattr(result, "__next__"):
        return "sync"
    return None


def _make_spec(
    usage_extractor: UsageExtractor | None, stream_usage_extractor: UsageExtractor | None
) -> ProviderSpec:
    def extract(response: Any) -> Observed | None:
        if usage_extractor is not None:
            found = usage_extractor(response)
            usage = usage_dict(found) if found is not None else None
        else:
            usage = generic_usage(response)
        return Observed(usage, response_id_of(response)) if usage else None

    def on_result(result: Any, call: Call, prepared: bool) -> Any:
        kind = _is_stream(result)
        if kind is None:
            call.extract(extract, result)
            return result
        acc = GenericStreamAccumulator(stream_usage_extractor)
        if kind == "async":
            return AsyncStreamProxy(result, acc, call)
        return StreamProxy(result, acc, call)

    return ProviderSpec(name="service", endpoints={}, intercept_all=Endpoint(on_result=on_result))


class ServiceWrapper(ClientProxy):
    """Track the calls of any SDK client, with optional custom usage extractors.

    Every method reached through the wrapper is intercepted; a call whose result has no
    usage records nothing. Results that are iterators (sync or async) are streams: each item
    is given to ``stream_usage_extractor`` and the usages found are merged, recorded once.

    ::

        client = ServiceWrapper(
            SpeechClient(),
            service_key="deepgram::nova-3",
            usage_extractor=lambda r: {"seconds": r.duration},
        )

    Args:
        client: any SDK client object.
        service_key: the full ``vendor::service`` key of every event (overrides the rest).
        vendor: the vendor slug; the service is ``service=`` or the call's ``model``.
        service: a fixed service name (with ``vendor=``).
        tracker: an ``AsyncTracker`` or ``Tracker`` (default: the process's shared tracker).
        usage_extractor: ``response -> usage mapping | None`` (default: ``.usage``,
            ``.usage_metadata``, ``["usage"]`` or token-count keys).
        stream_usage_extractor: ``chunk -> usage mapping | None`` for streamed results.

    Raises:
        ConfigurationError: neither ``service_key`` nor ``vendor`` was given, or
            ``service_key``, ``vendor`` or ``service`` is malformed (the error names it).
        TypeError: an extractor is not callable, or ``tracker`` is not a tracker.
    """

    __slots__ = ()

    def __init__(
        self,
        client: Any,
        *,
        service_key: str | None = None,
        vendor: str | None = None,
        service: str | None = None,
        tracker: TrackerLike | None = None,
        usage_extractor: UsageExtractor | None = None,
        stream_usage_extractor: UsageExtractor | None = None,
    ) -> None:
        for name, fn in (
            ("usage_extractor", usage_extractor),
            ("stream_usage_extractor", stream_usage_extractor),
        ):
            if fn is not None and not callable(fn):
                raise TypeError(f"{name} must be callable")
        fixed: str | None = None
        if service_key is not None:
            fixed = check_service_key_option(service_key)
            resolved = fixed.partition("::")[0]
        elif vendor is not None:
            resolved = check_vendor(vendor)
            if service is not None:
                if not isinstance(service, str) or not service:
                    raise ConfigurationError("service", "must be a non-empty string")
                fixed = check_service_key_option(f"{resolved}::{service}", "service")
        else:
            raise ConfigurationError("service_key", "ServiceWrapper needs service_key= or vendor=")
        spec = _make_spec(usage_extractor, stream_usage_extractor)
        ClientProxy.__init__(self, unwrap_client(client), spec, Recorder(tracker, resolved, fixed))
