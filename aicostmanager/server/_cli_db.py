"""The ``--db`` of the server's commands: a SQLite path or a PostgreSQL URL, checked up front.

``--db`` wins over the environment variable :data:`ENV_DB`, which wins over the default
``./aicm-server.db``. A ``postgresql://`` or ``postgres://`` URL selects PostgreSQL; anything
else is a SQLite file. The URL's password is never printed: :func:`redact` removes it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from ._db import is_postgres_url, redact_url

__all__ = (
    "DEFAULT_DB",
    "ENV_DB",
    "check_database_path",
    "check_database_url",
    "redact",
    "resolve_db",
    "scrub",
    "visible_password_warning",
)

ENV_DB = "AICM_SERVER_DB"
"""Environment variable naming the server's database (a SQLite path or a PostgreSQL URL)."""
DEFAULT_DB = "aicm-server.db"
"""The database when neither ``--db`` nor :data:`ENV_DB` names one."""

_SQLITE_MAGIC = b"SQLite format 3\x00"
_CONNECT_TIMEOUT = 5
_POSTGRES_HINT = "PostgreSQL needs the 'postgres' extra: pip install 'aicostmanager[postgres]'"


def resolve_db(flag: str | None, environ: Mapping[str, str]) -> str:
    """The database to use: ``--db``, else :data:`ENV_DB`, else :data:`DEFAULT_DB`.

    A path is made absolute; a URL is returned as given.
    """
    db = flag or environ.get(ENV_DB, "").strip() or DEFAULT_DB
    return db if is_postgres_url(db) else os.path.abspath(db)


def visible_password_warning(flag: str | None) -> str | None:
    """A warning when ``--db`` (on the command line, so in ``ps``) carries a password."""
    if flag is None or not is_postgres_url(flag) or not urlsplit(flag).password:
        return None
    return (
        "warning: the password in --db is visible to every local user (ps, /proc); prefer"
        f" ${ENV_DB}, or a URL without it and PGPASSWORD / ~/.pgpass"
    )


def redact(db: str) -> str:
    """``db`` fit to print: a URL without its password."""
    return redact_url(db) if is_postgres_url(db) else db


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


def check_database_url(url: str) -> str | None:
    """Why the server could not use the PostgreSQL database at ``url``, or None when it can.

    Connects once (:data:`_CONNECT_TIMEOUT` seconds at most) and says in one line what failed:
    the host cannot be resolved or reached, the authentication failed, the database is missing.
    The password never appears in the answer.
    """
    try:
        import psycopg
    except ImportError:
        return _POSTGRES_HINT
    try:
        with psycopg.connect(url, connect_timeout=_CONNECT_TIMEOUT) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"cannot use the PostgreSQL database {redact(url)}: {_reason(url, str(exc))}"
    return None


_REASONS = (
    (re.compile(r"password authentication failed for user \"([^\"]*)\""), "authentication failed"),
    (re.compile(r"database \"([^\"]*)\" does not exist"), "the database does not exist"),
    (re.compile(r"role \"([^\"]*)\" does not exist"), "the user does not exist"),
    (re.compile(r"failed to resolve host|could not translate host name"), "unknown host"),
    (re.compile(r"Connection refused"), "connection refused (is PostgreSQL running there?)"),
    (re.compile(r"timeout expired|timed out"), "no answer (timed out)"),
)


def _reason(url: str, message: str) -> str:
    for pattern, reason in _REASONS:
        if pattern.search(message):
            return reason
    line = message.strip().splitlines()[-1] if message.strip() else "connection failed"
    return scrub(line, url)


def scrub(text: str, db: str) -> str:
    """``text`` (an error message about ``db``) with the URL's password replaced by ``***``."""
    password = urlsplit(db).password if is_postgres_url(db) else None
    return text.replace(password, "***") if password else text
