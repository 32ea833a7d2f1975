"""The wrapper machinery shared by every provider (README-internal).

How a provider module plugs in
------------------------------
A provider module (``wrappers/openai.py``, ``wrappers/anthropic.py``, ...) imports its SDK only
inside functions (``import aicostmanager`` must not import any SDK) and declares:

1. **Extractors**, pure functions in ``aicostmanager/_usage/<provider>.py``:
   ``extract(response) -> Observed | None`` for a plain response, and a stream accumulator
   class (``feed(event) -> hide?``, ``result(sdk_stream) -> Observed | None``) per stream
   shape. ``Observed(usage, response_id, model)``: usage in the provider's own field names
   (api-contract §7.3). They read attributes or keys (``_usage.field``) so that tests can feed
   them recorded JSON bodies. They may raise: the machinery logs, counts and moves on.
2. **The method table**: a ``ProviderSpec`` whose ``endpoints`` maps attribute paths from the
   client to an ``Endpoint``::

       SPEC = ProviderSpec(
           name="anthropic",
           endpoints={
               ("messages", "create"): Endpoint(extract=message_usage,
                                                stream=lambda hide: MessageAccumulator()),
               ("messages", "stream"): Endpoint(kind="manager",
                                                stream=lambda hide: MessageAccumulator()),
               ("beta", "messages", "create"): ...,
           },
       )

   Only those paths are intercepted; every other attribute (``models.list``,
   ``messages.count_tokens``, new SDK methods) is returned untouched. Names in
   ``transparent`` (``with_raw_response``) do not change the path and switch the call to raw
   mode (the result is returned as is; usage comes from ``unwrap_raw(result)``). Names in
   ``rebinders`` (``with_options``, ``copy``) return a new client that is wrapped again.
3. **Endpoint kinds**: ``"auto"`` (a stream when the call passed ``stream=True``, else plain),
   ``"plain"``, ``"stream"`` (the result is an iterator / async iterator: it is returned
   inside an ``AsyncStreamProxy`` when the call was awaited, else a ``StreamProxy``),
   ``"manager"`` (a helper context manager whose ``__enter__`` / ``__aenter__`` yields the
   stream; async when the client is). ``prepare(kwargs) -> dict | None`` may change the
   call's keyword arguments before the request (OpenAI adds ``stream_options.include_usage``):
   it returns the arguments to send instead (a new dict; ``kwargs`` stays as the caller wrote
   it), or None to send them unchanged; whether it changed them is passed to the stream
   factory (True: hide what was added). ``refused(exc)`` says that a provider error was
   caused by what ``prepare`` added: the call is then sent once more exactly as the caller
   wrote it, and that method of that wrapper is never prepared again (tracking must not
   change whether a call succeeds). ``estimate(request) -> int`` estimates the request's
   input tokens offline; it runs only for a stream that ends before the provider reported
   them.
   ``on_result(result, call, prepared)`` replaces the default handling for odd shapes
   (Bedrock's ``{"stream": EventStream}``): it must return what the caller gets and call
   ``call.record(observed)`` (or wrap a stream with ``StreamProxy``) itself.
4. **The wrapper class**: a subclass of ``ProviderWrapper`` with ``__slots__ = ()`` that
   sets ``_aicm_spec_default`` (the table) and ``_aicm_vendor_default`` (the vendor slug),
   optionally ``_aicm_requires`` (an attribute every accepted client has, checked with a
   ``TypeError`` naming ``_aicm_expects``), ``_aicm_client_vendors`` (client class name ->
   vendor) and ``_aicm_model_first`` (vendors whose response names the billed model), or
   overrides ``_aicm_vendor_of`` / ``_aicm_spec_of`` for a rule those cannot say.
   ``model_of`` finds the model of a call (default: the ``model`` / ``model_id`` /
   ``modelId`` keyword).

What the machinery guarantees: limits are checked before the request (``UsageLimitExceeded``),
the scope is captured at call time, the result is the SDK's own object (streams and clients
proxied with their class reported, so ``isinstance`` holds), provider exceptions propagate
untouched, each call records at most once, and wrapping a wrapper wraps the client beneath.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from .._seen import in_wrapper
from .._service_key import check_vendor
from .._usage import Observed, StreamAccumulator
from ._recorder import Call, Recorder, TrackerLike, note_failure
from ._stream import AsyncManagerProxy, AsyncStreamProxy, ManagerProxy, StreamProxy

if TYPE_CHECKING:
    from collections.abc import Awaitable

__all__ = ("ClientProxy", "Endpoint", "ProviderSpec", "model_from_kwargs", "unwrap_client")

EndpointKind = Literal["auto", "plain", "stream", "manager"]


def model_from_kwargs(target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """The call's ``model`` / ``model_id`` / ``modelId`` keyword (None when absent)."""
    model = kwargs.get("model") or kwargs.get("model_id") or kwargs.get("modelId")
    return model if isinstance(model, str) else None


