"""ASGI middleware capping the size of request bodies while they arrive.

A declared ``Content-Length`` over the cap is answered 413 before a byte of the body is read; a
chunked (or lying) body is counted as it streams in and refused as soon as it passes the cap,
so the server never holds more than the cap in memory. Every 413 closes the connection: the
client may still be sending, and reading the rest only to discard it would waste the server's
time.
"""

from __future__ import annotations

import msgspec
from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ("BodyLimitMiddleware", "BodyTooLargeError")

_CLOSE = {"Connection": "close"}


class BodyTooLargeError(HTTPException):
    """The request body passed the cap (answered 413, connection closed)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body over {max_bytes} bytes", headers=_CLOSE)


class BodyLimitMiddleware:
    """Refuse request bodies larger than ``max_bytes`` with 413 ``{"detail": ...}``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _answer_413(send, self.max_bytes)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLargeError(self.max_bytes)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLargeError:
            # Raised where no exception handler catches it (a middleware read the body).
            if started:
                raise
            await _answer_413(send, self.max_bytes)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the HTTP layer rejects it before the app runs
    return None


async def _answer_413(send: Send, max_bytes: int) -> None:
    body = msgspec.json.encode({"detail": f"request body over {max_bytes} bytes"})
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
