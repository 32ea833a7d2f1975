"""The local AICostManager-compatible server (``aicostmanager serve``).

Needs the ``server`` extra: ``pip install 'aicostmanager[server]'``.
"""

from __future__ import annotations

try:
    import fastapi  # noqa: F401
    import genai_prices  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "aicostmanager.server needs the server extra: pip install 'aicostmanager[server]'"
    ) from exc

from ._config import ServerConfig as ServerConfig
from ._runner import LocalServer as LocalServer
from .app import create_app as create_app

__all__ = ("LocalServer", "ServerConfig", "create_app")