def _parse_raw(result: Any) -> Any:
    parsed = result.parse()
    if inspect.iscoroutine(parsed):  # SDKs whose async raw parse() must be awaited
        parsed.close()
        return None
    return parsed


@dataclass(frozen=True)
class Endpoint:
    """How one inference method is tracked (see the module docstring)."""

    extract: Callable[[Any], Observed | None] | None = None
    stream: Callable[[bool], StreamAccumulator] | None = None
    kind: EndpointKind = "auto"
    prepare: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None
    on_result: Callable[[Any, Call, bool], Any] | None = None
    refused: Callable[[BaseException], bool] | None = None
    """True when the provider's error says it refused what ``prepare`` added: the call is
    then sent again as the caller wrote it, and ``prepare`` is skipped for this method of
    this wrapper from then on."""
    estimate: Callable[[Mapping[str, Any]], int] | None = None
    """The request's input tokens, estimated offline (``_usage.estimate``); used only when a
    stream ends before the provider reported them."""


@dataclass(frozen=True)
class ProviderSpec:
    """The method table of one provider (see the module docstring)."""

    name: str
    endpoints: Mapping[tuple[str, ...], Endpoint]
    model_of: Callable[[Any, tuple[Any, ...], dict[str, Any]], str | None] = model_from_kwargs
    transparent: frozenset[str] = frozenset({"with_raw_response"})
    rebinders: frozenset[str] = frozenset({"with_options", "copy"})
    unwrap_raw: Callable[[Any], Any] = _parse_raw
    intercept_all: Endpoint | None = None
    """Generic mode (``ServiceWrapper``): every callable reached is intercepted with this."""
    namespaces: frozenset[tuple[str, ...]] = field(init=False)

    def __post_init__(self) -> None:
        prefixes = {path[:i] for path in self.endpoints for i in range(1, len(path))}
        object.__setattr__(self, "namespaces", frozenset(prefixes))


_PLAIN_TYPES = (str, bytes, int, float, bool, type(None), list, tuple, dict, set, frozenset)


def unwrap_client(client: Any) -> Any:
    """The SDK client beneath any number of wrappers (wrapping twice tracks once)."""
    while getattr(type(client), "_aicm_is_proxy", False):
        client = object.__getattribute__(client, "_aicm_target")
    return client


class ClientProxy:
    """Proxies an SDK client (or one of its namespaces); intercepts the table's methods."""

    __slots__ = (
        "__weakref__",
        "_aicm_cache",
        "_aicm_path",
        "_aicm_raw",
        "_aicm_recorder",
        "_aicm_spec",
        "_aicm_target",
    )
    _aicm_is_proxy = True
    _aicm_target: Any
    _aicm_spec: ProviderSpec
    _aicm_recorder: Recorder
    _aicm_path: tuple[str, ...]
    _aicm_raw: bool
    _aicm_cache: dict[str, Any]

    def __init__(
        self,
        target: Any,
        spec: ProviderSpec,
        recorder: Recorder,
        path: tuple[str, ...] = (),
        raw: bool = False,
    ) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "_aicm_target", unwrap_client(target))
        setattr_(self, "_aicm_spec", spec)
        setattr_(self, "_aicm_recorder", recorder)
        setattr_(self, "_aicm_path", path)
        setattr_(self, "_aicm_raw", raw)
        setattr_(self, "_aicm_cache", {})

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance(wrapper, openai.OpenAI) stays true
        return type(self._aicm_target)

    @property
    def aicm_recorder(self) -> Recorder:
        """The recorder (tracker, vendor) of this wrapper."""
        return self._aicm_recorder

    @property
    def aicm_vendor(self) -> str:
        """The vendor slug events are billed under."""
        return self._aicm_recorder.vendor

    def __repr__(self) -> str:
        return f"<tracked {self._aicm_target!r} vendor={self._aicm_recorder.vendor!r}>"

    def __dir__(self) -> list[str]:
        return dir(self._aicm_target)

    # Dunder lookups skip __getattr__: forward the client's context managers explicitly.
    def __enter__(self) -> Any:
        self._aicm_target.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        return self._aicm_target.__exit__(*exc_info)

    async def __aenter__(self) -> Any:
        await self._aicm_target.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        return await self._aicm_target.__aexit__(*exc_info)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._aicm_target, name, value)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_aicm_"):
            raise AttributeError(name)
        cache = self._aicm_cache
        hit = cache.get(name)
        if hit is not None:
            return hit
        value = getattr(self._aicm_target, name)
        spec = self._aicm_spec
        wrapped: Any
        if name in spec.transparent:
            wrapped = ClientProxy(value, spec, self._aicm_recorder, self._aicm_path, True)
        elif name in spec.rebinders and callable(value):
            wrapped = self._aicm_rebinder(value)
        else:
            path = (*self._aicm_path, name)
            endpoint = spec.endpoints.get(path)
            if endpoint is None and spec.intercept_all is not None:
                if isinstance(value, _PLAIN_TYPES) or isinstance(value, type):
                    return value
                if not callable(value):
                    wrapped = ClientProxy(value, spec, self._aicm_recorder, path, self._aicm_raw)
                    cache[name] = wrapped
                    return wrapped
                endpoint = spec.intercept_all
            if endpoint is not None and callable(value):
                wrapped = _intercept(value, endpoint, self, name)
            elif path in spec.namespaces:
                wrapped = ClientProxy(value, spec, self._aicm_recorder, path, self._aicm_raw)
            else:
                return value
        cache[name] = wrapped
        return wrapped

    def _aicm_rebinder(self, method: Callable[..., Any]) -> Callable[..., Any]:
        spec, recorder, path = self._aicm_spec, self._aicm_recorder, self._aicm_path

        @functools.wraps(method)
        def rebind(*args: Any, **kwargs: Any) -> Any:
            return ClientProxy(method(*args, **kwargs), spec, recorder, path)

        return rebind


