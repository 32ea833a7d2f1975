"""Memory of the local server while a client sends it a 400 MiB body (the cap is 64 MiB).

Measures, for ``aicostmanager serve`` in its own process: the growth of its RSS (peak during the
request minus RSS before; psutil, sampled every 5 ms) while one client sends a 400 MiB
``POST /track`` body as fast as it can, and how much of the body the client got to send
before the server answered 413 and closed the connection. Two senders: a chunked body
(no length announced: the cap must be counted while streaming) and an honest
``Content-Length: 419430400`` (refused from the header, before the body is read). A server
that reads the whole body first grows by the body's size (or more) and lets all of it be
sent. Target: RSS growth <= 150 MB (the cap plus the server's working copy of it).
"""

from __future__ import annotations

import argparse
import socket
import threading
import time

from _common import (
    Measurement,
    local_server_process,
    new_api_key,
    run_and_report,
    workdir,
)

NAME = "server_body_cap"
MIB = 1024 * 1024
BODY = 400 * MIB


def send_large_body(port: int, key: str, chunked: bool) -> tuple[int, bytes]:
    """Send up to 400 MiB; return (bytes sent before the send failed or ended, answer)."""
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {BODY}"
    head = (
        f"POST /api/v1/track HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\n{framing}\r\n\r\n"
    ).encode()
    block = b"[" * MIB
    answer = bytearray()
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(head)

        def read() -> None:
            try:
                while chunk := sock.recv(65536):
                    answer.extend(chunk)
            except OSError:
                pass

        reader = threading.Thread(target=read)
        reader.start()
        try:
            while sent < BODY:
                sock.sendall(b"100000\r\n" + block + b"\r\n" if chunked else block)
                sent += MIB
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server closed the connection after answering 413
        reader.join(60)
    return sent, bytes(answer)


def one_run(key: str, chunked: bool) -> tuple[float, float, bytes]:
    """(RSS growth in MB, MiB sent, status line) for one 400 MiB request to a fresh server."""
    import psutil

    with workdir() as tmp, local_server_process(tmp, key) as (base, proc):
        port = int(base.rsplit(":", 1)[1])
        server = psutil.Process(proc.pid)
        time.sleep(0.5)  # let start-up allocations settle
        before = server.memory_info().rss
        peak = before
        done = threading.Event()

        def watch() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, server.memory_info().rss)
                time.sleep(0.005)

        watcher = threading.Thread(target=watch)
        watcher.start()
        sent, answer = send_large_body(port, key, chunked)
        time.sleep(0.2)
        done.set()
        watcher.join()
    status = answer.split(b"\r\n", 1)[0]
    return (peak - before) / 1e6, sent / MIB, status


def run(args: argparse.Namespace) -> list[Measurement]:
    """Both senders, ``args.repeat`` runs each (each against a fresh server)."""
    out: list[Measurement] = []
    key = new_api_key()
    for label, chunked in (("chunked", True), ("Content-Length", False)):
        growth = Measurement(
            f"server RSS growth, 400 MiB {label} body", "MB", target=150, higher_is_better=False
        )
        sent = Measurement(
            f"body sent before the 413, 400 MiB {label} body", "MiB", higher_is_better=False
        )
        for index in range(min(args.repeat, 2) if args.quick else args.repeat):
            mb, mib, status = one_run(key, chunked)
            growth.values.append(mb)
            sent.values.append(mib)
            growth.extra["status"] = status.decode(errors="replace")
            print(
                f"  {label} run {index + 1}: RSS +{mb:.1f} MB, {mib:.0f} MiB sent, "
                f"answer {status.decode(errors='replace')!r}"
            )
        out += [growth, sent]
    return out


def main(argv: list[str] | None = None) -> list[Measurement]:
    """Run and report."""
    return run_and_report(NAME, __doc__, run, argv)


if __name__ == "__main__":
    main()
