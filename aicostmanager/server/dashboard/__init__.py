"""The cost dashboard: a page at ``/`` that reads the ``/spend/...`` and other REST endpoints.

Sign-in exchanges an API key (sent once, in a POST body) for a random session token kept in an
HttpOnly, SameSite=Strict cookie; that cookie authenticates read-only (GET) API requests only.
The page and its assets ship inside the package: nothing is fetched from elsewhere, and the
Content-Security-Policy forbids it.
"""

from __future__ import annotations

import secrets
import time
from importlib import resources
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from .._auth import SESSION_COOKIE, ApiKey, KeyStore

__all__ = ("Sessions", "mount")

_SESSION_SECONDS = 12 * 3600
_MAX_SESSIONS = 10_000
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class Sessions:
    """Dashboard sessions: random token -> the key's identity, for 12 hours."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[ApiKey, float]] = {}

    def create(self, key: ApiKey) -> str:
        """A new session for ``key``; returns its token."""
        now = time.monotonic()
        if len(self._items) >= _MAX_SESSIONS:
            self._items = {t: v for t, v in self._items.items() if v[1] > now}
            while len(self._items) >= _MAX_SESSIONS:
                self._items.pop(next(iter(self._items)))
        token = secrets.token_urlsafe(32)
        self._items[token] = (key, now + _SESSION_SECONDS)
        return token

    def get(self, token: str) -> ApiKey | None:
        """The identity of a live session, or None."""
        item = self._items.get(token)
        if item is None:
            return None
        if item[1] <= time.monotonic():
            self._items.pop(token, None)
            return None
        return item[0]

    def drop(self, token: str) -> None:
        """End a session."""
        self._items.pop(token, None)


def _page(api_prefix: str) -> str:
    text = resources.files(__package__).joinpath("static/index.html").read_text("utf-8")
    return text.replace("{{API_PREFIX}}", api_prefix)


def mount(app: FastAPI, api_prefix: str) -> None:
    """Serve the dashboard from ``app``: the page at ``/``, assets, sign-in and sign-out."""
    app.state.sessions = Sessions()
    page = _page(api_prefix)
    static_dir = resources.files(__package__).joinpath("static")
    app.mount("/dashboard/static", StaticFiles(directory=str(static_dir)), name="dashboard")
    router = APIRouter(include_in_schema=False)
    headers = {"Content-Security-Policy": _CSP, "Cache-Control": "no-store"}

    @router.get("/")
    async def index() -> HTMLResponse:
        return HTMLResponse(page, headers={**headers, "X-Frame-Options": "DENY"})

    @router.get("/dashboard")
    async def dashboard() -> RedirectResponse:
        return RedirectResponse("/", status_code=308)

    @router.post("/dashboard/login")
    async def login(request: Request) -> Response:
        try:
            body: Any = await request.json()
        except ValueError:
            body = None
        key = body.get("api_key") if isinstance(body, dict) else None
        if not isinstance(key, str) or not key.strip() or len(key) > 512:
            return JSONResponse({"detail": "an API key is required"}, status_code=422)
        store: KeyStore = request.app.state.keys
        found = await store.lookup(key.strip())
        if found is None:
            return JSONResponse({"detail": "invalid API key"}, status_code=401)
        token = request.app.state.sessions.create(found)
        response = Response(status_code=204, headers={"Cache-Control": "no-store"})
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=_SESSION_SECONDS,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    @router.post("/dashboard/logout")
    async def logout(request: Request) -> Response:
        request.app.state.sessions.drop(request.cookies.get(SESSION_COOKIE, ""))
        response = Response(status_code=204)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return response

    @router.get("/dashboard/session")
    async def session(request: Request) -> Response:
        found = request.app.state.sessions.get(request.cookies.get(SESSION_COOKIE, ""))
        if found is None:
            return JSONResponse({"signed_in": False}, headers=headers)
        return JSONResponse(
            {"signed_in": True, "key_id": found.key_id, "team_uuid": found.team_uuid},
            headers=headers,
        )

    app.include_router(router)
