"""The process tracker: one per process, shared by wrappers and integrations, anew after fork,
drained when a ``multiprocessing`` child leaves through ``os._exit``."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from aicostmanager import UnknownOptionError
from aicostmanager._process_tracker import (
    close_process_tracker,
    configure_process_tracker,
    process_tracker,
)
from aicostmanager.server import LocalServer
from aicostmanager.wrappers import default_tracker

from ._process_helpers import child_env, events

CHILD = textwrap.dedent(
    """
    import multiprocessing, sys
    from aicostmanager._process_tracker import configure_process_tracker, process_tracker
    from aicostmanager.wrappers import default_tracker

    configure_process_tracker({"customer_key": "from-configure"})
    PARENT = process_tracker()

    def child():
        tracker = default_tracker()
        assert tracker is not PARENT and tracker is process_tracker()
        print(tracker.track_nowait("openai::gpt-5-mini", {"input_tokens": 1}), flush=True)
        # no close(): the child leaves through os._exit, which skips atexit

    if __name__ == "__main__":
        proc = multiprocessing.get_context("fork").Process(target=child)
        proc.start()
        proc.join(60)
        assert proc.exitcode == 0, proc.exitcode
        print(PARENT.track_nowait("openai::gpt-5-mini", {"input_tokens": 2}), flush=True)
    """
)


@pytest.fixture
def _unconfigured() -> Iterator[None]:
    """The test process's process tracker is unconfigured and closed before and after."""
    configure_process_tracker({})
    close_process_tracker()
    yield
    configure_process_tracker({})
    close_process_tracker()


def test_forked_child_tracker_is_drained_at_os_exit(
    local_server: LocalServer, api_key: str, tmp_path: Path
) -> None:
    """A forked child gets its own tracker from the same options; its events are delivered
    although it exits through ``os._exit``; the parent's at its own exit."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    # A 30 s batch linger: only the drains at exit deliver anything.
    env = child_env(
        api_key, local_server.url, tmp_path, AICM_BATCH_INTERVAL="30", AICM_CLOSE_TIMEOUT="30"
    )
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    child_rid, parent_rid = done.stdout.split()
    stored = {e["response_id"]: e["customer_key"] for e in events(local_server.api_root, api_key)}
    assert stored == {child_rid: "from-configure", parent_rid: "from-configure"}


@pytest.mark.usefixtures("_unconfigured")
def test_configure_shares_and_replaces(tracker_options: dict[str, object]) -> None:
    """Wrappers' default and ``process_tracker()`` are one object; new options replace it."""
    configure_process_tracker(tracker_options)
    first = process_tracker()
    assert default_tracker() is first is process_tracker()
    configure_process_tracker(dict(tracker_options))  # equal options: nothing changes
    assert process_tracker() is first
    configure_process_tracker({**tracker_options, "customer_key": "other"})
    second = process_tracker()
    assert second is not first
    assert repr(first) == "Tracker(closed)"
    assert second.track("openai::gpt-5-mini", {"input_tokens": 1}).ok


@pytest.mark.usefixtures("_unconfigured")
def test_options_are_checked_when_configured() -> None:
    """An unknown option is refused when configured, before any tracker exists."""
    with pytest.raises(UnknownOptionError, match="colour"):
        configure_process_tracker({"colour": "red"}, where="test")
