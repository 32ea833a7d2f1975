"""The Celery integration with real worker processes on kombu's filesystem broker.

The broker is a folder the tests create; each test has its own queue name, API key and queue
file. Events are counted on the local server by the ``response_id`` each task was given.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from aicostmanager import tracking_scope
from aicostmanager.server import LocalServer

from ._process_helpers import (
    EXAMPLES,
    child_env,
    event_count,
    events,
    spawn,
    stop_group,
    wait_for,
)

pytest.importorskip("celery")
HERE = Path(__file__).parent
POOLS = ("prefork", "threads", "solo")


@pytest.fixture(scope="module")
def celery_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The example app (docs/examples/celery_app.py) on a broker folder of this module."""
    broker = tmp_path_factory.mktemp("broker")
    os.environ["CELERY_BROKER_DIR"] = str(broker)
    sys.path.insert(0, str(EXAMPLES))
    try:
        module = importlib.import_module("celery_app")
        yield module
    finally:
        sys.path.remove(str(EXAMPLES))
        del os.environ["CELERY_BROKER_DIR"]


class Worker:
    """A ``celery worker`` process consuming one queue, with the AICM_* env of one test."""

    def __init__(self, env: dict[str, str], queue: str, pool: str, tmp: Path) -> None:
        self.env, self.queue, self.pool, self.log = env, queue, pool, tmp / "worker.log"
        self.proc: Any = None

    def start(self) -> None:
        command = [sys.executable, "-m", "celery", "-A", "_celery_tasks", "worker"]
        command += ["--pool", self.pool, "--concurrency", "2", "-Q", self.queue]
        command += ["-n", f"{self.queue}@%h", "--loglevel", "INFO"]
        command += ["--without-heartbeat", "--without-gossip", "--without-mingle"]
        self.proc = spawn(command, self.env, self.log)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """SIGTERM: a warm shutdown through the main process (as `celery multi` does);
        SIGKILL: the whole process group at once, like a crash."""
        code: int = stop_group(self.proc, sig, group=sig == signal.SIGKILL)
        return code

    def wait(self) -> int:
        """Wait for an exit already asked for (signal 0 sends nothing)."""
        code: int = stop_group(self.proc, 0, group=False)
        return code


@pytest.fixture
def make_worker(
    celery_app: ModuleType, local_server: LocalServer, api_key: str, tmp_path: Path
) -> Iterator[Any]:
    """Factory of workers on this test's key; ``tag`` names their own queue file, broker
    queue and accepted log (under ``tmp_path / tag``). All are stopped after the test."""
    workers: list[Worker] = []
    prefix = f"q{uuid.uuid4().hex[:12]}"

    def make(pool: str = "prefork", tag: str = "", **env: str) -> Worker:
        tmp = tmp_path / tag
        tmp.mkdir(exist_ok=True)
        environ = child_env(
            api_key,
            local_server.url,
            tmp,
            EXAMPLES,
            HERE,
            CELERY_BROKER_DIR=os.environ["CELERY_BROKER_DIR"],
            ACCEPTED_LOG=str(tmp / "accepted.log"),
            **env,
        )
        worker = Worker(environ, prefix + tag, pool, tmp)
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        if worker.proc is not None and worker.proc.poll() is None:
            worker.stop(signal.SIGKILL)


def _accepted(tmp: Path) -> list[str]:
    path = tmp / "accepted.log"
    return path.read_text().split() if path.exists() else []


def test_prefork_500_tasks_give_500_events_with_their_customer(
    celery_app: ModuleType, make_worker: Any, local_server: LocalServer, api_key: str
) -> None:
    """500 tasks on a 2-child prefork worker give exactly 500 events, each with its customer.

    Half the tasks name their customer in a header, half inherit the producer's scope.
    """
    worker = make_worker("prefork")
    worker.start()
    expected = {uuid.uuid4().hex: f"cust-{i % 10}" for i in range(500)}
    scoped = set(list(expected)[::2])
    for rid, customer in expected.items():
        call: dict[str, Any] = {"args": ("a short text",), "kwargs": {"response_id": rid}}
        if rid not in scoped:
            celery_app.summarize.apply_async(
                **call, queue=worker.queue, headers={"customer_key": customer}
            )
        else:
            with tracking_scope(customer, {"source": "scope"}):
                celery_app.summarize.apply_async(**call, queue=worker.queue)
    root = local_server.api_root
    wait_for(lambda: event_count(root, api_key) >= 500, 45, "500 events", worker.proc, worker.log)
    assert worker.stop() == 0
    stored = events(root, api_key)
    assert {e["response_id"]: e["customer_key"] for e in stored} == expected
    assert len(stored) == 500
    assert {e["response_id"] for e in stored if e["context"] == {"source": "scope"}} == scoped


