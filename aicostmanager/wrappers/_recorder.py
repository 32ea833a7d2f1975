"""How a finished LLM call becomes a usage event.

A ``Recorder`` belongs to one wrapper: it knows the tracker and the vendor. Each intercepted
call gets a ``Call`` that captures, *before* the request, the service key and the tracking
scope (so a stream finished later, in another task or in a finaliser, still bills the right
customer) and runs the pre-call limit check. ``Call.record`` happens at most once.

Events go through the tracker's public ``track_nowait``: it validates and buffers the record
without waiting, and the writer commits it within ``commit_interval`` (milliseconds). That
keeps the wrapper's cost per call in microseconds; the price is that a crash inside that
window can lose the event (``await tracker.track`` would not). Nothing here ever raises
after the provider answered: failures are logged and counted (``wrapper_statistics()``).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .. import _seen
from .._exceptions import UsageLimitExceeded
from .._scope import current_scope
from .._usage import Observed, add_estimate

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from typing_extensions import Unpack

    from .._record import RecordArgs
    from .._tracker_core import OpenCall

__all__ = (
    "Call",
    "Recorder",
    "TrackerLike",
    "WrapperStatistics",
    "default_tracker",
    "note_failure",
    "wrapper_statistics",
)

logger = logging.getLogger("aicostmanager.wrappers")


class TrackerLike(Protocol):
    """What a wrapper needs of a tracker (``AsyncTracker`` and ``Tracker`` both fit)."""

    def track_nowait(self, service_key: str, usage: Any, **record: Unpack[RecordArgs]) -> str: ...

    def track(self, service_key: str, usage: Any, **record: Unpack[RecordArgs]) -> Any: ...

    def check_limits(
        self, service_key: str | None = None, customer_key: str | None = None
    ) -> None: ...


@dataclass(frozen=True)
class WrapperStatistics:
    """Process-wide counters of the LLM wrappers (``wrapper_statistics()``).

    Attributes:
        recorded: events handed to a tracker.
        extraction_errors: responses or stream events whose usage could not be read.
        tracking_errors: events the tracker refused (invalid, queue full, closed...).
        untracked: calls that finished without any usage to record.
    """

    recorded: int = 0
    extraction_errors: int = 0
    tracking_errors: int = 0
    untracked: int = 0


_counts = {"recorded": 0, "extraction_errors": 0, "tracking_errors": 0, "untracked": 0}
_counts_lock = threading.Lock()


def _bump(name: str) -> None:
    with _counts_lock:
        _counts[name] += 1


def wrapper_statistics() -> WrapperStatistics:
    """A snapshot of the wrappers' counters in this process."""
    with _counts_lock:
        return WrapperStatistics(**_counts)


def note_failure(kind: str, exc: BaseException, service_key: str) -> None:
    """Log and count a failure (``kind``: ``extraction`` or ``tracking``); never raises."""
    _bump(f"{kind}_errors")
    logger.warning(
        "aicostmanager: %s failed for %s (the call's result is returned unchanged): %r",
        kind,
        service_key,
        exc,
    )


_warned_no_usage: set[str] = set()


def _warn_no_usage(label: str) -> None:
    with _counts_lock:
        if label in _warned_no_usage:
            return
        _warned_no_usage.add(label)
    logger.warning(
        "aicostmanager: a response of %s carried no usage, so no event was recorded "
        "(later ones are only counted: wrapper_statistics().untracked)",
        label,
    )


# ---- the shared default tracker ------------------------------------------------------------


def default_tracker() -> TrackerLike:
    """The process tracker (``aicostmanager._process_tracker``), created on first use.

    One per process, never one per wrapper, and the same object the integrations hand out
    (Django's ``get_tracker()``, Celery's, the pool's, Streamlit's ``"default"``), created
    from their configured options, else from the environment.

    Raises:
        MissingConfiguration: no API key in the options, the environment or ``AICM.INI``.
    """
    from .._process_tracker import process_tracker

    return process_tracker()


# ---- recorder and call ---------------------------------------------------------------------


def _is_blocking_immediate(tracker: Any) -> bool:
    from .._sync import Tracker
    from .._types import DeliveryType

    if not isinstance(tracker, Tracker):
        return False
    return bool(tracker.settings.delivery_type is DeliveryType.IMMEDIATE)


