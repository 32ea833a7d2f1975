"""Bounded reads: a statement time limit, a reader pool shared fairly by teams, keyset pages,
literal LIKE wildcards in context filters."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from server_helpers import Api, record

from aicostmanager.server import LocalServer, _costs
from aicostmanager.server._db import Database, ReadTimeoutError
from aicostmanager.server._db_readers import read_team

KEY = "sk-test-read-limits-secret.read-limits"
# Never ends on its own: only the time limit (or an interrupt) stops it.
ENDLESS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) FROM c"


async def test_a_read_past_the_time_limit_is_interrupted(tmp_path: Path) -> None:
    """A statement running past the limit raises ReadTimeoutError; the reader then works."""
    db = await Database.open(
        str(tmp_path / "s.db"), "CREATE TABLE t (x);", readers=2, read_time_limit=0.2
    )
    try:
        with anyio.fail_after(60), pytest.raises(ReadTimeoutError, match="0.2 s limit"):
            await db.fetchall(ENDLESS)
        assert await db.fetchone("SELECT 41 + 1") == (42,)
    finally:
        await db.close()


async def test_one_teams_slow_reads_never_stall_another_team(tmp_path: Path) -> None:
    """While team A's reads hold every reader it may, team B's read is answered."""
    db = await Database.open(
        str(tmp_path / "s.db"), "CREATE TABLE t (x);", readers=4, read_time_limit=120
    )
    outcomes: list[str] = []

    async def slow(team: str) -> None:
        read_team.set(team)
        try:
            await db.fetchall(ENDLESS)
        except ReadTimeoutError:
            outcomes.append(f"{team} interrupted")

    try:
        async with anyio.create_task_group() as tasks:
            for _ in range(5):  # more than the 3 readers one team may hold
                tasks.start_soon(slow, "team-a")
            with anyio.fail_after(60):
                # Wait until team A holds its share of the readers (3 of 4).
                while len(db.readers._free) > 1:  # noqa: ASYNC110 - no event for this
                    await anyio.sleep(0.01)
                read_team.set("team-b")
                assert await db.fetchone("SELECT 'b answered'") == ("b answered",)
                assert outcomes == []  # team A's reads were all still running
                for conn in db.readers.connections:
                    await conn.interrupt()
                # The two queued reads of team A then run; stop them as well.
                while len(outcomes) < 3:  # noqa: ASYNC110
                    await anyio.sleep(0.01)
                while len(outcomes) < 5:
                    for conn in db.readers.connections:
                        await conn.interrupt()
                    await anyio.sleep(0.01)
    finally:
        await db.close()
    assert outcomes == ["team-a interrupted"] * 5


@pytest.fixture(scope="module")
def tight_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A server whose read statements may run about a microsecond.

    On SQLite: PostgreSQL's ``statement_timeout`` counts whole milliseconds of wall time, which
    a loaded machine spends on the smallest read, so no limit there stops only the slow ones
    (``test_storage_backends.py`` checks PostgreSQL's limit with a read that sleeps).
    """
    db = tmp_path_factory.mktemp("tight") / "tight.db"
    with LocalServer(db=str(db), api_keys=[KEY], testing=False, read_time_limit=1e-6) as server:
        yield server


def test_a_slow_read_is_a_503_with_a_clear_message(tight_server: LocalServer) -> None:
    """A read the time limit stops is a 503 naming the limit and what to do; others go on."""
    api = Api(tight_server.api_root, KEY)
    try:
        api.track_ok(*(record(uuid.uuid4().hex, context={"a": f"v{i}"}) for i in range(1000)))
        response = api.http.get("/costs/", params={"context.a": "%_%"})
        assert response.status_code == 503, response.text
        assert "limit" in response.json()["detail"] and "next" in response.json()["detail"]
        assert response.headers["retry-after"]
        assert api.http.get("/customers/").status_code == 200
    finally:
        api.close()


def _walk(api: Api, path: str, **params: Any) -> list[dict[str, Any]]:
    page = api.get(path, **params)
    items = list(page["results"])
    while page["next"]:
        page = api.http.get(page["next"]).json()
        items.extend(page["results"])
    return items


def test_next_pages_by_cursor_and_new_events_shift_nothing(api: Api) -> None:
    """``next`` carries a cursor: events stored meanwhile neither repeat nor skip an item."""
    api.track_ok(*(record(f"old-{i}", timestamp=1_700_000_000 + i) for i in range(30)))
    first = api.get("/usage/events/", limit=10)
    assert "cursor=" in first["next"] and "offset=10" in first["next"]
    # Newer events arrive while the client pages: offset paging would repeat 10 items.
    api.track_ok(*(record(f"new-{i}", timestamp=1_800_000_000 + i) for i in range(10)))
    seen = [e["response_id"] for e in first["results"]]
    page = first
    while page["next"]:
        page = api.http.get(page["next"]).json()
        seen.extend(e["response_id"] for e in page["results"])
    assert sorted(seen) == sorted(f"old-{i}" for i in range(30))
    costs = _walk(api, "/costs/", limit=7)
    assert len({c["uuid"] for c in costs}) == len(costs) == 80  # two cost lines an event


@pytest.mark.parametrize("path", ["/costs/", "/usage/events/"])
def test_deep_offset_and_bad_cursor_are_422(api: Api, path: str) -> None:
    """A plain offset past 10,000 and a forged cursor are 422s that say what to do."""
    deep = api.http.get(path, params={"offset": 2_900_000})
    assert deep.status_code == 422 and "next" in deep.json()["detail"]
    assert api.http.get(path, params={"offset": 10_000}).status_code == 200
    for bad in ("x", "1.5", "nan_3", "1_-1", "inf_2"):
        response = api.http.get(path, params={"cursor": bad})
        assert response.status_code == 422, bad


def test_context_filter_wildcards_are_literal(api: Api) -> None:
    """``%`` and ``_`` in a context filter match themselves; ``*`` is the only wildcard."""
    api.track_ok(
        record("pct", context={"a": "%_%"}),
        record("plain", context={"a": "abc"}),
        record("under", context={"a": "a_c"}),
    )

    def ids(value: str) -> set[str]:
        return {c["response_id"] for c in api.get("/costs/", **{"context.a": value})["results"]}

    assert ids("%_%") == {"pct"}
    assert ids("a_c") == {"under"}
    assert ids("a_*") == {"under"}
    assert ids("*") == {"pct", "plain", "under"}
    assert ids("%*") == {"pct"}


def test_costs_count_is_capped_and_says_so(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past COUNT_CAP matches ``count`` stops there with ``count_capped``; pages still go on."""
    monkeypatch.setattr(_costs, "COUNT_CAP", 5)
    api.track_ok(*(record(f"c{i}") for i in range(4)))  # two cost events each
    first = api.get("/costs/", limit=3)
    assert first["count"] == 5 and first["count_capped"] is True
    assert len(_walk(api, "/costs/", limit=3)) == 8
    narrow = api.get("/costs/", response_id="c1")
    assert narrow["count"] == 2 and narrow["count_capped"] is False
