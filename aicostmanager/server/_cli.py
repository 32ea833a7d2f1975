"""``aicostmanager serve``: run the local server in the foreground."""

from __future__ import annotations

import argparse
import os

import uvicorn

from ._auth import new_key_text
from ._config import ServerConfig, check_testing_host
from .app import create_app

__all__ = ("build_parser", "serve_main")


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
        "--api-key",
        action="append",
        default=[],
        metavar="KEY",
        help="accept this API key (repeatable; default: one is generated and printed)",
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
        "--log-level", default="warning", help="uvicorn log level (default warning)"
    )
    return parser


def serve_main(argv: list[str] | None = None) -> int:
    """Entry point of ``aicostmanager serve``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_testing_host(args.host, args.testing, args.unsafe_testing)
    except ValueError as exc:
        parser.error(str(exc))
    keys = list(args.api_key)
    if not keys:
        keys.append(new_key_text())
        print(f"Generated API key (shown once): {keys[0]}")
    config = ServerConfig(
        db_path=os.path.abspath(args.db),
        api_keys=tuple(keys),
        api_prefix=args.prefix,
        testing=args.testing,
    )
    app = create_app(config)
    print(f"API root: http://{args.host}:{args.port}{config.api_prefix}")
    print(f"Database: {config.db_path}")
    if config.testing:
        print(f"Testing admin API: http://{args.host}:{args.port}/_testing")
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        timeout_graceful_shutdown=2,
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(serve_main())
