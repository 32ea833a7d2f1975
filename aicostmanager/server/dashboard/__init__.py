"""The cost dashboard: a page at ``/`` that reads the ``/spend/...`` and other REST endpoints.

Sign-in exchanges an API key (sent once, in a POST body) for a random session token kept in an
HttpOnly, SameSite=Strict cookie; that cookie authenticates read-only (GET) API requests only.
Sessions live in the database (:mod:`._sessions`), so any server process can answer them.
Sign-in and sign-out accept only same-origin JSON requests (:func:`cross_site_refusal`).
The page and its assets ship inside the package: nothing is fetched from elsewhere, and the
Content-Security-Policy forbids it.
"""

from __future__ import annotations

from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from .._auth import SESSION_COOKIE, KeyStore, hash_secret
from .._db import Database
from ._sessions import SCHEMA, SESSION_SECONDS, Sessions

__all__ = ("SCHEMA", "Sessions", "cross_site_refusal", "mount")

# Fetch metadata values of a request the page itself (or the user, typing a URL) made.
_OWN_SITE = frozenset({"same-origin", "none"})
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def cross_site_refusal(request: Request) -> str | None:
    """Why a state-changing dashboard request must be refused as possibly cross-site, or None.

    The session cookie is SameSite=Strict, but sign-in sets a cookie (a forged sign-in puts the
    victim in the attacker's team) and sign-out drops one, so both must come from the page
    itself: a JSON body (another origin cannot send one without a CORS preflight, which this
    server never grants), ``Sec-Fetch-Site`` same-origin or none when the browser sends it,
    and an ``Origin`` (when sent) naming this very host.
    """
    content_type = request.headers.get("content-type", "")
    if content_type.partition(";")[0].strip().lower() != "application/json":
        return "Content-Type must be application/json"
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site.lower() not in _OWN_SITE:
        return "cross-site request refused"
    origin = request.headers.get("origin")
    if origin is not None:
        host = request.headers.get("host", "").lower()
        if origin == "null" or urlsplit(origin).netloc.lower() != host:
            return "cross-origin request refused"
    return None


def _refused(reason: str) -> JSONResponse:
    return JSONResponse({"detail": reason}, status_code=403, headers={"Cache-Control": "no-store"})


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


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
        refusal = cross_site_refusal(request)
        if refusal is not None:
            return _refused(refusal)
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
        sessions: Sessions = request.app.state.sessions
        token = await sessions.create(_db(request), found, hash_secret(key.strip()))
        response = Response(status_code=204, headers={"Cache-Control": "no-store"})
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=SESSION_SECONDS,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    @router.post("/dashboard/logout")
    async def logout(request: Request) -> Response:
        refusal = cross_site_refusal(request)
        if refusal is not None:
            return _refused(refusal)
        sessions: Sessions = request.app.state.sessions
        await sessions.drop(_db(request), request.cookies.get(SESSION_COOKIE, ""))
        response = Response(status_code=204)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return response

    @router.get("/dashboard/session")
    async def session(request: Request) -> Response:
        sessions: Sessions = request.app.state.sessions
        found = await sessions.get(_db(request), request.cookies.get(SESSION_COOKIE, ""))
        if found is None:
            return JSONResponse({"signed_in": False}, headers=headers)
        return JSONResponse(
            {"signed_in": True, "key_id": found.key_id, "team_uuid": found.team_uuid},
            headers=headers,
        )

    app.include_router(router)
