"""The error an integration module raises when its framework is not installed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ("requires_extra",)


@contextmanager
def requires_extra(module: str, needs: str, extra: str) -> Iterator[None]:
    """Wrap the framework imports of ``integrations.<module>``: an ``ImportError`` in the block
    becomes one telling which extra installs what it needs (the original is its cause).

    Raises:
        ImportError: an import in the block failed.
    """
    try:
        yield
    except ImportError as exc:
        raise ImportError(
            f"aicostmanager.integrations.{module} needs {needs}: "
            f"pip install 'aicostmanager[{extra}]'"
        ) from exc
