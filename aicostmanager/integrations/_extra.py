"""The error an integration module raises when its framework is not installed."""

from __future__ import annotations

__all__ = ("missing_extra",)


def missing_extra(module: str, needs: str, extra: str) -> ImportError:
    """The ``ImportError`` telling which extra installs what ``integrations.<module>`` needs."""
    return ImportError(
        f"aicostmanager.integrations.{module} needs {needs}: pip install 'aicostmanager[{extra}]'"
    )
