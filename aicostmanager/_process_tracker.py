"""The process's trackers: one ``Tracker`` per name per process, configured by integrations.

Wrappers built without ``tracker=`` use the ``"default"`` one (``wrappers.default_tracker``);
the integrations configure it (Django from ``settings.AICM``, Celery from ``setup()``, pool
workers from ``init_worker``) and hand out the same object, so a Django view that wraps a
client without ``tracker=`` tracks through Django's tracker: one tracker, one delivery worker
per queue file. Streamlit's named trackers live here too.

Process boundaries are handled here and nowhere else:

- **fork**: a tracker belongs to the process that created it. A forked child (gunicorn,
  Celery prefork, ``multiprocessing``) gets a fresh one from the same options on first use;
  the registry's lock is replaced in the child, so a fork taken while another thread held it
  cannot deadlock.
- **os._exit**: ``multiprocessing`` children leave through ``os._exit``, which skips
  ``atexit`` (where a ``Tracker`` drains). A tracker created in such a child is also closed
  from ``multiprocessing``'s own exit hook; :func:`exit_on_sigterm` turns the ``SIGTERM`` of
  ``Pool.terminate()`` into that exit.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.util
import os
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import FrameType
from typing import Any

from ._options import check_options
from ._sync import Tracker

__all__ = (
    "DEFAULT",
    "close_process_tracker",
    "configure_process_tracker",
    "exit_on_sigterm",
    "process_tracker",
)

DEFAULT = "default"
"""The name of the tracker wrappers use when built without ``tracker=``."""

OptionsSource = Mapping[str, Any] | Callable[[], Mapping[str, Any]]
"""Tracker options, or a function returning them when the tracker is created."""


@dataclass
class _Slot:
    source: OptionsSource
    where: str
    tracker: Tracker | None = None
    pid: int = 0


_lock = threading.Lock()
_slots: dict[str, _Slot] = {}


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()
    for slot in _slots.values():
        slot.tracker = None  # the parent's; the portal it ran on does not exist here


os.register_at_fork(after_in_child=_after_fork_in_child)


def configure_process_tracker(
    options: OptionsSource, *, name: str = DEFAULT, where: str = "the process tracker"
) -> None:
    """Set the options the tracker ``name`` is created with (on its first use).

    Configuring again with equal options changes nothing; with other options, this
    process's existing tracker of that name is closed (drained) and the next use creates a
    new one.

    Args:
        options: tracker options, or a function returning them (read at creation, e.g. from
            a framework's settings).
        name: which tracker (wrappers use ``"default"``).
        where: what the options came from, for error messages (``"settings.AICM"``).

    Raises:
        UnknownOptionError: a mapping names an unknown option (a function's result is
            checked at creation).
    """
    if not callable(options):
        options = check_options(options, where)
    with _lock:
        slot = _slots.get(name)
        if slot is not None and slot.source == options:
            return
        _slots[name] = _Slot(options, where)
    if slot is not None and slot.tracker is not None and slot.pid == os.getpid():
        slot.tracker.close()


def process_tracker(name: str = DEFAULT) -> Tracker:
    """This process's tracker ``name``, created on first use (thread-safe; anew after fork).

    An unconfigured name uses the ``AICM_*`` environment and ``AICM.INI`` alone.

    Raises:
        MissingConfiguration: no API key in the options or the environment.
        ConfigurationError: an option is unknown or malformed.
    """
    slot = _slots.get(name)
    if slot is not None and slot.tracker is not None and slot.pid == os.getpid():
        return slot.tracker
    with _lock:
        slot = _slots.setdefault(name, _Slot({}, "the process tracker"))
        if slot.tracker is None or slot.pid != os.getpid():
            source = slot.source() if callable(slot.source) else slot.source
            tracker = Tracker(**check_options(source, slot.where))
            slot.tracker, slot.pid = tracker, os.getpid()
            if multiprocessing.parent_process() is not None:
                multiprocessing.util.Finalize(None, _close, args=(tracker,), exitpriority=100)
        return slot.tracker


def close_process_tracker(name: str = DEFAULT, timeout: float | None = None) -> None:
    """Drain and close this process's tracker ``name`` (its ``close_timeout`` by default).

    Idempotent; the options stay, so the next :func:`process_tracker` starts a new one.
    """
    with _lock:
        slot = _slots.get(name)
        if slot is None:
            return
        tracker, pid = slot.tracker, slot.pid
        slot.tracker = None
    if tracker is not None and pid == os.getpid():
        tracker.close(timeout)


def exit_on_sigterm() -> None:
    """Make ``SIGTERM`` leave through ``SystemExit`` (unless a handler is set already).

    ``Pool.terminate()`` (and so ``with Pool(...)``) ends workers with ``SIGTERM``; the
    default action would skip ``multiprocessing``'s exit hook and the drain registered there.
    """
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _close(tracker: Tracker) -> None:
    if signal.getsignal(signal.SIGTERM) is _exit_on_sigterm:
        # Pool.terminate() may signal a worker that is already draining: let it finish.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    tracker.close()


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    if getattr(multiprocessing.util, "_exiting", False):
        return  # already leaving through the exit hook (and its drain): do not cut it short
    raise SystemExit(128 + signum)