class ProviderWrapper(ClientProxy):
    """A provider's wrapper class: checks the client, resolves the vendor, proxies the client.

    Subclasses only declare their rules as class attributes (see the module docstring).
    """

    __slots__ = ()
    _aicm_spec_default: ClassVar[ProviderSpec]
    _aicm_vendor_default: ClassVar[str]
    _aicm_requires: ClassVar[str | None] = None
    _aicm_expects: ClassVar[str] = ""
    _aicm_client_vendors: ClassVar[Mapping[str, str]] = {}
    _aicm_model_first: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self, client: Any, *, tracker: TrackerLike | None = None, vendor: str | None = None
    ) -> None:
        client = unwrap_client(client)
        required = self._aicm_requires
        if required is not None and not hasattr(client, required):
            raise TypeError(f"expected {self._aicm_expects}, got {type(client)!r}")
        resolved = check_vendor(vendor) if vendor is not None else self._aicm_vendor_of(client)
        first = resolved in self._aicm_model_first
        recorder = Recorder(tracker, resolved, response_model_first=first)
        ClientProxy.__init__(self, client, self._aicm_spec_of(client), recorder)

    def _aicm_vendor_of(self, client: Any) -> str:
        return self._aicm_client_vendors.get(type(client).__name__, self._aicm_vendor_default)

    def _aicm_spec_of(self, client: Any) -> ProviderSpec:
        return self._aicm_spec_default


@dataclass(frozen=True)
class _Site:
    """One intercepted method: its table row and what the machinery decided about it."""

    endpoint: Endpoint
    spec: ProviderSpec
    raw: bool
    label: str
    """``"<provider> <path>"`` (e.g. ``openai chat.completions.create``), for log lines."""
    async_client: bool
    """The method belongs to an async client (decides async/sync for helper managers)."""


