"""Configuration of the local server."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ("ServerConfig",)


@dataclass
class ServerConfig:
    """Settings of one local AICostManager-compatible server.

    Attributes:
        db_path: SQLite file holding the server's data (created when missing).
        api_keys: keys accepted from the start (more can be minted in testing mode).
        api_prefix: path prefix of the API root, ``"/api/v1"`` like the SaaS.
        testing: mount the ``/_testing`` admin API and enable fault injection.
        max_batch: most records accepted in one ``POST /track`` (413 beyond).
    """

    db_path: str
    api_keys: Sequence[str] = field(default_factory=tuple, repr=False)  # secrets: no repr
    api_prefix: str = "/api/v1"
    testing: bool = False
    max_batch: int = 1000

    def __post_init__(self) -> None:
        prefix = self.api_prefix.rstrip("/")
        if prefix and not prefix.startswith("/"):
            prefix = "/" + prefix
        self.api_prefix = prefix
        if self.max_batch < 1:
            raise ValueError("max_batch must be at least 1")
