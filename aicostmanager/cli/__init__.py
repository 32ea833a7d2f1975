"""The ``aicostmanager`` command line: ``serve``, ``server keys ...``, ``demo``, ``queue ...``;
and ``queue-monitor``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ("main", "queue_monitor_main")

# The commands that need the 'server' extra: (module, entry function).
_SERVER_COMMANDS = {
    "serve": ("..server._cli", "serve_main"),
    "server": ("..server._cli_admin", "server_main"),
}
_SERVER_HINT = "the local server needs the 'server' extra: pip install 'aicostmanager[server]'"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``aicostmanager`` command; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="aicostmanager",
        description="Record the cost of AI/LLM calls; run a local AICostManager-compatible "
        "server; inspect the durable queue.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("serve", help="run the local server (see `aicostmanager serve -h`)")
    commands.add_parser(
        "server", help="administer a server database (`server keys ...`, `server migrate`)"
    )
    commands.add_parser("demo", help="track a mixed workload against the embedded local server")
    commands.add_parser("queue", help="inspect and repair a queue file (stats, failed, ...)")
    parser.add_argument("--version", action="version", version=f"aicostmanager {_version()}")
    if not args or args[0] in ("-h", "--help", "--version"):
        if args[:1] == ["--version"]:
            print(f"aicostmanager {_version()}")
            return 0
        parser.print_help()
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command in _SERVER_COMMANDS:
        module, function = _SERVER_COMMANDS[command]
        try:
            run = getattr(importlib.import_module(module, __package__), function)
        except ImportError:
            print(_SERVER_HINT, file=sys.stderr)
            return 2
        return int(run(rest))
    if command == "demo":
        from ._demo import demo_main

        return demo_main(rest)
    if command == "queue":
        from ._queue import queue_main

        return queue_main(rest)
    parser.print_usage(sys.stderr)
    print(f"aicostmanager: unknown command {command!r}", file=sys.stderr)
    return 2


def queue_monitor_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``queue-monitor [DB_PATH] [-i SECONDS]`` (as in the 0.3 SDK's README)."""
    from ._queue import queue_main

    return queue_main(list(sys.argv[1:] if argv is None else argv), as_monitor=True)


def _version() -> str:
    from .. import __version__

    return __version__
