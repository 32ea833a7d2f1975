"""``aicostmanager serve``: run the local server in the foreground, in one process or several.

Before anything starts, the database (a SQLite file's directory, or a PostgreSQL server, which
is connected to once) and the port are checked: a problem is one line on stderr and exit
status 1. The schema and the given keys are then set up once; the API root, the dashboard's
address and the team each key opens are printed once the server (every worker) really listens.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import uvicorn
from fastapi import FastAPI

from ._auth import ApiKey, KeyStore
from ._cli_admin import with_app
from ._cli_db import (
    ENV_DB,
    check_database_path,
    check_database_url,
    redact,
    resolve_db,
    scrub,
    visible_password_warning,
)
from ._cli_keys import (
    ENV_KEYS,
    KeySourceError,
    generated_key_path,
    load_or_generate,
    resolve_keys,
)
from ._config import ServerConfig, check_testing_host
from ._db import is_postgres_url
from ._workers import NotifyingServer, run_workers
from .app import create_app

__all__ = ("build_parser", "check_database_path", "serve_main")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``aicostmanager serve``."""
    parser = argparse.ArgumentParser(
        prog="aicostmanager serve",
        description="Run a local AICostManager-compatible server (FastAPI; SQLite or PostgreSQL).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="TCP port (default 8765)")
    parser.add_argument(
        "--db",
        default=None,
        metavar="PATH_OR_URL",
        help="SQLite file, or postgresql://USER:PASS@HOST:PORT/DB"
        f" (default ${ENV_DB}, else ./aicm-server.db)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="server processes sharing the port (default 1; more than 1 needs PostgreSQL)",
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
        " generated and kept in <db>.api-key (mode 0600); with PostgreSQL, the keys made by"
        " `aicostmanager server keys create` serve",
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


@dataclass
class _Prepared:
    """What setting the database up said: one line per key, and the lines of the banner."""

    lines: list[str] = field(default_factory=list)
    problem: str | None = None


async def _prepare(
    config: ServerConfig, keys: list[str], key_file: str | None, have_file: bool
) -> _Prepared:
    """Create or upgrade the schema, register ``keys`` and say which team each opens.

    With no key given: the key kept in ``key_file`` (SQLite), else the keys already in the
    database, else (SQLite) a key generated into ``key_file``.
    """

    async def prepare(app: FastAPI) -> _Prepared:
        store: KeyStore = app.state.keys
        done = _Prepared()
        given = list(keys)
        if not given and key_file is not None and (have_file or not await store.live_count()):
            key, created = load_or_generate(key_file)
            given.append(key)
            verb = "Generated API key written to" if created else "API key read from"
            done.lines.append(f"{verb} {key_file} (mode 0600)")
            if sys.stdout.isatty():
                done.lines.append(f"API key: {key}")
        for key in given:
            added: ApiKey = await store.add(key)
            if await store.lookup(key) is None:
                done.lines.append(f"Key {added.key_id} is revoked: it will be refused")
            else:
                done.lines.append(f"Key {added.key_id} opens team {added.team_uuid}")
        if not given:
            live = await store.live_count()
            if not live:
                done.problem = (
                    "the database holds no API key: create one with `aicostmanager server keys"
                    " create` (same --db), or give one (--api-key-file, $AICM_SERVER_API_KEY)"
                )
            done.lines.append(
                f"Keys: {live} live API key(s) in the database (aicostmanager server keys list)"
            )
        return done

    return await with_app(config, prepare)


def serve_main(argv: list[str] | None = None) -> int:
    """Entry point of ``aicostmanager serve``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_testing_host(args.host, args.testing, args.unsafe_testing)
    except ValueError as exc:
        parser.error(str(exc))
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    db = resolve_db(args.db, os.environ)
    warning = visible_password_warning(args.db)
    if warning is not None:
        print(warning, file=sys.stderr)
    postgres = is_postgres_url(db)
    if args.workers > 1 and not hasattr(os, "fork"):
        return _fail("--workers above 1 needs a POSIX system (the workers are forked)")
    if args.workers > 1 and not postgres:
        return _fail(
            "--workers above 1 needs PostgreSQL (--db postgresql://...): a SQLite file has one"
            " writer, and N processes would queue on its lock"
        )
    problem = check_database_url(db) if postgres else check_database_path(db)
    if problem is not None:
        return _fail(problem)
    try:
        keys = resolve_keys(args.api_key, args.api_key_file, os.environ, sys.stdin, sys.stderr)
    except KeySourceError as exc:
        return _fail(str(exc))
    try:
        config = ServerConfig(
            db=db,
            api_prefix=args.prefix,
            testing=args.testing,
            readers=args.readers,
            read_time_limit=args.read_time_limit,
        )
    except ValueError as exc:
        return _fail(str(exc))
    try:
        sock = _listen(args.host, args.port)
    except OSError as exc:
        return _fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    with sock:
        try:
            key_file = None if postgres else generated_key_path(db)
            have_file = key_file is not None and os.path.exists(key_file)
            prepared = asyncio.run(_prepare(config, keys, key_file, have_file))
        except KeySourceError as exc:
            return _fail(str(exc))
        except Exception as exc:  # the database's own error, in one line, password redacted
            return _fail(f"cannot set up the database {redact(db)}: {_one_line(exc, db)}")
        if prepared.problem is not None:
            return _fail(prepared.problem)
        return _run(args, config, sock, prepared.lines)


def _one_line(exc: Exception, db: str) -> str:
    return scrub((str(exc).strip().splitlines() or [""])[0] or exc.__class__.__name__, db)


def _run(
    args: argparse.Namespace, config: ServerConfig, sock: socket.socket, lines: Sequence[str]
) -> int:
    """Serve ``sock`` in this process or in ``args.workers`` forked workers."""
    host = f"[{args.host}]" if ":" in args.host else args.host
    base = f"http://{host}:{sock.getsockname()[1]}"
    workers = [f"Workers: {args.workers}"] if args.workers > 1 else []
    banner = [
        *lines,
        *workers,
        f"API root: {base}{config.api_prefix}",
        f"Dashboard: {base}/",
        f"Database: {redact(config.db)}",
    ]
    if config.testing:
        banner.append(f"Testing admin API: {base}/_testing")

    def uvicorn_config() -> uvicorn.Config:
        return uvicorn.Config(
            create_app(replace(config)),
            log_level=args.log_level,
            lifespan="on",
            timeout_graceful_shutdown=2,
        )

    def announce() -> None:
        print("\n".join(banner), flush=True)

    if args.workers > 1:
        return run_workers(args.workers, sock, uvicorn_config, announce)
    server = NotifyingServer(uvicorn_config(), announce)
    try:
        asyncio.run(server.serve(sockets=[sock]))
    except KeyboardInterrupt:
        return 0
    return 0 if server.started else _fail("the server failed to start (see the log above)")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(serve_main())
