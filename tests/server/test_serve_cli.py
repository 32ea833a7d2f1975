"""``aicostmanager serve``: checks before starting, key sources that keep keys out of ``ps``."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import httpx
import pytest
from server_helpers import free_port, serve_process

from aicostmanager.server._cli import serve_main
from aicostmanager.server._cli_keys import ENV_KEYS

KEY = "sk-test-cli-secret-0123456789.cli-key"


def test_missing_database_directory_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--db /missing/dir/x.db`` prints one clear stderr line, nothing on stdout, and exits 1."""
    status = serve_main(["--port", str(free_port()), "--db", str(tmp_path / "nope" / "x.db")])
    out, err = capsys.readouterr()
    assert status == 1
    assert out == ""
    assert err.count("\n") == 1 and "does not exist" in err


def test_not_a_database_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file that is not SQLite is refused before anything starts."""
    bad = tmp_path / "bad.db"
    bad.write_text("hello")
    assert serve_main(["--port", str(free_port()), "--db", str(bad)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "not a SQLite database" in err


def test_port_in_use_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A port already taken prints one clear line (no "API root") and exits 1."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status = serve_main(["--port", str(port), "--db", str(tmp_path / "x.db")])
    out, err = capsys.readouterr()
    assert status == 1
    assert out == ""
    assert err.count("\n") == 1 and f"cannot listen on 127.0.0.1:{port}" in err
    assert not (tmp_path / "x.db.api-key").exists()


def test_generated_key_goes_to_a_private_file_and_is_reused(tmp_path: Path) -> None:
    """A generated key is written 0600 next to the database, not printed, and reused."""
    db = tmp_path / "gen.db"
    port = free_port()
    with serve_process(["--port", str(port), "--db", str(db)]) as (_, lines):
        key_file = tmp_path / "gen.db.api-key"
        key = key_file.read_text().strip()
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert all(key not in line for line in lines)
        assert f"Dashboard: http://127.0.0.1:{port}/" in lines
        # Printed only once listening: the very next request is answered.
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
        headers = {"Authorization": f"Bearer {key}"}
        root = f"http://127.0.0.1:{port}/api/v1"
        assert httpx.get(root + "/customers/", headers=headers).status_code == 200
    with serve_process(["--port", str(port), "--db", str(db)]) as (_, lines):
        assert any(line.startswith("API key read from") for line in lines)
        assert key_file.read_text().strip() == key
        assert httpx.get(root + "/customers/", headers=headers).status_code == 200


@pytest.mark.parametrize("source", ["stdin", "file", "env"])
def test_keys_from_stdin_file_or_env_stay_out_of_ps(tmp_path: Path, source: str) -> None:
    """A key from stdin, a key file or the environment works and is absent from the command line."""
    port = free_port()
    args = ["--port", str(port), "--db", str(tmp_path / "k.db")]
    stdin, env = None, None
    if source == "stdin":
        args += ["--api-key", "-"]
        stdin = KEY + "\n"
    elif source == "file":
        key_file = tmp_path / "keys.txt"
        key_file.write_text(f"# the team's key\n{KEY}\n")
        args += ["--api-key-file", str(key_file)]
    else:
        env = {ENV_KEYS: KEY}
    with serve_process(args, stdin=stdin, env=env) as (proc, lines):
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        assert KEY.encode() not in cmdline
        assert not (tmp_path / "k.db.api-key").exists()
        response = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/customers/",
            headers={"Authorization": f"Bearer {KEY}"},
        )
        assert response.status_code == 200
        assert all(KEY not in line for line in lines)


def test_key_on_the_command_line_warns(tmp_path: Path) -> None:
    """``--api-key KEY`` still works but warns on stderr that the key shows in ``ps``."""
    port = free_port()
    with serve_process(["--port", str(port), "--db", str(tmp_path / "w.db"), "--api-key", KEY]) as (
        proc,
        _,
    ):
        response = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/customers/",
            headers={"Authorization": f"Bearer {KEY}"},
        )
        assert response.status_code == 200
        proc.terminate()
        proc.wait(30)
        assert proc.stderr is not None
        err = proc.stderr.read()
    assert "visible to every local user" in err and KEY not in err


def test_unreadable_key_file_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing or empty key file is refused with one line naming it."""
    empty = tmp_path / "empty"
    empty.write_text("\n# nothing\n")
    for path in (tmp_path / "missing", empty):
        status = serve_main(
            ["--port", "0", "--db", str(tmp_path / "x.db"), "--api-key-file", str(path)]
        )
        assert status == 1
        assert str(path) in capsys.readouterr().err
