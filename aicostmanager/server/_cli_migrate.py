"""``aicostmanager server migrate``: create or upgrade a server database ahead of a deploy.

``serve`` does the same at start-up; running it first lets a deploy fail early (a wrong URL,
missing rights) and keeps the first request of a new version from waiting on the upgrade.
"""

from __future__ import annotations

import argparse
import os
import sys

from . import migrations
from ._cli_db import ENV_DB, redact, resolve_db

__all__ = ("migrate_main",)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aicostmanager server migrate",
        description="Create or upgrade the server's database schema to the newest revision.",
    )
    parser.add_argument(
        "--db",
        default=None,
        metavar="PATH_OR_URL",
        help=f"SQLite file or postgresql:// URL (default ${ENV_DB}, else ./aicm-server.db)",
    )
    return parser


def migrate_main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (0: the database is at the newest revision).

    A failure is reported on stderr without the URL's password.
    """
    args = _parser().parse_args(argv)
    db = resolve_db(args.db, os.environ)
    shown = redact(db)
    try:
        migrations.upgrade(db)
    except Exception as exc:  # reported without the URL's password, then exit 1
        message = str(exc).replace(db, shown).strip()
        first = message.splitlines()[0] if message else ""
        sys.stderr.write(f"aicostmanager server migrate: {shown}: {type(exc).__name__}: {first}\n")
        return 1
    sys.stdout.write(f"{shown}: schema at revision {migrations.HEAD}\n")
    return 0
