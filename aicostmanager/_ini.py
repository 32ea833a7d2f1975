"""The ``AICM.INI`` file: read one section, or replace keys of one section atomically.

Writes take an exclusive lock file (``<ini>.lock``, created with ``O_CREAT|O_EXCL``), re-read
the file, change it, write a temporary file in the same directory, ``fsync`` it and rename it
over the original, so concurrent writers in several processes never lose each other's sections
and readers never see a half-written file. Files are created with mode 0600. Values are read
without interpolation (a ``%`` is just a character).
"""

from __future__ import annotations

import configparser
import contextlib
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

__all__ = ("DEFAULT_INI_PATH", "ini_lock", "read_section", "update_section")

DEFAULT_INI_PATH = Path("~/.config/aicostmanager/AICM.INI")

_LOCK_STALE_SECONDS = 30.0
_LOCK_TIMEOUT_SECONDS = 10.0


def _parser() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str.lower  # type: ignore[assignment,method-assign]
    return parser


def _read(path: Path) -> configparser.ConfigParser:
    parser = _parser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return parser
    parser.read_string(text, source=str(path))
    return parser


def read_section(path: str | os.PathLike[str], section: str) -> dict[str, str]:
    """Return the keys (lower-cased) and values of one section; ``{}`` when absent.

    Raises:
        configparser.Error: the file is not valid INI.
    """
    parser = _read(Path(path).expanduser())
    if not parser.has_section(section):
        return {}
    return dict(parser.items(section))


@contextlib.contextmanager
def ini_lock(path: Path) -> Iterator[None]:
    """Hold the cross-process lock of an INI file; a lock older than 30 s is broken."""
    lock = path.with_name(path.name + ".lock")
    deadline = time.monotonic() + _LOCK_TIMEOUT_SECONDS
    delay = 0.005
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            try:
                if time.time() - lock.stat().st_mtime > _LOCK_STALE_SECONDS:
                    lock.unlink(missing_ok=True)
                    continue
            except FileNotFoundError:
                continue
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"could not lock {path} within {_LOCK_TIMEOUT_SECONDS} s"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
            continue
        os.close(fd)
        break
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def update_section(
    path: str | os.PathLike[str], section: str, values: Mapping[str, str | None]
) -> None:
    """Set (or, with ``None``, remove) keys of one section, atomically and under the lock.

    Raises:
        TimeoutError: the lock could not be taken.
        OSError: the file could not be written.
    """
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    with ini_lock(target):
        parser = _read(target)
        if not parser.has_section(section):
            parser.add_section(section)
        for key, value in values.items():
            if value is None:
                parser.remove_option(section, key)
            else:
                parser.set(section, key, value)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                parser.write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
