"""The server on a database URL in a process of its own, for a revision whose ``serve``
command does not take a URL yet (``bench_server_scale.py`` and ``bench_pg_dashboard.py`` use
``aicostmanager serve --db URL`` when it does).

Usage: ``_serve_db.py DB API_KEY PORT``; runs until killed (SIGTERM). uvicorn makes the
listening socket itself (so asyncio sets ``TCP_NODELAY`` on each connection, as ``serve``'s
socket does).
"""

from __future__ import annotations

import sys

import uvicorn

from aicostmanager.server import ServerConfig, create_app

if __name__ == "__main__":
    db, key, port = sys.argv[1:4]
    app = create_app(ServerConfig(db=db, api_keys=(key,)))
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning")
