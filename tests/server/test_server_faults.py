"""Fault injection of the testing admin API, observed over real HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from server_helpers import Api, record

from aicostmanager.server import LocalServer


@pytest.fixture
def faults(admin: Any) -> Iterator[Any]:
    """The admin client; every fault rule is removed after the test."""
    try:
        yield admin
    finally:
        admin.clear_faults()


def test_status_with_retry_after(api: Api, faults: Any) -> None:
    """A status fault answers that status, Retry-After and body, and records nothing."""
    faults.add_fault(api_key_id=api.key_id, status=429, retry_after="7", body={"detail": "slow"})
    response = api.track(record("r"))
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json() == {"detail": "slow"}
    assert faults.stats(api.key_id)["accepted"] == 0


def test_default_fault_body(api: Api, faults: Any) -> None:
    """Without a body a status fault answers a JSON detail."""
    faults.add_fault(api_key_id=api.key_id, status=503)
    response = api.track(record("r"))
    assert response.status_code == 503
    assert "503" in response.json()["detail"]


def test_count_expires_rule(api: Api, faults: Any) -> None:
    """A rule with count=N hits N requests, then the server answers normally."""
    faults.add_fault(api_key_id=api.key_id, status=500, count=2)
    codes = [api.track(record("c")).status_code for _ in range(3)]
    assert codes == [500, 500, 202]
    assert faults.stats(api.key_id)["requests"] == 3


def test_rate_zero_never_applies(api: Api, faults: Any) -> None:
    """A rule with rate 0 never fires."""
    faults.add_fault(api_key_id=api.key_id, status=500, rate=0.0)
    assert [api.track(record(f"r{i}")).status_code for i in range(5)] == [202] * 5


def test_rate_half_fires_sometimes(api: Api, faults: Any) -> None:
    """A rule with rate 0.5 hits some requests and spares others."""
    faults.add_fault(api_key_id=api.key_id, status=500, rate=0.5)
    codes = {api.track(record(f"r{i}")).status_code for i in range(60)}
    assert codes == {500, 202}


def test_duration_expires_rule(api: Api, faults: Any) -> None:
    """A rule with a duration stops applying once it is over."""
    faults.add_fault(api_key_id=api.key_id, status=503, duration=0.5)
    assert api.track(record("d")).status_code == 503
    deadline = time.monotonic() + 10
    while api.track(record("d")).status_code == 503:
        assert time.monotonic() < deadline, "duration rule never expired"
        time.sleep(0.05)
    assert faults.faults() == []


def test_fault_scoped_to_key(api_root: str, api: Api, faults: Any) -> None:
    """A rule scoped to one api_key_id leaves other keys alone."""
    other = Api(api_root, faults.new_api_key()[0])
    try:
        faults.add_fault(api_key_id=api.key_id, status=500)
        assert api.track(record("a")).status_code == 500
        assert other.track(record("a")).status_code == 202
    finally:
        other.close()


def test_path_star_and_other_paths(api: Api, faults: Any) -> None:
    """path='*' hits every API path; a /track rule does not hit /costs/."""
    rule = faults.add_fault(api_key_id=api.key_id, status=502)
    assert api.http.get("/costs/").status_code == 200
    faults.remove_fault(rule)
    faults.add_fault(api_key_id=api.key_id, status=502, path="*")
    assert api.http.get("/costs/").status_code == 502
    assert api.http.get("/vendors/").status_code == 502


def test_latency(api: Api, faults: Any) -> None:
    """A latency rule delays the answer, which is then normal."""
    faults.add_fault(api_key_id=api.key_id, latency=0.4)
    started = time.monotonic()
    response = api.track(record("l"))
    assert response.status_code == 202
    assert time.monotonic() - started >= 0.4


def test_drop_before_closes_connection_and_records_nothing(api: Api, faults: Any) -> None:
    """drop=before: the client sees a connection error and nothing was recorded."""
    faults.add_fault(api_key_id=api.key_id, drop="before", count=1)
    with pytest.raises(httpx.TransportError):
        api.track(record("db"))
    assert faults.stats(api.key_id)["accepted"] == 0
    assert api.get("/costs/")["count"] == 0


def test_drop_after_records_then_closes(api: Api, faults: Any) -> None:
    """drop=after: the client sees a connection error, but the batch was recorded."""
    faults.add_fault(api_key_id=api.key_id, drop="after", count=1)
    with pytest.raises(httpx.TransportError):
        api.track(record("da"))
    assert faults.stats(api.key_id)["accepted"] == 1
    assert api.get("/costs/")["count"] > 0
    (again,) = api.track_ok(record("da"))
    assert again["status"] == "completed"
    assert faults.stats(api.key_id)["duplicates"] == 1


def test_hang_released_by_removing_rule(api: Api, faults: Any) -> None:
    """A hung request is answered once its rule is removed."""
    rule = faults.add_fault(api_key_id=api.key_id, hang=True)
    outcome: dict[str, Any] = {}

    def call() -> None:
        outcome["status"] = api.track(record("h")).status_code

    worker = threading.Thread(target=call)
    worker.start()
    deadline = time.monotonic() + 10
    while not faults.stats(api.key_id)["requests"]:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert worker.is_alive()
    faults.remove_fault(rule)
    worker.join(10)
    assert outcome == {"status": 202}


def test_hang_does_not_block_stop() -> None:
    """stop() returns quickly although a request hangs; the client sees a connection error."""
    server = LocalServer(testing=True)
    server.start()
    admin = httpx.Client(base_url=server.url + "/_testing")
    key = admin.post("/api-keys").json()["api_key"]
    admin.post("/faults", json={"hang": True})
    outcome: dict[str, Any] = {}

    def call() -> None:
        try:
            httpx.post(
                server.api_root + "/track",
                json={"tracked": [record("h")]},
                headers={"Authorization": f"Bearer {key}"},
                timeout=30,
            )
        except httpx.TransportError as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=call)
    worker.start()
    deadline = time.monotonic() + 10
    while not admin.get("/stats").json()["requests"]:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    admin.close()
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 3
    worker.join(10)
    assert isinstance(outcome.get("error"), httpx.TransportError)


def test_fault_needs_an_effect(faults: Any) -> None:
    """A rule without status, latency, hang or drop is refused."""
    response = httpx.post(faults.server.url + "/_testing/faults", json={"path": "/track"})
    assert response.status_code == 422