def _is_async_target(target: Any, fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(fn) or type(target).__name__.startswith("Async")


_AWAITABLE: dict[type, bool] = {}


def _awaitable(kind: type) -> bool:
    """Whether results of this class are awaited (asked once per class: a pydantic model
    class answers a missing attribute through its metaclass, at the cost of an exception)."""
    known = _AWAITABLE.get(kind)
    if known is None:
        known = hasattr(kind, "__await__")
        if len(_AWAITABLE) < 1024:
            _AWAITABLE[kind] = known
    return known


def _intercept(fn: Callable[..., Any], endpoint: Endpoint, proxy: ClientProxy, name: str) -> Any:
    spec: ProviderSpec = proxy._aicm_spec
    recorder: Recorder = proxy._aicm_recorder
    target = proxy._aicm_target
    raw: bool = proxy._aicm_raw
    label = f"{spec.name} {'.'.join((*proxy._aicm_path, name))}"
    site = _Site(endpoint, spec, raw, label, _is_async_target(target, fn))
    model_of = spec.model_of
    prepare = None if raw else endpoint.prepare

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        tracked = recorder.start(model_of(target, args, kwargs))
        prepared = False
        asked = kwargs
        if prepare is not None and label not in recorder.unprepared:
            try:
                sent = prepare(kwargs)
            except Exception as exc:
                sent = None
                note_failure("extraction", exc, tracked.service_key)
            if sent is not None:
                prepared, kwargs = True, sent
        # Instrumentations patched beneath the wrapper see the mark and leave the call to it.
        token = in_wrapper.set(True)
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            if not (prepared and _Retry(fn, args, asked, site, recorder).refused(exc)):
                raise
            # The server refused what prepare added: call again exactly as the caller asked.
            prepared, kwargs = False, asked
            result = fn(*args, **kwargs)
        finally:
            in_wrapper.reset(token)
        tracked.request = kwargs
        retry = _Retry(fn, args, asked, site, recorder) if prepared else None
        if _awaitable(type(result)):
            return _finish_async(result, tracked, site, prepared, kwargs, retry)
        return _handle(result, tracked, site, prepared, kwargs, False, retry)

    return call


async def _finish_async(
    pending: Awaitable[Any],
    tracked: Call,
    site: _Site,
    prepared: bool,
    kwargs: dict[str, Any],
    retry: _Retry | None,
) -> Any:
    token = in_wrapper.set(True)
    try:
        result = await pending
    except Exception as exc:
        if retry is None or not retry.refused(exc):
            raise
        prepared, kwargs = False, retry.asked
        tracked.request = kwargs
        result = await retry.call()
    finally:
        in_wrapper.reset(token)
    return _handle(result, tracked, site, prepared, kwargs, True)


def _handle(
    result: Any,
    tracked: Call,
    site: _Site,
    prepared: bool,
    kwargs: dict[str, Any],
    awaited: bool,
    retry: _Retry | None = None,
) -> Any:
    endpoint = site.endpoint
    tracked.estimator = endpoint.estimate
    if endpoint.on_result is not None:
        try:
            return endpoint.on_result(result, tracked, prepared)
        except Exception as exc:
            tracked.done = True
            note_failure("extraction", exc, tracked.service_key)
            return result
    kind = endpoint.kind
    if site.raw:
        if kind != "plain" and (kind != "auto" or kwargs.get("stream") is True):
            tracked.record(None)  # a raw stream is the caller's to parse: not tracked
            return result
        if endpoint.extract is not None:
            extract, unwrap = endpoint.extract, site.spec.unwrap_raw
            # No warning here: an async raw response cannot be parsed without awaiting it.
            tracked.extract(lambda r: extract(unwrap(r)), result)
        return result
    if kind == "auto":
        kind = "stream" if kwargs.get("stream") is True else "plain"
    if kind == "plain" or endpoint.stream is None:
        if endpoint.extract is not None:
            tracked.extract(endpoint.extract, result, site.label)
        else:
            tracked.record(None)
        return result
    try:
        acc = endpoint.stream(prepared)
    except Exception as exc:
        tracked.done = True
        note_failure("extraction", exc, tracked.service_key)
        return result
    if kind == "manager":
        return _manager(result, acc, tracked, site.async_client, retry)
    # Sync or async is decided by the call (an awaited call gives an async stream), never by
    # which iteration methods the result has: an instrumented stream may have both.
    if awaited or (not hasattr(result, "__iter__") and hasattr(result, "__aiter__")):
        return AsyncStreamProxy(result, acc, tracked)
    return StreamProxy(result, acc, tracked)


def _manager(
    result: Any, acc: StreamAccumulator, tracked: Call, async_client: bool, retry: _Retry | None
) -> Any:
    has_sync, has_async = hasattr(result, "__enter__"), hasattr(result, "__aenter__")
    if has_async and (async_client or not has_sync):
        return AsyncManagerProxy(result, acc, tracked, retry)
    return ManagerProxy(result, acc, tracked, retry)


class _Retry:
    """How to send a prepared call again exactly as the caller wrote it (see ``refused``)."""

    __slots__ = ("args", "asked", "fn", "recorder", "site")

    def __init__(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        asked: dict[str, Any],
        site: _Site,
        recorder: Recorder,
    ) -> None:
        self.fn, self.args, self.asked, self.site, self.recorder = fn, args, asked, site, recorder

    def refused(self, exc: BaseException) -> bool:
        """Whether ``exc`` refuses what the wrapper added (then it is never added again)."""
        refused = self.site.endpoint.refused
        if refused is None or not refused(exc):
            return False
        self.recorder.refuse_prepare(self.site.label)
        return True

    def call(self) -> Any:
        """The call as the caller wrote it."""
        return self.fn(*self.args, **self.asked)
