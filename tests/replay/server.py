"""The replay server: answers an SDK's request with a recorded provider response.

A ``ThreadingHTTPServer`` on ``127.0.0.1:<ephemeral port>``. Every recording is served under
its own prefix, ``/r/<api>/<name>``, so a test points the SDK's base URL there and whatever path
the SDK appends (``/v1/messages``, ``/model/<id>/converse-stream``, ...) gets that recording.
JSON bodies are sent with a ``Content-Length``; streams (SSE text, AWS binary event streams)
with chunked transfer encoding, one chunk per recorded event, as the provider streamed them.
Every request is kept (``requests``) so a test can check what the SDK sent.
"""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .recordings import RECORDINGS, Recording

__all__ = ("ReplayServer", "Received")

_SSE_SPLIT = re.compile(rb"(?<=\r\n\r\n)|(?<=\n\n)(?<!\r\n\r\n)")


class Received:
    """One request the server received: recording key, path after the prefix, body bytes."""

    def __init__(self, key: str, path: str, body: bytes) -> None:
        self.key, self.path, self.body = key, path, body


def _chunks(recording: Recording, raw: bytes) -> list[bytes]:
    if recording.content_type.startswith("application/vnd.amazon.eventstream"):
        out, offset = [], 0
        while offset < len(raw):
            total = int.from_bytes(raw[offset : offset + 4], "big")
            out.append(raw[offset : offset + total])
            offset += total
        return out
    return [piece for piece in _SSE_SPLIT.split(raw) if piece]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests assert on ``requests`` instead."""

    def do_POST(self) -> None:
        """Serve the recording named by the path prefix."""
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = self.path.split("/", 4)
        key = "/".join(parts[2:4]) if len(parts) >= 4 and parts[1] == "r" else ""
        recording = self.server.recordings.get(key)
        with self.server.lock:
            self.server.requests.append(
                Received(key, "/" + (parts[4] if len(parts) > 4 else ""), body)
            )
        if recording is None:
            self.send_error(404, f"no recording {key!r}")
            return
        raw = recording.body_bytes
        self.send_response(recording.data["response"]["status"])
        self.send_header("content-type", recording.content_type)
        for name, value in recording.data["response"]["headers"].items():
            if name != "content-type":
                self.send_header(name, value)
        if recording.api == "bedrock":
            self.send_header("x-amzn-requestid", recording.aws_request_id)
        if not recording.streamed:
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
            return
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for chunk in _chunks(recording, raw):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    do_GET = do_POST


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    recordings: dict[str, Recording]
    requests: list[Received]
    lock: threading.Lock


class ReplayServer:
    """The corpus served on ``127.0.0.1:<ephemeral port>`` from a daemon thread."""

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.recordings = {r.key: r for r in RECORDINGS}
        self._server.requests = []
        self._server.lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="replay-server", daemon=True
        )

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def base(self, recording: Recording) -> str:
        """The base URL that serves ``recording``."""
        return f"{self.url}/r/{recording.key}"

    def received(self, recording: Recording) -> list[Received]:
        """The requests received for ``recording`` so far."""
        with self._server.lock:
            return [r for r in self._server.requests if r.key == recording.key]

    def start(self) -> None:
        """Serve in the background (the socket is already listening)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
