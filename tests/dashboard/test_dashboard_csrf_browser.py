"""Cross-site sign-in and sign-out, tried in headless Chromium from a page on another site."""

from __future__ import annotations

import html
import json
import os
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from aicostmanager.server import LocalServer
from aicostmanager.server._auth import SESSION_COOKIE

playwright_sync = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and os.environ.get("AICM_REQUIRE_BROWSER"):
    raise RuntimeError("AICM_REQUIRE_BROWSER is set but chromium is not installed")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
)
_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def _forging_form(action: str, api_key: str) -> str:
    """An auto-submitting text/plain form whose body reads as ``{"api_key": ...}`` JSON."""
    name = '{"api_key": "' + api_key + '", "x": "'
    return (
        "<!doctype html><html><body>"
        f'<form id="f" method="POST" enctype="text/plain" action="{html.escape(action)}">'
        f'<input type="hidden" name="{html.escape(name)}" value="&quot;}}"></form>'
        '<script>document.getElementById("f").submit()</script></body></html>'
    )


@pytest.fixture
def attacker() -> Iterator[dict[str, str]]:
    """Another site (``localhost`` on its own port) serving whatever page is put in the dict."""
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, "").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    pages["base"] = f"http://localhost:{server.server_address[1]}"
    try:
        yield pages
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module."""
    with playwright_sync.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=_ARGS)
        try:
            yield instance
        finally:
            instance.close()


def _signed_in(context: Any, server: LocalServer) -> bool:
    answer = context.request.get(server.url + "/dashboard/session")
    return bool(json.loads(answer.text())["signed_in"])


def test_forged_cross_site_sign_in_is_refused(
    browser: Any, local_server: LocalServer, admin: Any, attacker: dict[str, str]
) -> None:
    """A text/plain form on another site cannot sign the victim into the attacker's team."""
    attackers_key, _ = admin.new_api_key()
    attacker["/login"] = _forging_form(local_server.url + "/dashboard/login", attackers_key)
    context = browser.new_context()
    page = context.new_page()
    with page.expect_response(lambda r: r.url.endswith("/dashboard/login")) as answer:
        page.goto(attacker["base"] + "/login")
    assert answer.value.status == 403
    assert not any(c["name"] == SESSION_COOKIE for c in context.cookies())
    assert not _signed_in(context, local_server)
    context.close()


def test_forged_cross_site_sign_out_is_refused(
    browser: Any, local_server: LocalServer, api_key: str, attacker: dict[str, str]
) -> None:
    """A form on another site cannot sign the victim out; the page's own button still can."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(local_server.url + "/")
    page.fill("#api-key", api_key)
    page.click("button[type=submit]")
    page.wait_for_selector("#app-view:not([hidden])")
    assert _signed_in(context, local_server)
    attacker["/logout"] = _forging_form(local_server.url + "/dashboard/logout", "x")
    other = context.new_page()
    with other.expect_response(lambda r: r.url.endswith("/dashboard/logout")) as answer:
        other.goto(attacker["base"] + "/logout")
    assert answer.value.status == 403
    assert any(c["name"] == SESSION_COOKIE for c in context.cookies())
    assert _signed_in(context, local_server)
    other.close()
    page.click("#logout")
    page.wait_for_selector("#login-view:not([hidden])")
    assert not _signed_in(context, local_server)
    context.close()
