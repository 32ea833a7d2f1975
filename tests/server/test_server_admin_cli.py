"""``aicostmanager server keys ...`` and ``serve --db URL / --workers N``, through the real CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from server_helpers import free_port, serve_process

from aicostmanager.cli import main
from aicostmanager.server._auth import hash_secret
from aicostmanager.server._cli import serve_main
from aicostmanager.server._cli_db import ENV_DB
from aicostmanager.server._db import Database

_SECRET = "pw-not-to-be-seen"


def _create_key(db: str, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[str, str, str]:
    """``keys create``; returns (key, key id, team) as printed."""
    assert main(["server", "keys", "create", "--db", db, *extra]) == 0
    out = dict(line.split(": ", 1) for line in capsys.readouterr().out.splitlines())
    return out["API key"], out["Key id"], out["Team"]


def _list(db: str, capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    assert main(["server", "keys", "list", "--db", db, "--json"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


async def _stored_text(db: str) -> str:
    database = await Database.open(db)
    try:
        rows = await database.fetchall("SELECT * FROM api_keys")
        rows += await database.fetchall("SELECT * FROM api_key_states")
    finally:
        await database.close()
    return repr(rows)


def test_keys_create_shows_the_key_once_and_stores_only_its_hash(
    server_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The created key is printed once; the database holds its hash, never the key."""
    key, key_id, team = _create_key(server_db, capsys, "--name", "ci bot")
    assert key.endswith("." + key_id)
    stored = anyio.run(_stored_text, server_db)
    assert key not in stored and hash_secret(key) in stored
    listed = _list(server_db, capsys)
    assert [(k["key_id"], k["team_uuid"], k["name"], k["revoked_at"]) for k in listed] == [
        (key_id, team, "ci bot", None)
    ]
    assert main(["server", "keys", "list", "--db", server_db]) == 0
    table = capsys.readouterr().out
    assert key_id in table and "ci bot" in table and key not in table


