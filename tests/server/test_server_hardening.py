"""The local server refuses hostile input with 4xx, isolates teams and guards its files."""

from __future__ import annotations

import socket
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_helpers import Api, record

from aicostmanager.server import LocalServer
from aicostmanager.server._cli import serve_main
from aicostmanager.server._config import check_testing_host

MIB = 1024 * 1024
CAP = 64 * MIB
# Two keys of two teams whose ids (the text after the last ".") are equal.
KEY_A = "sk-test-team-a-secret.shared-suffix"
KEY_B = "sk-test-team-b-secret.shared-suffix"


@pytest.fixture(scope="module")
def twin_server() -> Iterator[LocalServer]:
    """A server (not in testing mode) whose two configured keys each have their own team."""
    with LocalServer(api_keys=[KEY_A, KEY_B], testing=False) as server:
        yield server


# --- 12: de-duplication per team ------------------------------------------------------------


def test_dedup_is_per_team_not_per_key_suffix(twin_server: LocalServer) -> None:
    """A response id used by one team is stored and priced for another team sharing the suffix."""
    a, b = Api(twin_server.api_root, KEY_A), Api(twin_server.api_root, KEY_B)
    try:
        (first,) = a.track_ok(record("same-id", "openai::gpt-4o", timestamp="nonsense"))
        assert first["status"] == "error"
        (second,) = b.track_ok(record("same-id"))
        assert second["status"] == "completed"
        assert "errors" not in second
        assert b.get("/usage/events/")["count"] == 1
        assert b.get("/costs/")["count"] >= 1
        assert b.get("/usage/events/")["results"][0]["status"] == "completed"
        # Each team still gets its own first outcome on a retry.
        assert a.track_ok(record("same-id"))[0]["status"] == "error"
        assert b.track_ok(record("same-id"))[0]["status"] == "completed"
    finally:
        a.close()
        b.close()


def test_dedup_spans_keys_of_one_team(admin: Any, api_root: str) -> None:
    """Two keys of one team share de-duplication: the second send is answered as a duplicate."""
    info = admin.new_api_key_info()
    other, _ = admin.new_api_key(team_uuid=info["team_uuid"])
    first, second = Api(api_root, info["api_key"]), Api(api_root, other)
    try:
        first.track_ok(record("team-wide"))
        (again,) = second.track_ok(record("team-wide"))
        assert again["status"] == "completed"
        assert second.get("/usage/events/")["count"] == 1
        assert admin.stats(second.key_id)["duplicates"] == 1
    finally:
        first.close()
        second.close()


def test_old_database_is_migrated_to_team_scope(tmp_path: Path) -> None:
    """A database made with the key-scoped unique constraint is rebuilt, keeping its rows."""
    db = tmp_path / "old.db"
    with LocalServer(db=str(db), api_keys=[KEY_A], testing=False) as server:
        api = Api(server.api_root, KEY_A)
        api.track_ok(record("kept"))
        api.close()
    conn = sqlite3.connect(db)
    with conn:
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name='usage_events'").fetchone()[0]
        conn.execute("ALTER TABLE usage_events RENAME TO new_style")
        conn.execute(
            sql.replace("UNIQUE (team_uuid, response_id)", "UNIQUE (api_key_id, response_id)")
        )
        conn.execute("INSERT INTO usage_events SELECT * FROM new_style")
        conn.execute("DROP TABLE new_style")
        conn.execute("DROP TABLE alembic_version")  # it had no versioned migrations
    conn.close()
    with LocalServer(db=str(db), api_keys=[KEY_A, KEY_B], testing=False) as server:
        a, b = Api(server.api_root, KEY_A), Api(server.api_root, KEY_B)
        assert a.get("/usage/events/")["count"] == 1
        assert b.track_ok(record("kept"))[0]["status"] == "completed"
        assert b.get("/usage/events/")["count"] == 1
        a.close()
        b.close()
    conn = sqlite3.connect(db)
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name='usage_events'").fetchone()[0]
    indexes = {
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='usage_events'"
        )
    }
    conn.close()
    assert "UNIQUE (team_uuid, response_id)" in sql
    assert {"usage_events_unpriced", "usage_events_team_customer_ts"} <= indexes


# --- 13: odd values are 4xx, never 500 ----------------------------------------------------


LISTS = ["/costs/", "/usage/events/", "/usage/rollups/", "/customers/"]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("offset", [2**63, 2**64, 10**40, -1])
def test_huge_offset_is_422(api: Api, path: str, offset: int) -> None:
    """An offset past SQLite's integers is a 422 with a detail, and the connection stays open."""
    response = api.http.get(path, params={"offset": offset})
    assert response.status_code == 422
    assert "detail" in response.json()
    assert response.headers.get("connection") != "close"


@pytest.mark.parametrize("path", ["/costs/", "/usage/events/", "/usage/rollups/"])
def test_last_representable_end_date(api: Api, path: str) -> None:
    """``end_date=9999-12-31`` (the last date there is) bounds nothing: the event is listed."""
    api.track_ok(record("dated"))
    data = api.get(path, end_date="9999-12-31", start_date="0001-01-01")
    assert data["count"] >= 1


