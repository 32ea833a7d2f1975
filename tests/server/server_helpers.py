"""Helpers of the server tests (imported by the test modules of this directory)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from aicostmanager.server._auth import key_id_of


class Api:
    """An httpx client bound to one API key."""

    def __init__(self, api_root: str, key: str) -> None:
        self.key = key
        self.key_id = key_id_of(key)
        self.http = httpx.Client(
            base_url=api_root, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )

    def close(self) -> None:
        """Close the HTTP client."""
        self.http.close()

    def track(self, *records: dict[str, Any], **envelope: Any) -> httpx.Response:
        """POST /track with these records."""
        return self.http.post("/track", json={"tracked": list(records), **envelope})

    def track_ok(self, *records: dict[str, Any]) -> list[dict[str, Any]]:
        """POST /track, assert 202 and return the results."""
        response = self.track(*records)
        assert response.status_code == 202, response.text
        results: list[dict[str, Any]] = response.json()["results"]
        return results

    def get(self, path: str, **params: Any) -> Any:
        """GET a path under the API root and return the JSON (asserting 200)."""
        response = self.http.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()


def record(rid: str, service_key: str = "openai::gpt-4o", **fields: Any) -> dict[str, Any]:
    """A valid /track record (OpenAI chat usage unless ``payload`` is given)."""
    out: dict[str, Any] = {
        "service_key": service_key,
        "response_id": rid,
        "payload": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
    }
    out.update(fields)
    return out


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve_process(
    args: list[str], stdin: str | None = None, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """Run ``serve`` in a child process; yield it with its stdout lines up to ``Dashboard:``."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "aicostmanager.server._cli", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        if stdin is not None:
            proc.stdin.write(stdin)
        proc.stdin.close()
        lines: list[str] = []
        while not lines or not lines[-1].startswith("Dashboard: "):
            line = proc.stdout.readline()
            assert line, f"serve exited with status {proc.wait(30)}"
            lines.append(line.rstrip("\n"))
        yield proc, lines
    finally:
        proc.terminate()
        proc.wait(30)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