class Recorder:
    """Turns finished calls of one wrapper into events on one tracker."""

    __slots__ = (
        "_tracker",
        "blocking",
        "fixed_service_key",
        "response_model_first",
        "unprepared",
        "vendor",
    )

    def __init__(
        self,
        tracker: TrackerLike | None,
        vendor: str,
        fixed_service_key: str | None = None,
        *,
        response_model_first: bool = False,
    ) -> None:
        if tracker is not None and not (
            callable(getattr(tracker, "track_nowait", None))
            and callable(getattr(tracker, "check_limits", None))
        ):
            raise TypeError(
                f"tracker must be an AsyncTracker or a Tracker, not {type(tracker).__name__}"
            )
        self._tracker = tracker if tracker is not None else default_tracker()
        self.blocking = _is_blocking_immediate(self._tracker)
        self.vendor = vendor
        self.fixed_service_key = fixed_service_key
        # Azure names deployments in `model=`; the response names the model that was billed.
        self.response_model_first = response_model_first
        # Methods whose server refused what the wrapper adds to a request (see _base).
        self.unprepared: set[str] = set()

    @property
    def tracker(self) -> TrackerLike:
        """The tracker events go to."""
        return self._tracker

    def service_key(self, model: str | None) -> str:
        """``vendor::model`` (``vendor::unknown-model`` when the call named none)."""
        if self.fixed_service_key is not None:
            return self.fixed_service_key
        return f"{self.vendor}::{model or 'unknown-model'}"

    def refuse_prepare(self, label: str) -> None:
        """Stop adding anything to the requests of ``label``: its server refused it."""
        if label not in self.unprepared:
            self.unprepared.add(label)
            logger.warning(
                "aicostmanager: the server behind %s refused a parameter the wrapper adds "
                "(e.g. stream_options.include_usage); the call was sent again as written, and "
                "this client's calls are no longer changed (streams may then lack usage)",
                label,
            )

    def open_call(self, call: OpenCall) -> None:
        """Have the tracker settle ``call`` when it closes (never raises)."""
        register = getattr(self._tracker, "_register_open_call", None)
        if register is not None:
            try:
                register(call)
            except Exception:  # a closed tracker: the call records (and fails) on its own
                pass

    def start(self, model: str | None) -> Call:
        """Open a call: capture the scope, check limits.

        Raises:
            UsageLimitExceeded: limits are enabled and a triggered limit blocks this call.
        """
        scope = current_scope()
        call = Call(self, model, scope.customer_key, scope.context)
        try:
            self._tracker.check_limits(call.service_key, scope.customer_key)
        except UsageLimitExceeded:
            raise
        except Exception as exc:  # a closed tracker must not stop the LLM call
            note_failure("tracking", exc, call.service_key)
        return call


class Call:
    """One intercepted call; ``record`` runs at most once."""

    __slots__ = (
        "context",
        "customer_key",
        "done",
        "estimator",
        "model",
        "recorder",
        "request",
        "service_key",
    )

    def __init__(
        self,
        recorder: Recorder,
        model: str | None,
        customer_key: str | None,
        context: Mapping[str, Any] | None,
    ) -> None:
        self.recorder = recorder
        self.model = model
        self.service_key = recorder.service_key(model)
        self.customer_key = customer_key
        self.context = context
        self.done = False
        # The request's keyword arguments and how to estimate its input tokens: used only
        # when a stream ends before the provider said (see ``Observed.estimate_input``).
        self.request: Mapping[str, Any] | None = None
        self.estimator: Callable[[Mapping[str, Any]], int] | None = None

    def record(self, observed: Observed | None) -> None:
        """Hand the call's usage to the tracker, once; never raises."""
        if self.done:
            return
        self.done = True
        if observed is None or observed.usage is None:
            _bump("untracked")
            return
        usage = observed.usage
        if observed.estimate_input is not None:
            usage = self._estimated(usage, observed.estimate_input)
        service_key = self.service_key
        recorder = self.recorder
        if (
            observed.model
            and recorder.fixed_service_key is None
            and (self.model is None or recorder.response_model_first)
        ):
            service_key = self.recorder.service_key(observed.model)
        tracker = self.recorder.tracker
        # A blocking Tracker in immediate mode cannot send "nowait" from a thread that is
        # not its own: it sends with the blocking track(), as immediate delivery means.
        send = tracker.track if self.recorder.blocking else tracker.track_nowait
        # Only the arguments that are set: each one passed is checked again by the tracker.
        record: RecordArgs = {"response_id": observed.response_id}
        if self.customer_key is not None:
            record["customer_key"] = self.customer_key
        if self.context is not None:
            record["context"] = self.context
        try:
            send(service_key, usage, **record)
        except UsageLimitExceeded:
            pass  # recorded; the limit now applies to the next call (checked before it)
        except Exception as exc:
            note_failure("tracking", exc, service_key)
            return
        # Framework callbacks that see this call too skip it (the wrapper's usage is complete).
        _seen.note(observed.response_id, observed.usage)
        _bump("recorded")

    def _estimated(self, usage: dict[str, Any], name: str) -> dict[str, Any]:
        """``usage`` with the input field ``name`` estimated from the request (and marked)."""
        if self.estimator is None or self.request is None:
            return usage
        try:
            guess = self.estimator(self.request)
        except Exception as exc:
            note_failure("extraction", exc, self.service_key)
            return usage
        return add_estimate(usage, name, guess)

    def extract(self, extractor: Any, result: Any, label: str | None = None) -> None:
        """Run a response extractor and record; an extractor failure is logged and counted.

        A response without usage records nothing: with a ``label`` (provider and method), the
        first such response per label logs one WARNING; all are counted (``untracked``).
        """
        try:
            observed = extractor(result)
        except Exception as exc:
            self.done = True
            note_failure("extraction", exc, self.service_key)
            return
        if label is not None and (observed is None or observed.usage is None) and not self.done:
            _warn_no_usage(label)
        self.record(observed)