@pytest.mark.parametrize("value", ["10000-01-01", "9999-13-01", "\x00", "2024-02-30"])
def test_impossible_dates_are_422(api: Api, value: str) -> None:
    """A date that does not exist is a 422 with a detail on every dated list."""
    for path in ("/costs/", "/usage/events/", "/usage/rollups/"):
        response = api.http.get(path, params={"end_date": value})
        assert response.status_code == 422, (path, response.text)
        assert "end_date" in response.json()["detail"]


@pytest.mark.parametrize("name", ['context.a"b', "context.$[0", "context.a.b", "context.\\"])
def test_odd_context_filter_keys(api: Api, name: str) -> None:
    """Any context filter key is matched as a plain key (quotes and JSON-path text)."""
    key = name[len("context.") :]
    api.track_ok(record("ctx", context={key: "v"}))
    assert api.get("/costs/", **{name: "v"})["count"] >= 1
    assert api.get("/costs/", **{name: "nope"})["count"] == 0
    assert api.get("/costs/", **{"context.\x00": "v"})["count"] == 0


def test_deeply_nested_track_body_is_422(api: Api) -> None:
    """JSON nested 2,000 deep is a 422 with a detail, and the connection is kept."""
    body = b'{"tracked":' + b"[" * 2000 + b"]" * 2000 + b"}"
    response = api.http.post("/track", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert "nested too deeply" in response.json()["detail"]
    assert response.headers.get("connection") != "close"


def test_deep_payload_is_refused_and_not_stored(api: Api) -> None:
    """A payload nested past the limit is a per-record error and later listings still work."""
    deep: dict[str, object] = {"total_tokens": 1}
    for _ in range(200):
        deep = {"a": deep}
    (result,) = api.track_ok(record("deep", payload=deep))
    assert result["status"] == "error"
    assert "deeper than" in result["errors"][0]
    (event,) = api.get("/usage/events/")["results"]
    assert event["usage"] == {}


# --- 14: the body cap is enforced while the body streams ----------------------------------


def _request_head(api: Api, extra: str) -> bytes:
    return (
        f"POST /api/v1/track HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {api.key}\r\n"
        f"Content-Type: application/json\r\n{extra}\r\n"
    ).encode()


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_declared_oversize_body_refused_before_reading(api: Api, local_server: LocalServer) -> None:
    """A Content-Length of 400 MiB is answered 413 (connection closed) before any body is sent."""
    with socket.create_connection(("127.0.0.1", local_server.port), timeout=20) as sock:
        sock.sendall(_request_head(api, f"Content-Length: {400 * MIB}\r\n") + b'{"tracked":[')
        data = _read_response(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert b"connection: close" in head.lower()
    assert b"request body over" in body


def test_chunked_body_refused_once_past_the_cap(api: Api, local_server: LocalServer) -> None:
    """A chunked body that never ends is answered 413 as soon as it passes 64 MiB."""
    block = b"[" * MIB
    with socket.create_connection(("127.0.0.1", local_server.port), timeout=20) as sock:
        sock.sendall(_request_head(api, "Transfer-Encoding: chunked\r\n"))
        for _ in range(CAP // MIB):
            sock.sendall(b"%x\r\n" % len(block) + block + b"\r\n")
        sock.sendall(b"400\r\n" + b"[" * 1024 + b"\r\n")  # 1 KiB past the cap, no last chunk
        data = _read_response(sock)
    assert data.startswith(b"HTTP/1.1 413")
    assert b"request body over" in data


def test_small_bodies_pass_the_cap(api: Api) -> None:
    """Ordinary bodies, with or without Content-Length, are not affected by the cap."""

    def chunks() -> Iterator[bytes]:
        yield b'{"tracked": ['
        yield httpx.Request("POST", "/", json=record("streamed")).content
        yield b"]}"

    response = api.http.post(
        "/track", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 202, response.text
    assert api.track_ok(record("plain"))[0]["status"] == "completed"


# --- 15: testing mode only on loopback; private database file -----------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com"])
def test_testing_refused_on_open_interfaces(host: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``serve --testing`` on a non-loopback host exits 2 naming --unsafe-testing."""
    with pytest.raises(SystemExit) as exited:
        serve_main(["--host", host, "--testing", "--db", "/nonexistent/never-created.db"])
    assert exited.value.code == 2
    assert "--unsafe-testing" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unsafe"):
        LocalServer(host=host, testing=True)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_testing_allowed_on_loopback(host: str) -> None:
    """Loopback hosts may run testing mode; other hosts only with the explicit unsafe flag."""
    check_testing_host(host, testing=True, unsafe_testing=False)
    check_testing_host("0.0.0.0", testing=True, unsafe_testing=True)
    check_testing_host("0.0.0.0", testing=False, unsafe_testing=False)


def test_database_files_are_private(tmp_path: Path) -> None:
    """The server's database and its -wal/-shm files are created mode 0600."""
    db = tmp_path / "private.db"
    with LocalServer(db=str(db), api_keys=[KEY_A], testing=False) as server:
        api = Api(server.api_root, KEY_A)
        api.track_ok(record("private"))
        api.close()
        files = [db, Path(f"{db}-wal"), Path(f"{db}-shm")]
        modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files}
    assert modes == {f.name: 0o600 for f in files}
