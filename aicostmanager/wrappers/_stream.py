"""Stream proxies: the SDK's stream object, seen through, recorded exactly once.

A proxy forwards every attribute to the SDK stream (``response``, ``text_stream``,
``get_final_message()``, ...) and reports the stream's class as its own, so ``isinstance``
checks still pass. It feeds each event to the provider's accumulator (which may hide an event
the caller did not ask for) and records once, on whichever comes first: exhaustion, an
exception while iterating, ``close()``, context exit, finalisation (abandoned early), or the
tracker closing while the stream is still referenced (the stream registers itself with the
tracker, which settles every open stream before it drains).

Manager proxies do the same for helper context managers (``chat.completions.stream()``,
``messages.stream()``): the stream they yield on entry is wrapped, and exit records.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from .._usage import StreamAccumulator

if TYPE_CHECKING:
    from ._recorder import Call


class Retrier(Protocol):
    """Sends a call again as the caller wrote it (``_base._Retry``)."""

    def refused(self, exc: BaseException) -> bool:
        """Whether ``exc`` refused what the wrapper added to the request."""
        ...

    def call(self) -> Any:
        """The call as the caller wrote it."""
        ...


__all__ = ("AsyncManagerProxy", "AsyncStreamProxy", "ManagerProxy", "StreamProxy")


class _Tracked:
    """Shared by the proxies: the wrapped object, its accumulator and call."""

    __slots__ = ("_aicm_acc", "_aicm_call", "_aicm_obj", "__weakref__")
    _aicm_obj: Any
    _aicm_acc: StreamAccumulator
    _aicm_call: Call

    def __init__(self, obj: Any, acc: StreamAccumulator, call: Call) -> None:
        object.__setattr__(self, "_aicm_obj", obj)
        object.__setattr__(self, "_aicm_acc", acc)
        object.__setattr__(self, "_aicm_call", call)

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance(proxy, SDKStream) stays true
        return type(self._aicm_obj)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_aicm_"):  # only during a failed __init__
            raise AttributeError(name)
        return getattr(self._aicm_obj, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._aicm_obj, name, value)

    def __repr__(self) -> str:
        return repr(self._aicm_obj)

    def aicm_settle(self) -> None:
        """Record what was seen so far (the tracker is closing); at most once."""
        self._aicm_finish()

    def _aicm_finish(self) -> None:
        call = self._aicm_call
        if call.done:
            return
        try:
            observed = self._aicm_acc.result(self._aicm_obj)
        except Exception as exc:
            from ._recorder import note_failure

            call.done = True
            note_failure("extraction", exc, call.service_key)
            return
        call.record(observed)

    def _aicm_shown(self, event: Any) -> bool:
        """Feed ``event`` to the accumulator; whether the caller sees it (after a failed feed,
        it does)."""
        try:
            return not self._aicm_acc.feed(event)
        except Exception as exc:
            from ._recorder import note_failure

            note_failure("extraction", exc, self._aicm_call.service_key)
            # Keep yielding events; stop looking at them.
            object.__setattr__(self, "_aicm_acc", _Blind(self._aicm_acc))
            return True

    def __del__(self) -> None:
        try:
            self._aicm_finish()
        except Exception:  # pragma: no cover - finalisers must not raise
            pass


class _Blind:
    """An accumulator that stopped looking at events after a failure (keeps what it had)."""

    __slots__ = ("_inner",)

    def __init__(self, inner: StreamAccumulator) -> None:
        self._inner = inner

    def feed(self, event: Any) -> bool:
        return False

    def result(self, source: Any) -> Any:
        return self._inner.result(source)


class _Stream(_Tracked):
    """Shared by the stream proxies: the SDK stream's iterator, opened on first use."""

    __slots__ = ("_aicm_it",)

    def __init__(self, obj: Any, acc: StreamAccumulator, call: Call) -> None:
        super().__init__(obj, acc, call)
        object.__setattr__(self, "_aicm_it", None)
        call.recorder.open_call(self)


