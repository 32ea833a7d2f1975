"""The topology of ``deploy/compose.yaml`` with processes instead of containers, and checks.

PostgreSQL (``--dsn``, or a throw-away cluster made with ``initdb``/``pg_ctl``), REPLICAS
``aicostmanager serve --db postgresql://... --workers W`` processes on their own ports (the
replicas), and nginx with the settings of ``deploy/nginx.conf`` in front of them on one port.
Then, through the proxy only: an SDK ``Tracker`` (durable queue) tracks EVENTS events, 10%
of them re-sent with an id already sent; one replica is killed with SIGKILL half-way and
started again later; the script checks that every id is stored once, that the spend summary
counts them, that the dashboard page is served, and which replica answered how many requests
(nginx's log of ``$upstream_addr``).

Usage: ``python deploy/try_by_hand.py [--dsn URL] [--replicas 2] [--workers 2] [--events 4000]``
(needs ``nginx`` on the PATH or in /usr/sbin). Exit status 0 when every check passed.
"""

# ruff: noqa: T201  (a script: what it prints is its report)
from __future__ import annotations

import argparse
import asyncio
import collections
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "benchmarks"))

from _common import free_port, new_api_key  # noqa: E402
from _pg_cluster import postgres_url  # noqa: E402
from bench_server_scale import Server, _database_url  # noqa: E402

_NGINX = """
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{}}
http {{
    log_format upstream '$upstream_addr $status $request_uri';
    access_log {tmp}/access.log upstream;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    upstream aicm {{
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 64m;
        location / {{
            proxy_pass http://aicm;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_next_upstream error timeout http_502 http_503;
            proxy_read_timeout 120s;
        }}
    }}
}}
"""


def _nginx() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        raise SystemExit("nginx is not installed (apt-get install nginx-light)")
    return found


async def _track(base: str, key: str, tmp: Path, events: int, halfway: asyncio.Event) -> list[str]:
    from aicostmanager import AsyncTracker

    ids = [f"hand-{n}" for n in range(events - events // 10)]
    sent = ids + ids[: events // 10]  # 10% re-sent, later, in other batches
    async with AsyncTracker(
        aicm_api_key=key,
        aicm_api_base=base,
        ini_path=tmp / "AICM.INI",
        db_path=tmp / "queue.db",
        delivery_type="persistent_queue",
        timeout=30,
    ) as tracker:
        for index, rid in enumerate(sent):
            await tracker.track(
                "openai::gpt-4o-mini",
                {"input_tokens": 100 + index % 50, "output_tokens": 10},
                response_id=rid,
                customer_key=f"customer-{index % 5}",
            )
            if index == len(sent) // 2:
                halfway.set()
            if index % 200 == 0:
                await asyncio.sleep(0.05)  # spread the load over some time, like an app
        if not await tracker.flush(timeout=300):
            raise RuntimeError("the tracker did not deliver everything in 300 s")
    return ids


def _restart(db: str, key: str, workers: int, tmp: Path, port: int) -> Server:
    """Start a replica again on ``port`` once the killed one released it."""
    deadline = time.monotonic() + 30
    while True:
        with socket.socket() as probe:
            # As uvicorn binds: connections of the killed replica may linger in TIME_WAIT.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
        time.sleep(0.1)
    server = Server(db, key, workers, tmp / "replica0-again.log", port=port)
    server.wait_ready()
    return server


def main() -> int:
    """Run the topology and the checks (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default=None)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--events", type=int, default=4000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="aicm-by-hand-"))
    tmp.chmod(0o755)  # nginx's workers run as another user
    key = new_api_key()
    replicas: list[Server] = []
    nginx = None
    failures: list[str] = []
    with postgres_url(args.dsn) as admin:
        db = _database_url(admin, f"aicm_by_hand_{os.getpid()}")
        try:
            # All replicas start at once: one migrates the empty database, the others wait.
            replicas = [
                Server(db, key, args.workers, tmp / f"replica{i}.log") for i in range(args.replicas)
            ]
            for replica in replicas:
                replica.wait_ready()
            port = free_port()
            servers = "\n".join(
                f"        server 127.0.0.1:{r.port} max_fails=3 fail_timeout=5s;" for r in replicas
            )
            (tmp / "nginx.conf").write_text(_NGINX.format(tmp=tmp, servers=servers, port=port))
            nginx = subprocess.Popen([_nginx(), "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"])
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(base + "/", timeout=2)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or nginx.poll() is not None:
                        raise
                    time.sleep(0.1)
            ports = [r.port for r in replicas]
            print(f"proxy {base} -> replicas on ports {ports}, {args.workers} workers each")

            async def scenario() -> list[str]:
                halfway = asyncio.Event()
                task = asyncio.create_task(_track(base + "/api/v1", key, tmp, args.events, halfway))
                await halfway.wait()
                victim = replicas[0]
                victim.kill()  # SIGKILL to the replica and its workers
                print(f"killed the replica on port {victim.port} (SIGKILL) half-way through")
                await asyncio.sleep(3)
                replicas[0] = await asyncio.to_thread(
                    _restart, db, key, args.workers, tmp, victim.port
                )
                print(f"replica on port {victim.port} back")
                return await task

            ids = asyncio.run(scenario())
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=base + "/api/v1", headers=headers, timeout=60) as http:
                stored: list[str] = []
                url: str | None = "/usage/events/?limit=1000"
                while url:
                    data = http.get(url).raise_for_status().json()
                    stored.extend(e["response_id"] for e in data["results"])
                    url = data.get("next") if data["results"] else None
                summary = http.get("/spend/summary/").raise_for_status().json()
            page = httpx.get(base + "/", timeout=10)
            counts = collections.Counter(stored)
            checks = {
                f"{len(ids)} unique ids stored": set(stored) == set(ids),
                "no id stored twice": max(counts.values(), default=0) == 1,
                f"summary counts {len(ids)} events": int(summary["events"]) == len(ids),
                "dashboard page served through the proxy": page.status_code == 200
                and "<html" in page.text.lower(),
            }
            log = (tmp / "access.log").read_text().splitlines()
            by_upstream = collections.Counter(line.split()[0] for line in log)
            print("requests per upstream (nginx $upstream_addr):", dict(by_upstream))
            checks["every replica answered requests"] = all(
                any(str(r.port) in addr for addr in by_upstream) for r in replicas
            )
            print(f"total spend {summary['total']} USD over {summary['events']} events")
            for name, ok in checks.items():
                print(("PASS " if ok else "FAIL ") + name)
                if not ok:
                    failures.append(name)
        finally:
            if nginx is not None:
                nginx.terminate()
                nginx.wait(10)
            for replica in replicas:
                if replica.proc.poll() is None:
                    replica.stop()
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