def test_sigkill_mid_run_loses_nothing_accepted(
    celery_app: ModuleType, make_worker: Any, local_server: LocalServer, admin: Any,
    api_key: str, tmp_path: Path,
) -> None:  # fmt: skip
    """SIGKILL of the whole worker mid-run: every record whose track() returned is delivered
    exactly once by the restarted worker (the server refused everything before the kill)."""
    fault = admin.add_fault(api_key_id=api_key.rsplit(".", 1)[1], status=503)
    worker = make_worker("prefork")
    worker.start()
    sent = [uuid.uuid4().hex for _ in range(300)]
    for rid in sent:
        celery_app.app.send_task("tests.track_and_log", args=(rid,), queue=worker.queue)
    wait_for(lambda: len(_accepted(tmp_path)) >= 60, 45, "60 accepted", worker.proc, worker.log)
    worker.stop(signal.SIGKILL)
    at_kill = set(_accepted(tmp_path))
    root = local_server.api_root
    assert event_count(root, api_key) == 0
    admin.remove_fault(fault)

    restarted = make_worker("prefork")
    restarted.start()
    wait_for(
        lambda: at_kill <= {e["response_id"] for e in events(root, api_key)},
        45,
        "the leftovers of the killed worker",
        restarted.proc,
        restarted.log,
    )
    assert restarted.stop() == 0
    accepted = _accepted(tmp_path)
    delivered = Counter(e["response_id"] for e in events(root, api_key))
    assert set(accepted) <= set(delivered)
    assert set(delivered) <= set(sent)
    assert max(delivered.values()) == 1


def test_shutdown_drains_what_was_tracked_in_each_pool(
    celery_app: ModuleType, make_worker: Any, local_server: LocalServer, api_key: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    """Prefork, threads and solo workers with delivery held back (a 30 s batch linger), each on
    its own queue file: a warm shutdown delivers every event, with the task's customer."""
    workers = [make_worker(pool, pool, AICM_BATCH_INTERVAL="30") for pool in POOLS]
    for worker in workers:
        worker.start()
    expected: dict[str, str] = {}
    for worker in workers:
        for i in range(12):
            rid, customer = uuid.uuid4().hex, f"{worker.pool}-{i % 3}"
            expected[rid] = customer
            celery_app.app.send_task(
                "tests.track_and_log", args=(rid,), kwargs={"customer_key": customer},
                queue=worker.queue,
            )  # fmt: skip
    for worker in workers:
        wait_for(
            lambda: len(_accepted(tmp_path / worker.pool)) == 12,  # noqa: B023 - used at once
            45, f"12 accepted by {worker.pool}", worker.proc, worker.log,
        )  # fmt: skip
    for worker in workers:
        worker.proc.send_signal(signal.SIGTERM)
    assert [worker.wait() for worker in workers] == [0, 0, 0]
    stored = events(local_server.api_root, api_key)
    assert {e["response_id"]: e["customer_key"] for e in stored} == expected


def test_task_customer_comes_from_kwarg_then_header(celery_app: ModuleType) -> None:
    """A task's customer_key argument beats the header; the context header becomes context."""
    from aicostmanager.integrations.celery import TrackedTask

    @celery_app.app.task(base=TrackedTask, name="tests.scope_probe")
    def probe(customer_key: str | None = None) -> tuple[Any, Any]:
        with tracking_scope() as scope:
            return scope.customer_key, scope.context

    headers = {"customer_key": "from-header", "aicm_context": {"job": "nightly"}}
    assert probe.apply(headers=headers).get() == ("from-header", {"job": "nightly"})
    assert probe.apply(kwargs={"customer_key": "kw"}, headers=headers).get()[0] == "kw"
    assert probe.apply().get() == (None, None)


def test_setup_rejects_unknown_options() -> None:
    """setup() raises TypeError for an option the Tracker does not have."""
    from aicostmanager.integrations.celery import setup

    with pytest.raises(TypeError, match="colour"):
        setup(colour="red")  # type: ignore[call-arg]


def test_worker_survives_a_tracker_that_cannot_start(
    celery_app: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """worker_process_init without an API key logs the error instead of killing the child."""
    from celery import signals

    from aicostmanager import MissingConfiguration
    from aicostmanager.integrations.celery import get_tracker

    for name in list(os.environ):
        if name.startswith("AICM_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AICM_INI_PATH", str(tmp_path / "AICM.INI"))
    signals.worker_process_init.send(sender="test")
    assert "could not start the tracker" in caplog.text
    with pytest.raises(MissingConfiguration):
        get_tracker()
