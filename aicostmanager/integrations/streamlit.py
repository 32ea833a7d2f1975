"""Streamlit: one ``Tracker`` shared by every session of the Streamlit server.

::

    import streamlit as st
    from aicostmanager import tracking_scope
    from aicostmanager.integrations.streamlit import shared_tracker

    tracker = shared_tracker()                      # the same object in every session and rerun
    with tracking_scope(customer_key=st.session_state.get("org")):
        tracker.track("openai::gpt-5-mini", {"input_tokens": 10, "output_tokens": 20})

The tracker is created on first use (``st.cache_resource``), so no session pays for it twice
and no rerun starts a second delivery worker. It is closed (drained with its ``close_timeout``)
when the resource cache is cleared, and at interpreter exit when the server stops; what is not
delivered by then stays in the queue file for the next start. Needs
``pip install 'aicostmanager[streamlit]'``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from typing_extensions import Unpack

from ._extra import requires_extra

with requires_extra("streamlit", "Streamlit", "streamlit"):
    import streamlit as st

from .. import Tracker, TrackerOptions
from .._options import check_options
from .._process_tracker import (
    DEFAULT,
    close_process_tracker,
    configure_process_tracker,
    process_tracker,
)

__all__ = ("shared_tracker",)


def _slot(name: str) -> str:
    # "default" is the process tracker that wrappers built without ``tracker=`` use.
    return DEFAULT if name == "default" else f"streamlit:{name}"


def _release(name: str) -> None:
    close_process_tracker(_slot(name))


def _cache() -> Callable[[Callable[..., str]], Callable[..., str]]:
    try:
        return st.cache_resource(show_spinner=False, on_release=_release)
    except TypeError:  # Streamlit before `on_release`: the atexit drain still closes it
        return st.cache_resource(show_spinner=False)


@_cache()
def _shared(name: str, _options: dict[str, Any]) -> str:
    # `_options` starts with "_": Streamlit does not hash it, `name` alone keys the cache.
    # The cache holds the name; the tracker is the process tracker of that name, so the
    # "default" one is also what wrappers built without ``tracker=`` use.
    configure_process_tracker(_options, name=_slot(name), where="shared_tracker()")
    process_tracker(_slot(name))
    return name


def shared_tracker(name: str = "default", **options: Unpack[TrackerOptions]) -> Tracker:
    """The server-wide ``Tracker`` called ``name``, created on the first call.

    Args:
        name: one tracker per name (e.g. one per API key); ``"default"`` is enough for most apps.
        **options: ``Tracker`` options, used when the tracker is created (later calls with
            the same ``name`` get the existing tracker); the rest comes from the ``AICM_*``
            environment and ``AICM.INI``.

    Returns:
        The shared ``Tracker``. Bind each session's customer with ``tracking_scope``.

    Raises:
        ConfigurationError: an option is unknown or malformed.
        MissingConfiguration: no API key in the options or the environment.
    """
    if not isinstance(name, str):
        raise TypeError("name must be a string")
    checked = check_options(options, "shared_tracker()")
    return process_tracker(_slot(_shared(name, dict(checked))))
