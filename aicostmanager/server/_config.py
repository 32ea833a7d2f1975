"""Configuration of the local server."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ("ServerConfig", "check_testing_host", "is_loopback")


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (``localhost`` or a loopback address)."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def check_testing_host(host: str, testing: bool, unsafe_testing: bool) -> None:
    """Refuse testing mode on an interface other machines can reach, unless asked explicitly.

    The testing admin API mints API keys and injects faults for anyone who can connect.

    Raises:
        ValueError: ``testing`` on a non-loopback ``host`` without ``unsafe_testing``.
    """
    if testing and not unsafe_testing and not is_loopback(host):
        raise ValueError(
            f"testing mode on {host!r} would let anyone on the network mint API keys;"
            " listen on 127.0.0.1, or pass --unsafe-testing to accept that"
        )


@dataclass
class ServerConfig:
    """Settings of one local AICostManager-compatible server.

    Attributes:
        db: where the server's data lives: a SQLite file path (created when missing), or a
            ``postgresql://USER:PASS@HOST:PORT/DB`` URL (``postgres://`` too).
        api_keys: keys accepted from the start (more can be minted in testing mode).
        api_prefix: path prefix of the API root, ``"/api/v1"`` like the SaaS.
        testing: mount the ``/_testing`` admin API and enable fault injection.
        max_batch: most records accepted in one ``POST /track`` (413 beyond).
        max_body_bytes: largest request body accepted (413 beyond, checked while it streams).
        readers: read connections (a slow read holds one; a team never holds them all).
        read_time_limit: seconds a read statement may run before it is interrupted (503);
            0 means no limit.
    """

    db: str = field(repr=False)  # a URL may carry a password
    api_keys: Sequence[str] = field(default_factory=tuple, repr=False)  # secrets: no repr
    api_prefix: str = "/api/v1"
    testing: bool = False
    max_batch: int = 1000
    max_body_bytes: int = 64 * 1024 * 1024
    readers: int = 4
    read_time_limit: float = 10.0

    def __post_init__(self) -> None:
        prefix = self.api_prefix.rstrip("/")
        if prefix and not prefix.startswith("/"):
            prefix = "/" + prefix
        self.api_prefix = prefix
        if self.max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if self.max_body_bytes < 1:
            raise ValueError("max_body_bytes must be at least 1")
        if self.readers < 2:
            raise ValueError("readers must be at least 2 (one team may hold all but one)")
        if not self.read_time_limit >= 0:
            raise ValueError("read_time_limit must be 0 (no limit) or more seconds")
