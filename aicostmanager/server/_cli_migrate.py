"""``aicostmanager server migrate``: create or upgrade a server database ahead of a deploy.

``serve`` does the same at start-up; running it first lets a deploy fail early (a wrong URL,
missing rights) and keeps the first request of a new version from waiting on the upgrade.
"""

from __future__ import annotations

import sys

from . import migrations
from ._cli_db import redact

__all__ = ("migrate_db",)


def migrate_db(db: str) -> int:
    """Upgrade ``db`` (a SQLite path or a ``postgresql://`` URL, already resolved) to the
    newest revision; returns the exit status (0: done). A failure is reported on stderr
    without the URL's password."""
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