def test_a_second_key_joins_the_given_team_and_revoking_marks_it(
    server_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--team`` adds a key to a team; ``revoke`` marks only that key revoked, and giving
    the revoked key to ``serve`` again does not revive it."""
    _, first_id, team = _create_key(server_db, capsys)
    second, second_id, second_team = _create_key(server_db, capsys, "--team", team)
    assert second_team == team
    assert main(["server", "keys", "revoke", second_id, "--db", server_db]) == 0
    assert second_id in capsys.readouterr().out
    revoked = {str(k["key_id"]): k["revoked_at"] is not None for k in _list(server_db, capsys)}
    assert revoked == {first_id: False, second_id: True}
    key_file = tmp_path / "keys"
    key_file.write_text(second + "\n")
    port = free_port()
    args = ["--port", str(port), "--db", server_db, "--api-key-file", str(key_file)]
    with serve_process(args) as (_, lines):
        assert f"Key {second_id} is revoked: it will be refused" in lines
        response = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/customers/",
            headers={"Authorization": f"Bearer {second}"},
        )
        assert response.status_code == 401


def test_key_commands_refuse_bad_input_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown key id, a team that is not a UUID, a missing SQLite file: exit 1, one line."""
    db = str(tmp_path / "k.db")
    _create_key(db, capsys)
    cases = [
        (["revoke", "no-such-id", "--db", db], "no API key with id no-such-id"),
        (["create", "--team", "nope", "--db", db], "is not a UUID"),
        (["list", "--db", str(tmp_path / "missing.db")], "no database at"),
    ]
    for args, reason in cases:
        assert main(["server", "keys", *args]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and reason in err
    assert not (tmp_path / "missing.db").exists()


def test_serve_opens_the_keys_in_the_database_and_names_their_team(
    server_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no key given, serve uses the database's keys (no new team); a given key's team is
    printed, never the key."""
    key, key_id, team = _create_key(server_db, capsys)
    port = free_port()
    headers = {"Authorization": f"Bearer {key}"}
    with serve_process(["--port", str(port), "--db", server_db]) as (_, lines):
        assert "Keys: 1 live API key(s) in the database" in "\n".join(lines)
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/customers/", headers=headers).is_success
    assert not Path(server_db + ".api-key").exists()
    key_file = tmp_path / "keys"
    key_file.write_text(key + "\n")
    with serve_process(
        ["--port", str(port), "--db", server_db, "--api-key-file", str(key_file)]
    ) as (_, lines):
        assert f"Key {key_id} opens team {team}" in lines
        assert all(key not in line for line in lines)


def test_serve_on_an_empty_postgres_database_asks_for_keys_create(
    postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """PostgreSQL has no place for a key file: with no key anywhere, serve says what to run."""
    assert serve_main(["--port", str(free_port()), "--db", postgres_url]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert "aicostmanager server keys create" in err


def _with_password(url: str, database: str) -> str:
    scheme, rest = url.split("://", 1)
    host = rest.split("@", 1)[-1].split("/", 1)[0]
    return f"{scheme}://postgres:{_SECRET}@{host}/{database}"


def test_an_unusable_postgres_url_is_one_line_without_its_password(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing database and a refused connection each fail fast, the password redacted;
    a password on the command line (in ``ps``) is warned about."""
    monkeypatch.setenv(ENV_DB, _with_password(postgres_url, "no_such_database"))
    assert serve_main(["--port", str(free_port())]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert "the database does not exist" in err and "postgres:***@" in err
    assert _SECRET not in err
    refused = f"postgresql://postgres:{_SECRET}@127.0.0.1:{free_port()}/x"
    assert serve_main(["--port", str(free_port()), "--db", refused]) == 1
    out, err = capsys.readouterr()
    warning, error = err.splitlines()
    assert "visible to every local user" in warning
    assert "connection refused" in error and "postgres:***@" in error
    assert out == "" and _SECRET not in err


def test_the_environment_names_the_database_and_the_flag_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``AICM_SERVER_DB`` is used without ``--db``; ``--db`` overrides it."""
    monkeypatch.setenv(ENV_DB, str(tmp_path / "from-env" / "x.db"))
    assert serve_main(["--port", str(free_port())]) == 1
    assert "from-env" in capsys.readouterr().err
    assert serve_main(["--port", str(free_port()), "--db", str(tmp_path / "flag" / "x.db")]) == 1
    err = capsys.readouterr().err
    assert "flag" in err and "from-env" not in err


def test_several_workers_on_sqlite_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SQLite has one writer: ``--workers 2`` is refused in one line, before anything starts."""
    status = serve_main(
        ["--port", str(free_port()), "--db", str(tmp_path / "x.db"), "--workers", "2"]
    )
    out, err = capsys.readouterr()
    assert status == 1 and out == "" and err.count("\n") == 1
    assert "needs PostgreSQL" in err and not (tmp_path / "x.db").exists()


def _children(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry))
    return found


def _running(pid: int) -> bool:
    """Whether ``pid`` is alive (a zombie, dead but not reaped yet, is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_for(condition: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.fixture
def two_workers(
    postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Iterator[tuple[subprocess.Popen[str], str, str, str]]:
    """``serve --workers 2`` on a fresh PostgreSQL database; (process, root, key, db)."""
    key, _, _ = _create_key(postgres_url, capsys)
    key_file = tmp_path / "keys"
    key_file.write_text(key + "\n")
    port = free_port()
    args = ["--port", str(port), "--db", postgres_url, "--workers", "2"]
    with serve_process([*args, "--api-key-file", str(key_file)]) as (proc, lines):
        assert "Workers: 2" in lines
        yield proc, f"http://127.0.0.1:{port}/api/v1", key, postgres_url


def test_workers_share_the_port_a_dead_one_is_replaced_and_keys_stay_out_of_sight(
    two_workers: tuple[subprocess.Popen[str], str, str, str],
) -> None:
    """Two workers answer; ``kill -9`` of one brings a new one; the key is in no process's
    command line or environment; SIGTERM stops them all."""
    proc, root, key, _ = two_workers
    headers = {"Authorization": f"Bearer {key}"}
    workers = _children(proc.pid)
    assert len(workers) == 2
    for pid in {proc.pid, *workers}:
        for name in ("cmdline", "environ"):
            assert key.encode() not in Path(f"/proc/{pid}/{name}").read_bytes()
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    _wait_for(lambda: len(_children(proc.pid) - {victim}) == 2)
    for _ in range(6):  # a new connection each time: any worker may take it
        assert httpx.get(f"{root}/customers/", headers=headers).status_code == 200
    survivors = _children(proc.pid)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert not any(
        Path(f"/proc/{pid}").exists() and pid in _children(proc.pid) for pid in survivors
    )


def test_a_key_revoked_while_workers_serve_is_refused_by_every_worker(
    two_workers: tuple[subprocess.Popen[str], str, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """``keys revoke`` takes effect on every worker's next request."""
    _, root, key, db = two_workers
    headers = {"Authorization": f"Bearer {key}"}
    assert httpx.get(f"{root}/customers/", headers=headers).status_code == 200
    assert main(["server", "keys", "revoke", key.rsplit(".", 1)[1], "--db", db]) == 0
    codes = {httpx.get(f"{root}/customers/", headers=headers).status_code for _ in range(8)}
    assert codes == {401}


def test_workers_stop_when_the_supervisor_is_killed(
    two_workers: tuple[subprocess.Popen[str], str, str, str],
) -> None:
    """``kill -9`` of the supervisor leaves no worker serving on its own."""
    proc = two_workers[0]
    workers = _children(proc.pid)
    assert len(workers) == 2
    proc.kill()
    proc.wait(30)
    _wait_for(lambda: not any(_running(pid) for pid in workers))


_FAILING_WORKER = """
import socket, sys
from aicostmanager.server._workers import run_workers
def config():
    raise RuntimeError("no database for this worker")
sock = socket.create_server(("127.0.0.1", 0))
sys.exit(run_workers(2, sock, config, lambda: print("ready", flush=True)))
"""


def test_a_worker_failing_at_start_stops_serve_with_status_1() -> None:
    """A worker that dies before every worker started once ends the supervisor: status 1."""
    done = subprocess.run(
        [sys.executable, "-c", _FAILING_WORKER], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert "ready" not in done.stdout
    assert "no database for this worker" in done.stderr and "while starting" in done.stderr


def test_server_migrate_is_reachable_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``aicostmanager server migrate --db PATH`` creates the schema and says its revision."""
    db = tmp_path / "m.db"
    assert main(["server", "migrate", "--db", str(db)]) == 0
    assert "schema at revision" in capsys.readouterr().out and db.exists()
