"""``aicostmanager server migrate``: create or upgrade a server database ahead of a deploy.

``serve`` does the same at start-up; running it first lets a deploy fail early (a wrong URL,
missing rights) and keeps the first request of a new version from waiting on the upgrade.
"""

from __future__ import annotations

import argparse
import os
import sys

from . import migrations
from ._cli_db import ENV_DB
from ._db import is_postgres_url, redact_url

__all__ = ("ENV_DB", "migrate_main")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aicostmanager server migrate",
        description="Create or upgrade the server's database schema to the newest revision.",
    )
    parser.add_argument(
        "--db",
        default=None,
        help=f"SQLite file or postgresql:// URL (default: ${ENV_DB})",
    )
    return parser


def migrate_main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (0: the database is at the newest revision)."""
    parser = _parser()
    args = parser.parse_args(argv)
    db = args.db or os.environ.get(ENV_DB)
    if not db:
        parser.error(f"give --db or set {ENV_DB}")
    shown = redact_url(db) if is_postgres_url(db) else os.path.abspath(db)
    target = db if is_postgres_url(db) else os.path.abspath(db)
    try:
        migrations.upgrade(target)
    except Exception as exc:  # reported without the URL's password, then exit 1
        message = str(exc).replace(db, shown)
        sys.stderr.write(f"aicostmanager server migrate: {shown}: {type(exc).__name__}: ")
        sys.stderr.write(f"{message.splitlines()[0] if message else ''}\n")
        return 1
    sys.stdout.write(f"{shown}: schema at revision {migrations.HEAD}\n")
    return 0
