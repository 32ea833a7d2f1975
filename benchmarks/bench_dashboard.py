"""Dashboard request latency with 1,000,000 usage events in the local server's database.

Starts ``aicostmanager serve`` in a subprocess on a fresh database, ingests the events through
``POST /track`` (batches of 1,000; 50 customers, 12 services, spread over the last 30 days, 1%
with an unknown service key, plus three usage limits), then times every request the dashboard
makes (each repeated, after a warm-up), as median/min/max milliseconds against a 200 ms
target. Also reports the ingest rate while the rollups are maintained, and the page weight
(HTML + JS + CSS, raw and gzip) against 300 KB. ``--quick``: 100,000 events.
"""

from __future__ import annotations

import gzip
import random
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any

import httpx
import msgspec
from _common import (
    Measurement,
    local_server,
    new_api_key,
    parse_args,
    print_header,
    report,
    workdir,
)

NAME = "dashboard"
_SERVICES = (
    ("openai::gpt-4o", "openai"),
    ("openai::gpt-4o-mini", "openai"),
    ("openai::gpt-4.1", "openai"),
    ("openai::gpt-4.1-mini", "openai"),
    ("openai::o3-mini", "openai"),
    ("anthropic::claude-3-5-haiku-latest", "anthropic"),
    ("anthropic::claude-sonnet-4-0", "anthropic"),
    ("anthropic::claude-3-7-sonnet-latest", "anthropic"),
    ("google::gemini-2.5-flash", "google"),
    ("google::gemini-2.5-pro", "google"),
    ("google::gemini-2.0-flash", "google"),
    ("nosuchvendor::model-x", "unknown"),
)
_CUSTOMERS = tuple(f"customer-{i:02d}" for i in range(50))
_BATCH = 1000


def _batches(total: int, seed: int = 1) -> Any:
    rng = random.Random(seed)
    encode = msgspec.json.encode
    now = time.time()
    span = 30 * 86400 - 60
    for start in range(0, total, _BATCH):
        tracked = []
        for _ in range(min(_BATCH, total - start)):
            service, vendor = _SERVICES[rng.randrange(11)] if rng.random() > 0.01 else _SERVICES[11]
            a, b = rng.randrange(50, 8000), rng.randrange(5, 2000)
            payload = (
                {"prompt_tokens": a, "completion_tokens": b, "total_tokens": a + b}
                if vendor == "openai"
                else {"input_tokens": a, "output_tokens": b}
            )
            tracked.append(
                {
                    "service_key": service,
                    "response_id": uuid.uuid4().hex,
                    "timestamp": now - rng.random() * span,
                    "customer_key": _CUSTOMERS[int(rng.paretovariate(1.2)) % 50],
                    "payload": payload,
                }
            )
        yield encode({"tracked": tracked})


def _ingest(http: httpx.Client, total: int) -> float:
    started = time.perf_counter()
    for index, body in enumerate(_batches(total)):
        response = http.post("/track", content=body, headers={"Content-Type": "application/json"})
        response.raise_for_status()
        if index % 100 == 99:
            print(f"  ingested {(index + 1) * _BATCH:,} events")
    return total / (time.perf_counter() - started)


def _requests(customer: str) -> dict[str, tuple[str, dict[str, Any]]]:
    today = datetime.now(timezone.utc).date()

    def days(n: int) -> dict[str, str]:
        return {"start_date": str(today - timedelta(days=n - 1)), "end_date": str(today)}

    month, week, day = days(30), days(7), days(1)
    return {
        "summary 30 days": ("/spend/summary/", month),
        "summary today": ("/spend/summary/", day),
        "series 30 days daily by vendor": ("/spend/series/", {**month, "group_by": "vendor"}),
        "series 30 days daily by service": ("/spend/series/", {**month, "group_by": "service"}),
        "series today hourly by vendor": (
            "/spend/series/",
            {**day, "granularity": "hourly", "group_by": "vendor"},
        ),
        "customers 30 days (with trends)": ("/spend/customers/", month),
        "services 30 days (with units)": ("/spend/services/", month),
        "customer page: summary 7 days": ("/spend/summary/", {**week, "customer_key": customer}),
        "customer page: series 7 days": (
            "/spend/series/",
            {**week, "customer_key": customer, "group_by": "service"},
        ),
        "customer page: services 7 days": ("/spend/services/", {**week, "customer_key": customer}),
        "usage limits with progress": ("/usage-limits/progress/", {}),
        "latest events (live refresh)": ("/spend/latest/", {"limit": 20}),
        "latest events of one customer": (
            "/spend/latest/",
            {"limit": 20, "customer_key": customer},
        ),
        "not counted events": ("/spend/unpriced/", {"limit": 20}),
    }


def _page_weight(base: str) -> tuple[int, int]:
    raw = zipped = 0
    with httpx.Client(base_url=base, timeout=30) as http:
        for path in ("/", "/dashboard/static/app.js", "/dashboard/static/app.css"):
            body = http.get(path).content
            raw += len(body)
            zipped += len(gzip.compress(body))
    return raw, zipped


def main() -> None:
    """Fill the server, then time each dashboard request."""
    args = parse_args(__doc__)
    info = print_header(NAME, __doc__)
    total = 100_000 if args.quick else 1_000_000
    samples = 10 if args.quick else 30
    key = new_api_key()
    measurements: list[Measurement] = []
    with workdir() as tmp, local_server(tmp, key) as base:
        api_root = base + "/api/v1"
        with httpx.Client(
            base_url=api_root, headers={"Authorization": f"Bearer {key}"}, timeout=120
        ) as http:
            rate = _ingest(http, total)
            measurements.append(
                Measurement(f"ingest {total:,} events with rollups", "events/s", [rate])
            )
            for body in (
                {"threshold_type": "alert", "amount": "100", "period": "day"},
                {"threshold_type": "limit", "amount": "5000", "period": "month"},
                {
                    "threshold_type": "limit",
                    "amount": "50",
                    "period": "month",
                    "client": _CUSTOMERS[0],
                },
            ):
                http.post("/usage-limits/", json=body).raise_for_status()
            for name, (path, params) in _requests(_CUSTOMERS[3]).items():
                http.get(path, params=params).raise_for_status()  # warm-up
                values = []
                for _ in range(samples):
                    started = time.perf_counter()
                    http.get(path, params=params).raise_for_status()
                    values.append((time.perf_counter() - started) * 1000)
                m = Measurement(name, "ms", values, target=200.0, higher_is_better=False)
                print(f"  {name}: median {m.median:.1f} ms")
                measurements.append(m)
            db_bytes = (tmp / "server.db").stat().st_size
        raw, zipped = _page_weight(base)
    measurements.append(
        Measurement(
            "page weight, first load (gzip)",
            "KB",
            [zipped / 1000],
            target=300.0,
            higher_is_better=False,
            extra={"raw_kb": raw / 1000},
        )
    )
    measurements.append(Measurement("server database size", "MB", [db_bytes / 1e6]))
    report(NAME, measurements, {**info, "events": total, "day": str(date.today())}, args)


if __name__ == "__main__":
    main()
