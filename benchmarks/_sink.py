"""A minimal HTTP sink that answers ``POST /track`` like the server does (keep-alive).

Run as ``python benchmarks/_sink.py PORT``; prints ``ready`` once listening. Plain asyncio
streams, no framework, so the delivery benchmarks measure the SDK, not a server. It reads each
request fully (headers, then ``Content-Length`` bytes) and answers ``202`` with one result per
record, ``{"response_id": ..., "status": "queued"}`` (api-contract §3.2), which is what
acknowledges a record; a body that is not a ``/track`` envelope gets ``{"results": []}``.
:func:`answer` is shared with the in-process ``SinkTransport`` of ``_common.py``.
"""

from __future__ import annotations

import asyncio
import sys

import msgspec


class _Record(msgspec.Struct):
    response_id: str = ""


class _Envelope(msgspec.Struct):
    tracked: list[_Record] = []


_decode = msgspec.json.Decoder(_Envelope).decode


def answer(body: bytes) -> bytes:
    """The JSON answer to a request body: one ``queued`` result per ``/track`` record."""
    try:
        records = _decode(body).tracked if body else []
    except msgspec.DecodeError:
        records = []
    results = b",".join(
        b'{"response_id":%s,"status":"queued"}' % msgspec.json.encode(r.response_id)
        for r in records
    )
    return b'{"results":[' + results + b'],"triggered_limits":{}}'


def _response(body: bytes) -> bytes:
    return (
        b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n" % len(body) + body
    )


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length) if length else b""
            writer.write(_response(answer(body)))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    """Serve until killed."""
    server = await asyncio.start_server(_serve, "127.0.0.1", port, limit=1 << 20)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
