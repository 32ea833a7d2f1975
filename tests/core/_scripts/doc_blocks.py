"""Run one docs page's Python blocks in order, in one namespace, as a reader would.

Usage: ``doc_blocks.py BLOCKS_JSON``: a list of ``{"line": N, "code": "..."}``. Blocks with a
top-level ``await`` / ``async with`` run on this script's event loop (as in ``python -m
asyncio``); the others run in a worker thread, so that ``asyncio.run(...)`` and the blocking
``Tracker`` work as in a script. Exits 1 naming the first block that raised, with its traceback.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import sys
import traceback
from pathlib import Path
from typing import Any


async def main(blocks: list[dict[str, Any]], page: str) -> int:
    """Run ``blocks`` in order; returns the exit status."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    for block in blocks:
        where = f"{page}:{block['line']}"
        try:
            code = compile(block["code"], where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            if code.co_flags & inspect.CO_COROUTINE:
                await eval(code, namespace)
            else:
                await asyncio.to_thread(exec, code, namespace)
        except BaseException:
            print(f"the block at {where} failed:", file=sys.stderr)  # noqa: T201
            traceback.print_exc()
            return 1
    return 0


if __name__ == "__main__":
    path, page = sys.argv[1], sys.argv[2]
    sys.exit(asyncio.run(main(json.loads(Path(path).read_text()), page)))
