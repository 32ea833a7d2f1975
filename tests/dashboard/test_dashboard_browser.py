"""The dashboard in headless Chromium (from the OS packages), driven by Playwright."""

from __future__ import annotations

import csv
import io
import os
import random
import shutil
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from aicostmanager import Tracker
from aicostmanager.server import LocalServer

playwright_sync = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and os.environ.get("AICM_REQUIRE_BROWSER"):
    raise RuntimeError("AICM_REQUIRE_BROWSER is set but chromium is not installed")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
)

_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_CUSTOMERS = ("acme", "globex", "initech", "umbrella")
_SERVICES = ("openai::gpt-4o", "openai::gpt-4o-mini", "anthropic::claude-3-5-haiku-latest")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module."""
    with playwright_sync.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=_ARGS)
        try:
            yield instance
        finally:
            instance.close()


class Rest:
    """The REST API as the SDK's users see it (exact Decimal sums of cost events)."""

    def __init__(self, server: LocalServer, key: str) -> None:
        self.http = httpx.Client(
            base_url=server.api_root, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )

    def rollups(self, **params: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self.http.get(
                "/usage/rollups/", params={"limit": 200, "offset": offset, **params}
            )
            page.raise_for_status()
            body = page.json()
            out.extend(body["results"])
            if not body["next"]:
                return out
            offset += 200

    def total(self, by: str | None = None, **params: Any) -> dict[str | None, Decimal]:
        sums: dict[str | None, Decimal] = {}
        for row in self.rollups(**params):
            name = row[by] if by else None
            sums[name] = sums.get(name, Decimal(0)) + Decimal(row["cost"])
        return sums


def _workload(server: LocalServer, key: str, tmp_path: Path) -> None:
    rng = random.Random(11)
    now = datetime.now(timezone.utc)
    records = []
    for i in range(400):
        service = rng.choice(_SERVICES)
        a, b = rng.randrange(100, 6000), rng.randrange(10, 1500)
        usage = (
            {"prompt_tokens": a, "completion_tokens": b, "total_tokens": a + b}
            if service.startswith("openai")
            else {"input_tokens": a, "output_tokens": b}
        )
        back = timedelta(hours=rng.randrange(0, 6 * 24)) if i % 4 else timedelta(minutes=i % 50)
        records.append(
            {
                "service_key": service,
                "usage": usage,
                "customer_key": rng.choice(_CUSTOMERS),
                "timestamp": now - back,
            }
        )
    records.append({"service_key": "nosuchvendor::model", "usage": {"input_tokens": 5}})
    with Tracker(
        aicm_api_key=key,
        aicm_api_base=server.url,
        db_path=tmp_path / "queue.db",
        ini_path=tmp_path / "AICM.INI",
        batch_interval=0.005,
    ) as tracker:
        for start in range(0, len(records), 200):
            tracker.track_batch(records[start : start + 200])
        assert tracker.flush(timeout=30)


def _money(text: str) -> Decimal:
    return Decimal(text.replace("$", "").replace(",", "").strip())


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


def _days(n: int) -> dict[str, str]:
    today = datetime.now(timezone.utc).date()
    return {"start_date": str(today - timedelta(days=n - 1)), "end_date": str(today)}


def _wait_reloaded(page: Any, before: str | None) -> None:
    """Wait until the page has finished a load started after ``before`` (CSP forbids eval)."""
    playwright_sync.expect(page.locator("body")).not_to_have_attribute(
        "data-loaded", before or "", timeout=20_000
    )


def _not_blank(path: Path) -> None:
    from PIL import Image

    with Image.open(path) as image:
        colors = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colors is not None and len(colors) > 20, f"{path.name} looks blank"


def test_dashboard_end_to_end(
    browser: Any, local_server: LocalServer, api_key: str, tmp_path: Path
) -> None:
    """Figures equal the REST API's to the cent; drill-down, periods, live rows and CSV work;
    nothing leaves 127.0.0.1 and the console stays clean."""
    _workload(local_server, api_key, tmp_path)
    rest = Rest(local_server, api_key)
    try:
        _check_dashboard(browser, local_server, api_key, tmp_path, rest)
    finally:
        rest.http.close()


def _check_dashboard(
    browser: Any, local_server: LocalServer, api_key: str, tmp_path: Path, rest: Rest
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    hosts: set[str] = set()
    errors: list[str] = []
    page.on("request", lambda r: hosts.add(urlsplit(r.url).hostname or r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(local_server.url + "/")
    page.fill("#api-key", api_key)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=customer-row]")
    assert api_key not in page.content()

    # Overview, 7 days (the default): total, customers and services to the cent.
    week = _days(7)
    assert _cents(_money(page.inner_text("#total"))) == _cents(rest.total(**week)[None])
    by_customer = rest.total("customer_key", **week)
    shown = {
        row.get_attribute("data-customer"): _cents(
            _money(row.query_selector("td.num").inner_text())
        )
        for row in page.query_selector_all("[data-testid=customer-row]")
    }
    # The unpriced event has no customer: it shows with $0.00 and has no cost events.
    assert shown == {k: _cents(v) for k, v in by_customer.items()} | {"": Decimal("0.00")}
    by_service = rest.total("service_id", **week)
    shown_services = {
        row.get_attribute("data-service"): _cents(Decimal(row.get_attribute("data-cost")))
        for row in page.query_selector_all("[data-testid=service-row]")
    }
    assert shown_services == {k: _cents(v) for k, v in by_service.items()} | {
        "nosuchvendor::model": Decimal("0.00")
    }
    assert page.locator("[data-testid=unpriced-row]").count() == 1
    assert page.locator("#chart rect.mark").count() > 0
    page.screenshot(path=tmp_path / "overview.png", full_page=True)
    page.locator("#chart").screenshot(path=tmp_path / "chart.png")
    _not_blank(tmp_path / "overview.png")
    _not_blank(tmp_path / "chart.png")

    # CSV export of the customers table.
    with page.expect_download() as download:
        page.click("button.csv[data-table=customers]")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert {r["customer_key"]: _cents(Decimal(r["cost"])) for r in rows} == shown

    # Period change: today only.
    loaded = page.get_attribute("body", "data-loaded")
    page.click("[data-period=today]")
    _wait_reloaded(page, loaded)
    today = _days(1)
    assert _cents(_money(page.inner_text("#total"))) == _cents(
        rest.total(**today).get(None, Decimal(0))
    )

    # Drill-down into one customer (7 days).
    loaded = page.get_attribute("body", "data-loaded")
    page.click("[data-period='7d']")
    _wait_reloaded(page, loaded)
    loaded = page.get_attribute("body", "data-loaded")
    page.click("[data-testid=customer-row][data-customer=acme] a")
    _wait_reloaded(page, loaded)
    assert page.inner_text("[data-testid=customer-title]") == "acme"
    assert page.is_hidden("#customers-panel")
    acme = rest.total(customer_key="acme", **week)[None]
    assert _cents(_money(page.inner_text("#total"))) == _cents(acme)
    acme_services = rest.total("service_id", customer_key="acme", **week)
    shown_acme = {
        row.get_attribute("data-service"): _cents(Decimal(row.get_attribute("data-cost")))
        for row in page.query_selector_all("[data-testid=service-row]")
    }
    assert shown_acme == {k: _cents(v) for k, v in acme_services.items()}
    page.screenshot(path=tmp_path / "customer.png", full_page=True)
    _not_blank(tmp_path / "customer.png")

    # Live update: an event tracked now appears without a reload.
    rid = uuid.uuid4().hex
    with Tracker(
        aicm_api_key=api_key,
        aicm_api_base=local_server.url,
        delivery_type="immediate",
        ini_path=tmp_path / "AICM.INI",
    ) as tracker:
        tracker.track(
            "openai::gpt-4o-mini",
            {
                "prompt_tokens": 10,
                "completion_tokens": 5,
                "total_tokens": 15,
                "mystery_units": 2,
                "aicm_estimated": ["prompt_tokens"],
            },
            response_id=rid,
            customer_key="acme",
        )
    row = f"[data-testid=event-row][data-response-id='{rid}']"
    page.wait_for_selector(row, timeout=20_000)

    # The event view: estimated and not fully priced, each line as quantity x rate = amount.
    assert page.locator(f"{row} [data-testid=estimated-badge]").count() == 1
    assert page.locator(f"{row} [data-testid=partial-badge]").count() == 1
    page.click(f"{row} [data-testid=explain-link]")
    page.wait_for_selector("[data-testid=explain-row]")
    explained = rest.http.get(f"/cost-events/{rid}/explain").json()
    assert page.locator("[data-testid=explain-row]").count() == len(explained["lines"])
    assert page.inner_text("[data-testid=event-total]") == explained["total"]
    notes = page.inner_text("[data-testid=event-notes]")
    assert "estimated usage: prompt_tokens" in notes and "not priced: mystery_units" in notes
    assert explained["catalog"] in notes

    # Phone width still shows the figures.
    page.set_viewport_size({"width": 390, "height": 860})
    page.goto(local_server.url + "/#/")
    page.wait_for_selector("[data-testid=customer-row]")
    page.screenshot(path=tmp_path / "phone.png")
    _not_blank(tmp_path / "phone.png")

    assert hosts == {"127.0.0.1"}
    assert errors == []
    context.close()


def test_wrong_key_is_refused(browser: Any, local_server: LocalServer) -> None:
    """A wrong key shows an error and no data; the API stays closed to that browser."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(local_server.url + "/")
    page.fill("#api-key", "sk-test-not-a-key.00000000-0000-0000-0000-000000000000")
    page.click("button[type=submit]")
    page.wait_for_selector("#login-error:not(:empty)")
    assert "not valid" in page.inner_text("#login-error")
    assert page.is_hidden("#app-view")
    assert context.request.get(local_server.api_root + "/spend/summary/").status == 401
    context.close()
