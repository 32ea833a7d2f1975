"""``aicostmanager serve``: run the local server in the foreground.

Before anything starts, the database's directory and the port are checked: a problem is one
line on stderr and exit status 1. The API root and the dashboard's address are printed once
the server really listens.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys

import uvicorn

from ._cli_keys import (
    ENV_KEYS,
    KeySourceError,
    generated_key_path,
    load_or_generate,
    resolve_keys,
)
from ._config import ServerConfig, check_testing_host
from .app import create_app

__all__ = ("build_parser", "check_database_path", "serve_main")

_SQLITE_MAGIC = b"SQLite format 3\x00"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``aicostmanager serve``."""
    parser = argparse.ArgumentParser(
        prog="aicostmanager serve",
        description="Run a local AICostManager-compatible server (FastAPI + SQLite).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="TCP port (default 8765)")
    parser.add_argument(
        "--db", default="aicm-server.db", help="SQLite file (default ./aicm-server.db)"
    )
    parser.add_argument(
        "--api-key-file",
        action="append",
        default=[],
        metavar="PATH",
        help="accept the keys in this file, one a line (repeatable)",
    )
    parser.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="KEY",
        help="accept this key (repeatable); '-' reads one from stdin. A key given here is"
        f" visible in `ps`: prefer --api-key-file or ${ENV_KEYS}. With no key at all, one is"
        " generated and kept in <db>.api-key (mode 0600)",
    )
    parser.add_argument("--prefix", default="/api/v1", help="API path prefix (default /api/v1)")
    parser.add_argument(
        "--testing",
        action="store_true",
        help="mount the /_testing admin API (fault injection, key minting); never in production;"
        " refused on a non-loopback --host unless --unsafe-testing is given too",
    )
    parser.add_argument(
        "--unsafe-testing",
        action="store_true",
        help="allow --testing on a non-loopback --host (anyone who can connect may mint keys)",
    )
    parser.add_argument(
        "--read-time-limit",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="interrupt a read statement after this long: 503 (default 10; 0: no limit)",
    )
    parser.add_argument(
        "--readers",
        type=int,
        default=4,
        help="read connections; one team may use all but one (default 4, at least 2)",
    )
    parser.add_argument(
        "--log-level", default="warning", help="uvicorn log level (default warning)"
    )
    return parser


def check_database_path(path: str) -> str | None:
    """Why the server could not use the SQLite file at ``path``, or None when it can.

    The directory must exist and be writable (SQLite keeps its ``-wal`` and ``-shm`` files
    there); an existing file must be readable, writable and a SQLite database (or empty).
    """
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        return f"the database directory {directory} does not exist"
    if not os.access(directory, os.W_OK | os.X_OK):
        return f"cannot create files in the database directory {directory}"
    if os.path.isdir(path):
        return f"the database path {path} is a directory"
    if os.path.exists(path):
        if not os.access(path, os.R_OK | os.W_OK):
            return f"cannot read and write the database {path}"
        try:
            with open(path, "rb") as handle:
                head = handle.read(len(_SQLITE_MAGIC))
        except OSError as exc:
            return f"cannot read the database {path}: {exc.strerror}"
        if head and head != _SQLITE_MAGIC:
            return f"{path} is not a SQLite database"
    return None


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``.

    Raises:
        OSError: the address cannot be resolved or bound.
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def _fail(message: str) -> int:
    print(f"aicostmanager serve: error: {message}", file=sys.stderr)
    return 1


class _Server(uvicorn.Server):
    """uvicorn's server, printing ``banner`` once it listens (not before, not on failure)."""

    def __init__(self, config: uvicorn.Config, banner: list[str]) -> None:
        super().__init__(config)
        self._banner = banner

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and not self.should_exit:
            print("\n".join(self._banner), flush=True)


def serve_main(argv: list[str] | None = None) -> int:
    """Entry point of ``aicostmanager serve``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_testing_host(args.host, args.testing, args.unsafe_testing)
    except ValueError as exc:
        parser.error(str(exc))
    db_path = os.path.abspath(args.db)
    problem = check_database_path(db_path)
    if problem is not None:
        return _fail(problem)
    try:
        keys = resolve_keys(args.api_key, args.api_key_file, os.environ, sys.stdin, sys.stderr)
    except KeySourceError as exc:
        return _fail(str(exc))
    try:
        sock = _listen(args.host, args.port)
    except OSError as exc:
        return _fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    with sock:
        notes: list[str] = []
        if not keys:
            path = generated_key_path(db_path)
            try:
                key, created = load_or_generate(path)
            except KeySourceError as exc:
                return _fail(str(exc))
            keys.append(key)
            verb = "Generated API key written to" if created else "API key read from"
            notes.append(f"{verb} {path} (mode 0600)")
            if sys.stdout.isatty():
                notes.append(f"API key: {key}")
        try:
            config = ServerConfig(
                db=db_path,
                api_keys=tuple(keys),
                api_prefix=args.prefix,
                testing=args.testing,
                readers=args.readers,
                read_time_limit=args.read_time_limit,
            )
        except ValueError as exc:
            return _fail(str(exc))
        app = create_app(config)
        host = f"[{args.host}]" if ":" in args.host else args.host
        base = f"http://{host}:{sock.getsockname()[1]}"
        banner = [
            *notes,
            f"API root: {base}{config.api_prefix}",
            f"Dashboard: {base}/",
            f"Database: {config.db}",
        ]
        if config.testing:
            banner.append(f"Testing admin API: {base}/_testing")
        server = _Server(
            uvicorn.Config(
                app, log_level=args.log_level, lifespan="on", timeout_graceful_shutdown=2
            ),
            banner,
        )
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except KeyboardInterrupt:
            return 0
    return 0 if server.started else _fail("the server failed to start (see the log above)")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(serve_main())
