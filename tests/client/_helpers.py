"""Helpers of the REST client tests."""

from __future__ import annotations

import http.server
import json
import socket
import socketserver
import threading
import time
import urllib.parse
import uuid
from typing import Any

import httpx


def track(api_root: str, api_key: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """POST ``records`` to ``/track`` with plain httpx; returns the JSON answer."""
    now = time.time()
    tracked = []
    for record in records:
        item = {"response_id": uuid.uuid4().hex, "timestamp": str(now), **record}
        tracked.append(item)
    response = httpx.post(
        f"{api_root}/track",
        json={"tracked": tracked},
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    data: dict[str, Any] = response.json()
    return data


class RecordingProxy:
    """A minimal forward HTTP proxy on 127.0.0.1 that records what passes through it.

    Each request is forwarded upstream with ``Connection: close``; ``requests`` keeps
    ``(request line, headers)`` of everything received.
    """

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                proxy._handle(self.rfile, self.wfile)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, rfile: Any, wfile: Any) -> None:
        request_line = rfile.readline().decode("latin-1").strip()
        if not request_line:
            return
        headers: dict[str, str] = {}
        while True:
            line = rfile.readline().decode("latin-1")
            if line in ("\r\n", "\n", ""):
                break
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = rfile.read(int(headers.get("content-length", "0")))
        self.requests.append((request_line, headers))
        method, target, version = request_line.split(" ")
        url = urllib.parse.urlsplit(target)
        path = url.path + (f"?{url.query}" if url.query else "")
        forwarded = {k: v for k, v in headers.items() if not k.startswith("proxy-")}
        forwarded["connection"] = "close"
        head = f"{method} {path} {version}\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in forwarded.items()
        )
        with socket.create_connection((url.hostname, url.port or 80), timeout=30) as upstream:
            upstream.sendall(head.encode("latin-1") + b"\r\n" + body)
            while chunk := upstream.recv(65536):
                wfile.write(chunk)


class PageServer:
    """A real HTTP server on 127.0.0.1 answering GETs with canned JSON pages by path.

    ``pages`` maps a path (with its query string) to the JSON body; ``seen`` records
    ``(path, authorization header)`` of each request. Unknown paths answer 404.
    """

    def __init__(self) -> None:
        self.pages: dict[str, Any] = {}
        self.seen: list[tuple[str, str | None]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.seen.append((self.path, self.headers.get("authorization")))
                page = owner.pages.get(self.path)
                body = json.dumps(page if page is not None else {"detail": "nope"}).encode()
                self.send_response(200 if page is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> PageServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
