"""Every ```python block in ``docs/`` runs as written against the local server.

Each page's blocks run in order, in one namespace, in a fresh interpreter whose working
directory is a temporary folder and whose ``AICM_API_KEY`` / ``AICM_API_BASE`` point at the
session's local server (a fresh key per page). A block that cannot run here (it needs a real
provider key, a framework's server, ...) is preceded by ``<!-- not-run: reason -->``; the
reason is required. ``docs/testing.md`` ("Contributing to the docs") says so for writers.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from aicostmanager.server import LocalServer

from .resilience_helpers import SCRIPTS

DOCS = Path(__file__).resolve().parents[2] / "docs"
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)\s*(?P<lang>[\w+-]*)")
_NOT_RUN = re.compile(r"^\s*<!--\s*not-run\s*:(?P<reason>.*?)-->\s*$")


@dataclass(frozen=True)
class Block:
    """A fenced Python block of a docs page."""

    page: str
    line: int  # 1-based line of the opening fence
    code: str
    not_run: str | None  # the marker's reason; "" when the marker has none


def blocks_of(path: Path) -> list[Block]:
    """The ```python blocks of a Markdown file, with their not-run markers."""
    lines = path.read_text(encoding="utf-8").splitlines()
    page = str(path.relative_to(DOCS))
    found: list[Block] = []
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        fence, indent = match["fence"], match["indent"]
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        if match["lang"].lower() in ("python", "py"):
            body = [
                line[len(indent) :] if line.startswith(indent) else line
                for line in lines[index + 1 : end]
            ]
            previous = index - 1
            while previous >= 0 and not lines[previous].strip():
                previous -= 1
            marker = _NOT_RUN.match(lines[previous]) if previous >= 0 else None
            found.append(
                Block(
                    page,
                    index + 1,
                    textwrap.dedent("\n".join(body)),
                    marker["reason"].strip() if marker else None,
                )
            )
        index = end + 1
    return found


PAGES = sorted(p for p in DOCS.rglob("*.md") if blocks_of(p))


def test_docs_have_python_blocks() -> None:
    """The extraction finds the docs' Python blocks (a broken parser would pass everything)."""
    assert sum(len(blocks_of(p)) for p in PAGES) >= 20


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_not_run_markers_give_a_reason(path: Path) -> None:
    """Every `<!-- not-run: ... -->` marker says why the block cannot run."""
    for block in blocks_of(path):
        assert block.not_run != "", f"{block.page}:{block.line}: not-run marker without a reason"


@pytest.mark.timeout(300)
@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_docs_page_blocks_run(
    path: Path, local_server: LocalServer, admin: object, tmp_path: Path
) -> None:
    """The page's runnable blocks run in order, without an exception, against the server."""
    runnable = [b for b in blocks_of(path) if b.not_run is None]
    if not runnable:
        pytest.skip("every block of this page is marked not-run (with its reason)")
    key = admin.new_api_key()[0]  # type: ignore[attr-defined]
    blocks = tmp_path / "blocks.json"
    blocks.write_text(json.dumps([{"line": b.line, "code": b.code} for b in runnable]))
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICM_")}
    env.update(
        AICM_API_KEY=key,
        AICM_API_BASE=local_server.url,
        AICM_INI_PATH=str(work / "AICM.INI"),
        AICM_TESTING_INSTANT_RETRIES="1",
    )
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / "doc_blocks.py"), str(blocks), str(path.relative_to(DOCS))],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
