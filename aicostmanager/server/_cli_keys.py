"""Where ``aicostmanager serve`` takes its API keys from, without putting them in ``ps``.

Sources, all combined: ``--api-key-file PATH`` (one key a line; blank lines and ``#`` comments
skipped), the environment variable :data:`ENV_KEYS` (keys separated by commas or spaces),
``--api-key -`` (one line read from stdin) and ``--api-key KEY`` (visible to every local user
in ``ps``: accepted with a warning). With none, a key is generated once and written to a 0600
file next to the database (:func:`generated_key_path`), reused by later starts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import TextIO

from ._auth import new_key_text

__all__ = ("ENV_KEYS", "KeySourceError", "generated_key_path", "load_or_generate", "resolve_keys")

ENV_KEYS = "AICM_SERVER_API_KEY"
"""Environment variable holding the keys ``serve`` accepts (comma or space separated)."""

_MAX_KEY = 512


class KeySourceError(ValueError):
    """A key source cannot be read or holds no usable key (the message names the source)."""


def _check(key: str, source: str) -> str:
    if not key or len(key) > _MAX_KEY or any(c.isspace() for c in key):
        raise KeySourceError(f"{source}: an API key is 1 to {_MAX_KEY} characters without spaces")
    return key


def _read_file(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.__class__.__name__
        raise KeySourceError(f"cannot read --api-key-file {path}: {reason}") from None
    keys = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not keys:
        raise KeySourceError(f"--api-key-file {path} holds no key")
    return [_check(k, f"--api-key-file {path}") for k in keys]


def resolve_keys(
    cli_keys: Sequence[str],
    key_files: Sequence[str],
    environ: dict[str, str] | os._Environ[str],
    stdin: TextIO,
    warn: TextIO,
) -> list[str]:
    """Every key given by the command line, key files, :data:`ENV_KEYS` and stdin (in order).

    Raises:
        KeySourceError: a source cannot be read, or holds an invalid key.
    """
    keys: list[str] = []
    for path in key_files:
        keys.extend(_read_file(path))
    env = environ.get(ENV_KEYS, "")
    keys.extend(_check(k, ENV_KEYS) for k in re.split(r"[,\s]+", env) if k)
    visible = False
    for key in cli_keys:
        if key == "-":
            line = stdin.readline().strip()
            keys.append(_check(line, "--api-key - (stdin)"))
        else:
            keys.append(_check(key.strip(), "--api-key"))
            visible = True
    if visible:
        print(
            "warning: --api-key KEY is visible to every local user (ps, /proc);"
            f" prefer --api-key-file PATH, {ENV_KEYS} or --api-key - (stdin)",
            file=warn,
        )
    return list(dict.fromkeys(keys))


def generated_key_path(db_path: str) -> str:
    """Where a generated key is kept: next to the database, ``<db>.api-key``."""
    return db_path + ".api-key"


def load_or_generate(path: str) -> tuple[str, bool]:
    """The key kept at ``path``, or a new one written there (mode 0600); ``(key, created)``.

    Raises:
        KeySourceError: the file exists but cannot be read, or cannot be created.
    """
    if os.path.exists(path):
        return _read_file(path)[0], False
    key = new_key_text()
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError as exc:
        raise KeySourceError(f"cannot write the generated key to {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key, True