class StreamProxy(_Stream):
    """A synchronous SDK stream (iterator, context manager, ``close()``)."""

    __slots__ = ()

    def __iter__(self) -> StreamProxy:
        return self

    def __next__(self) -> Any:
        it = self._aicm_it
        if it is None:
            it = iter(self._aicm_obj)
            object.__setattr__(self, "_aicm_it", it)
        while True:
            try:
                event = next(it)
            except BaseException:
                self._aicm_finish()
                raise
            if self._aicm_shown(event):
                return event

    def __enter__(self) -> StreamProxy:
        enter = getattr(self._aicm_obj, "__enter__", None)
        if enter is not None:
            enter()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            exit_ = getattr(self._aicm_obj, "__exit__", None)
            return exit_(*exc_info) if exit_ is not None else None
        finally:
            self._aicm_finish()

    def close(self) -> None:
        """Close the SDK stream and record what was seen."""
        try:
            close = getattr(self._aicm_obj, "close", None)
            if close is not None:
                close()
        finally:
            self._aicm_finish()


class AsyncStreamProxy(_Stream):
    """An asynchronous SDK stream (async iterator, async context manager, ``close()``)."""

    __slots__ = ()

    def __aiter__(self) -> AsyncStreamProxy:
        return self

    async def __anext__(self) -> Any:
        it = self._aicm_it
        if it is None:
            it = self._aicm_obj.__aiter__()
            object.__setattr__(self, "_aicm_it", it)
        while True:
            try:
                event = await it.__anext__()
            except BaseException:
                self._aicm_finish()
                raise
            if self._aicm_shown(event):
                return event

    async def __aenter__(self) -> AsyncStreamProxy:
        enter = getattr(self._aicm_obj, "__aenter__", None)
        if enter is not None:
            await enter()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            exit_ = getattr(self._aicm_obj, "__aexit__", None)
            return (await exit_(*exc_info)) if exit_ is not None else None
        finally:
            self._aicm_finish()

    async def close(self) -> None:
        """Close the SDK stream and record what was seen."""
        try:
            close = getattr(self._aicm_obj, "close", None)
            if close is not None:
                result = close()
                if hasattr(result, "__await__"):
                    await result
        finally:
            self._aicm_finish()

    async def aclose(self) -> None:
        """Close (for SDKs whose streams name it ``aclose``) and record what was seen."""
        try:
            close = getattr(self._aicm_obj, "aclose", None) or self._aicm_obj.close
            result = close()
            if hasattr(result, "__await__"):
                await result
        finally:
            self._aicm_finish()


class ManagerProxy(_Tracked):
    """A helper's context manager: entering yields a tracked stream; exiting records.

    The helper sends its request on entry: when the server refuses what the wrapper added
    (``retry.refused``), a fresh helper made as the caller wrote it is entered instead.
    """

    __slots__ = ("_aicm_retry", "_aicm_stream")

    def __init__(
        self, obj: Any, acc: StreamAccumulator, call: Call, retry: Retrier | None = None
    ) -> None:
        super().__init__(obj, acc, call)
        object.__setattr__(self, "_aicm_stream", None)
        object.__setattr__(self, "_aicm_retry", retry)

    def _aicm_again(self, exc: Exception) -> Any:
        """The helper as the caller wrote it, when ``exc`` refused what was added; else raise."""
        retry = self._aicm_retry
        if retry is None or not retry.refused(exc):
            raise exc
        object.__setattr__(self, "_aicm_retry", None)
        fresh = retry.call()
        object.__setattr__(self, "_aicm_obj", fresh)
        return fresh

    def __enter__(self) -> Any:
        try:
            inner = self._aicm_obj.__enter__()
        except Exception as exc:
            inner = self._aicm_again(exc).__enter__()
        stream = StreamProxy(inner, self._aicm_acc, self._aicm_call)
        object.__setattr__(self, "_aicm_stream", stream)
        return stream

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self._aicm_obj.__exit__(*exc_info)
        finally:
            stream = self._aicm_stream
            if stream is not None:
                stream._aicm_finish()

    def _aicm_finish(self) -> None:
        stream = self._aicm_stream
        if stream is not None:
            stream._aicm_finish()
        # Never entered: no request was sent, nothing to record.


class AsyncManagerProxy(ManagerProxy):
    """An async helper's context manager (``async with``)."""

    __slots__ = ()

    async def __aenter__(self) -> Any:
        try:
            inner = await self._aicm_obj.__aenter__()
        except Exception as exc:
            inner = await self._aicm_again(exc).__aenter__()
        stream = AsyncStreamProxy(inner, self._aicm_acc, self._aicm_call)
        object.__setattr__(self, "_aicm_stream", stream)
        return stream

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self._aicm_obj.__aexit__(*exc_info)
        finally:
            stream = self._aicm_stream
            if stream is not None:
                stream._aicm_finish()
