"""A minimal HTTP sink: answers every request ``202 {"results": []}`` (keep-alive).

Run as ``python benchmarks/_sink.py PORT``; prints ``ready`` once listening. Plain asyncio
streams, no framework, so the delivery benchmark measures the SDK, not a server. It reads
each request fully (headers, then ``Content-Length`` bytes) before answering.
"""

from __future__ import annotations

import asyncio
import sys

_BODY = b'{"results":[]}'
_RESPONSE = (
    b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\n"
    b"content-length: " + str(len(_BODY)).encode() + b"\r\n\r\n" + _BODY
)


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            writer.write(_RESPONSE)
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
