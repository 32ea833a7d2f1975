"""LocalServer lifecycle and the ``serve`` command line."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from server_helpers import Api, record

from aicostmanager.server import LocalServer

KEY = "sk-test-secret.3f0c5e1a-8a53-4a86-9d4e-3d6a1b2c0d9e"


def test_restart_keeps_port_and_data() -> None:
    """stop() then start() serves the same port and database; down in between."""
    server = LocalServer(api_keys=[KEY], testing=False)
    with server:
        api = Api(server.api_root, KEY)
        api.track_ok(record("before"))
        port = server.port
        server.stop()
        with pytest.raises(httpx.TransportError):
            api.track(record("during"))
        server.start()
        assert server.port == port
        (again,) = api.track_ok(record("before"))
        assert again["status"] == "completed"
        assert api.get("/usage/events/")["count"] == 1
        api.close()
    assert not server.running


def test_no_testing_api_without_testing_flag() -> None:
    """Without testing mode /_testing does not exist and /track has no poison rule."""
    with LocalServer(api_keys=[KEY], testing=False) as server:
        assert httpx.post(server.url + "/_testing/api-keys").status_code == 404
        api = Api(server.api_root, KEY)
        (result,) = api.track_ok(record("p", "poison::x"))
        assert result["status"] == "service_key_unknown"
        api.close()


def test_configured_keys_and_custom_prefix() -> None:
    """Keys given at start-up authenticate; the API root follows the prefix."""
    with LocalServer(api_keys=[KEY], api_prefix="/v9", testing=False) as server:
        assert server.api_root.endswith("/v9")
        api = Api(server.api_root, KEY)
        assert api.track_ok(record("k"))[0]["status"] == "completed"
        api.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_command(tmp_path: Path) -> None:
    """``serve`` runs in the foreground, writes a generated key to a file and answers /track."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aicostmanager.server._cli",
            "--port",
            str(port),
            "--db",
            str(tmp_path / "cli.db"),
            "--testing",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("Generated API key written to ")
        key_file = tmp_path / "cli.db.api-key"
        assert str(key_file) in line
        key = key_file.read_text().strip()
        assert key not in line
        root = f"http://127.0.0.1:{port}/api/v1"
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.post(
                    root + "/track",
                    json={"tracked": [record("cli")]},
                    headers={"Authorization": f"Bearer {key}"},
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.05)
        assert response.status_code == 202
        assert httpx.get(f"http://127.0.0.1:{port}/_testing/stats").json()["accepted"] == 1
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_unexpected_error_is_json_500() -> None:
    """An unexpected exception is answered 500 with a JSON detail, not a traceback."""
    server = LocalServer(api_keys=[KEY], testing=False)

    async def boom() -> None:
        raise RuntimeError("secret internals")

    server.app.add_api_route("/boom", boom)
    with server:
        response = httpx.get(server.url + "/boom")
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}


def test_config_repr_hides_keys() -> None:
    """Neither the server's config nor the runner shows API keys in its repr."""
    server = LocalServer(api_keys=[KEY], testing=False)
    assert "secret" not in repr(server.config)
    assert "secret" not in repr(server)


def test_listening_socket_names_tcp_so_answers_are_not_delayed() -> None:
    """The socket names IPPROTO_TCP: asyncio sets TCP_NODELAY only then (else ~40 ms stalls)."""
    server = LocalServer(testing=False)
    sock = server._bind()
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
