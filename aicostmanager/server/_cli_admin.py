"""``aicostmanager server keys create|list|revoke`` (the API keys of a server's database) and
``aicostmanager server migrate`` (:mod:`._cli_migrate`).

The database is named as for ``serve`` (``--db``, else ``$AICM_SERVER_DB``, else
``./aicm-server.db``) and set up the same way (schema created or upgraded). A created key is
printed once and only its hash is stored; a revoked key is refused by every server process on
the database from its next request on, and its dashboard sessions end with it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from typing import TypeVar

from fastapi import FastAPI

from ._auth import AmbiguousKeyError, KeyInfo, KeyStore
from ._cli_db import (
    ENV_DB,
    check_database_path,
    check_database_url,
    redact,
    resolve_db,
    visible_password_warning,
)
from ._cli_migrate import migrate_main
from ._config import ServerConfig
from ._db import is_postgres_url
from .app import create_app

__all__ = ("build_parser", "server_main", "with_app")

_T = TypeVar("_T")
_MAX_NAME = 200


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``aicostmanager server``."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db",
        default=None,
        metavar="PATH_OR_URL",
        help=f"SQLite file or postgresql:// URL (default ${ENV_DB}, else ./aicm-server.db)",
    )
    parser = argparse.ArgumentParser(
        prog="aicostmanager server", description="Administer a local server's database."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "migrate",
        add_help=False,
        help="create or upgrade the schema ahead of a deploy (see `server migrate -h`)",
    )
    keys = commands.add_parser("keys", help="create, list and revoke API keys")
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser(
        "create", parents=[common], help="create a key (printed once; only its hash is kept)"
    )
    create.add_argument("--team", metavar="UUID", help="add the key to this team (default: new)")
    create.add_argument("--name", metavar="TEXT", help="a label shown by `keys list`")
    listing = actions.add_parser("list", parents=[common], help="list keys (never the keys)")
    listing.add_argument("--team", metavar="UUID", help="only this team's keys")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    revoke = actions.add_parser(
        "revoke", parents=[common], help="revoke a key: refused by every worker at once"
    )
    revoke.add_argument("key_id", metavar="KEY_ID")
    revoke.add_argument("--team", metavar="UUID", help="the key's team (when ids collide)")
    return parser


def _fail(message: str) -> int:
    print(f"aicostmanager server: error: {message}", file=sys.stderr)
    return 1


def _team(text: str | None) -> str | None:
    """``text`` as a canonical team uuid (None stays None).

    Raises:
        ValueError: not a UUID.
    """
    return None if text is None else str(uuid.UUID(text))


async def with_app(config: ServerConfig, action: Callable[[FastAPI], Awaitable[_T]]) -> _T:
    """Run ``action`` on the server app of ``config`` while its lifespan holds the database
    open (schema created or upgraded, as when serving); its exception is raised as is."""
    app = create_app(config)
    results: list[_T] = []
    errors: list[Exception] = []
    async with app.router.lifespan_context(app):
        try:
            results.append(await action(app))
        except Exception as exc:  # raised below, not wrapped in the lifespan's task group
            errors.append(exc)
    if errors:
        raise errors[0]
    return results[0]


async def _with_store(db: str, action: Callable[[KeyStore], Awaitable[_T]]) -> _T:
    return await with_app(ServerConfig(db=db), lambda app: action(app.state.keys))


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _print_keys(keys: Sequence[KeyInfo], as_json: bool) -> None:
    if as_json:
        for info in keys:
            print(json.dumps(asdict(info)))
        return
    print(f"{'KEY ID':<36}  {'TEAM':<36}  {'CREATED (UTC)':<19}  {'REVOKED (UTC)':<19}  NAME")
    for k in keys:
        name = k.name or ""
        print(f"{k.key_id:<36}  {k.team_uuid:<36}  {_when(k.created_at):<19}  ", end="")
        print(f"{_when(k.revoked_at):<19}  {name}")


def server_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``aicostmanager server ...``; returns the exit status."""
    given = list(sys.argv[1:] if argv is None else argv)
    if given[:1] == ["migrate"]:
        return migrate_main(given[1:])
    args = build_parser().parse_args(given)
    db = resolve_db(args.db, os.environ)
    warning = visible_password_warning(args.db)
    if warning is not None:
        print(warning, file=sys.stderr)
    if is_postgres_url(db):
        problem = check_database_url(db)
    elif args.action != "create" and not os.path.exists(db):
        problem = f"no database at {db} (give --db or ${ENV_DB})"
    else:
        problem = check_database_path(db)
    if problem is not None:
        return _fail(problem)
    try:
        team = _team(args.team)
    except ValueError:
        return _fail(f"--team {args.team!r} is not a UUID")
    if args.action == "create":
        if args.name is not None and not 0 < len(args.name) <= _MAX_NAME:
            return _fail(f"--name is 1 to {_MAX_NAME} characters")
        key, identity = asyncio.run(_with_store(db, lambda s: s.mint(team, args.name)))
        print(f"API key: {key}")
        print(f"Key id: {identity.key_id}")
        print(f"Team: {identity.team_uuid}")
        print("Shown only this once: the database keeps only its hash.", file=sys.stderr)
        return 0
    if args.action == "list":
        keys = asyncio.run(_with_store(db, lambda s: s.list_keys(team)))
        _print_keys(keys, args.json)
        return 0
    try:
        info = asyncio.run(_with_store(db, lambda s: s.revoke(args.key_id, team)))
    except AmbiguousKeyError as exc:
        return _fail(str(exc))
    except LookupError:
        return _fail(f"no API key with id {args.key_id} in {redact(db)}")
    print(f"Revoked key {info.key_id} of team {info.team_uuid} at {_when(info.revoked_at)} UTC")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(server_main())
