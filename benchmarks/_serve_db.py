"""``LocalServer(db=...)`` in a process of its own, for a revision whose ``serve`` command does
not take a database URL yet (``bench_server_scale.py`` and ``bench_pg_dashboard.py`` use
``aicostmanager serve --db URL`` when it does).

Usage: ``_serve_db.py DB API_KEY PORT``; runs until killed (SIGTERM).
"""

from __future__ import annotations

import sys
import threading

from aicostmanager.server import LocalServer

if __name__ == "__main__":
    db, key, port = sys.argv[1:4]
    server = LocalServer(port=int(port), db=db, api_keys=[key], testing=False)
    server.start()
    threading.Event().wait()
