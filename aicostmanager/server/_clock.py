"""The server's notion of "now", shiftable in testing mode (``POST /_testing/clock``).

The offset is process-wide: every server running in this process shares it.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

__all__ = ("get_offset", "now", "now_ts", "set_offset")

_offset = 0.0


def set_offset(offset_seconds: float) -> None:
    """Set the absolute offset (seconds) added to the real clock."""
    global _offset
    _offset = float(offset_seconds)


def get_offset() -> float:
    """The current offset in seconds."""
    return _offset


def now_ts() -> float:
    """Epoch seconds, offset included."""
    return time.time() + _offset


def now() -> datetime:
    """Aware UTC datetime, offset included."""
    return datetime.fromtimestamp(now_ts(), tz=timezone.utc)
