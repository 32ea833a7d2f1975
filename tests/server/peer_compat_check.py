"""Check that the published SDK (aicostmanager 0.3.2) works unchanged against our server.

Not collected by pytest (no ``test_`` prefix). Run it once by hand::

    python -m venv /tmp/peer && /tmp/peer/bin/pip install aicostmanager==0.3.2
    python tests/server/peer_compat_check.py [--peer-python /tmp/peer/bin/python] [--db URL]

``tests/server/test_pg_acceptance.py`` runs it on SQLite and on PostgreSQL (``--db``).

It starts a :class:`LocalServer` (testing mode), runs the peer's ``Tracker`` in a separate
interpreter in immediate mode (``track`` and ``track_batch``) and in persistent-queue mode, then
checks through our own API that every event landed, priced, exactly once. Exit status 0 on
success; skips (exit 0 with a message) when the peer venv does not exist.
"""

# ruff: noqa: T201  (a command-line script: it reports on stdout)
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from aicostmanager.server import LocalServer

PEER_SCRIPT = r"""
import json, os, sys, time
from aicostmanager import Tracker
out = {}
with Tracker(delivery_type="immediate") as tracker:
    r = tracker.track("openai::gpt-4o", {"prompt_tokens": 100, "completion_tokens": 20,
                      "total_tokens": 120}, response_id="peer-imm-1", customer_key="acme",
                      context={"env": "peer"})
    out["immediate"] = r
    out["batch"] = tracker.track_batch([
        {"service_key": "anthropic::claude-sonnet-4-5", "response_id": "peer-batch-1",
         "usage": {"input_tokens": 10, "output_tokens": 5}},
        {"service_key": "acme::unknown", "response_id": "peer-batch-2", "usage": {"x": 1}},
    ])
    out["retry_same_id"] = tracker.track("openai::gpt-4o", {"prompt_tokens": 1,
        "completion_tokens": 1, "total_tokens": 2}, response_id="peer-imm-1")
with Tracker(delivery_type="persistent_queue") as tracker:
    for i in range(5):
        out.setdefault("persistent", []).append(tracker.track(
            "google::gemini-2.5-flash", {"promptTokenCount": 10 + i,
            "candidatesTokenCount": 3, "totalTokenCount": 13 + i},
            response_id=f"peer-pq-{i}"))
print(json.dumps(out, default=str))
"""

# The published SDK's own verification of a triggered-limits token (None when it fails).
PEER_VERIFY = r"""
import json, sys
from aicostmanager.config_manager import ConfigManager
print(json.dumps(ConfigManager._decode(None, sys.argv[1], sys.argv[2])))
"""


def main() -> int:
    """Run the check; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-python", default="/tmp/peer/bin/python")
    parser.add_argument(
        "--db", default=None, help="the server's database (default: a temporary SQLite file)"
    )
    args = parser.parse_args()
    if not Path(args.peer_python).exists():
        print(f"SKIP: {args.peer_python} not found (install aicostmanager==0.3.2 there)")
        return 0
    with tempfile.TemporaryDirectory() as tmp, LocalServer(db=args.db, testing=True) as server:
        admin = httpx.Client(base_url=server.url + "/_testing")
        created = admin.post("/api-keys").json()
        key, key_id = created["api_key"], created["api_key_id"]
        # Without PYTHONPATH: the peer's interpreter must import its own package, not ours.
        env = {
            **{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
            "AICM_API_KEY": key,
            "AICM_API_BASE": server.url,
            "AICM_API_URL": "/api/v1",
            "AICM_INI_PATH": str(Path(tmp) / "AICM.INI"),
            "AICM_DB_PATH": str(Path(tmp) / "queue.db"),
            "AICM_LOG_FILE": str(Path(tmp) / "aicm.log"),
            "AICM_RAISE_ON_ERROR": "true",
        }
        proc = subprocess.run(
            [args.peer_python, "-c", PEER_SCRIPT],
            env=env,
            cwd=tmp,  # not the project directory: import the peer's package, not ours
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if proc.returncode != 0:
            print("FAIL: the peer SDK raised\n" + proc.stderr)
            return 1
        peer_out = json.loads(proc.stdout.strip().splitlines()[-1])
        print("peer immediate result:", json.dumps(peer_out["immediate"])[:300])
        api = httpx.Client(
            base_url=server.api_root, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        expected = {"peer-imm-1", "peer-batch-1", "peer-batch-2"}
        expected |= {f"peer-pq-{i}" for i in range(5)}
        deadline = time.monotonic() + 30
        while True:
            page = api.get("/usage/events/", params={"limit": 200}).json()
            seen = {e["response_id"]: e["status"] for e in page["results"]}
            if set(seen) >= expected or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        stats = admin.get("/stats", params={"api_key_id": key_id}).json()
        print("events:", json.dumps(seen, sort_keys=True))
        print("stats:", stats)
        problems = []
        if set(seen) != expected:
            problems.append(f"events differ: missing {expected - set(seen)}")
        if seen.get("peer-batch-2") != "service_key_unknown":
            problems.append("unknown key not set aside")
        if any(s != "completed" for r, s in seen.items() if r != "peer-batch-2"):
            problems.append("some known events not priced")
        if stats["duplicates"] != 1:
            problems.append("the re-sent response_id was not de-duplicated exactly once")
        costs = api.get("/cost-events/peer-imm-1").json()
        if not costs:
            problems.append("no cost events for peer-imm-1")
        envelope = api.get("/triggered-limits").json()
        envelope = envelope.get("triggered_limits", envelope)
        decoded = subprocess.run(
            [
                args.peer_python,
                "-c",
                PEER_VERIFY,
                envelope["encrypted_payload"],
                envelope["public_key"],
            ],
            env=env,
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        print("peer verification of our signed triggered limits:", decoded.stdout.strip()[:200])
        if decoded.returncode != 0 or '"iss": "aicm-api"' not in decoded.stdout:
            problems.append("the peer SDK does not verify our triggered-limits signature")
        if problems:
            print("FAIL: " + "; ".join(problems))
            return 1
        print(
            "OK: the published SDK 0.3.2 works unchanged against the local server "
            "and verifies its signed triggered limits"
        )
        return 0


if __name__ == "__main__":
    sys.exit(main())
