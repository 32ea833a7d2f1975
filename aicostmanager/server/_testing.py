"""Test admin API (``/_testing``, no auth) and fault injection; mounted only in testing mode.

Fault rules are held in memory by :class:`TestingState` and applied by :class:`FaultMiddleware`
to requests under the API root. A ``drop`` fault aborts the TCP connection through the
transport of uvicorn's request cycle (reached via the ASGI ``receive`` callable, which Starlette
passes through unwrapped), so the client sees a connection error and no HTTP response.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import _clock
from ._auth import KeyStore, key_id_of

__all__ = ("FaultMiddleware", "FaultRule", "TestingState", "router")

router = APIRouter(prefix="/_testing", tags=["testing"])

STAT_NAMES = ("requests", "records_received", "accepted", "duplicates", "rejected")


class FaultRuleIn(BaseModel):
    """A fault to inject (see docs/server.md)."""

    model_config = ConfigDict(extra="forbid")

    path: str = "/track"
    api_key_id: str | None = None
    status: int | None = Field(default=None, ge=100, le=599)
    retry_after: str | None = None
    body: Any = None
    raw_body: str | None = None  # sent as is (with content_type) instead of JSON ``body``
    content_type: str = "application/json"
    headers: dict[str, str] | None = None  # extra response headers (e.g. ``location``)
    rate: float = Field(default=1.0, ge=0.0, le=1.0)
    count: int | None = Field(default=None, ge=1)
    duration: float | None = Field(default=None, gt=0)
    latency: float | None = Field(default=None, ge=0)
    hang: bool = False
    drop: Literal["before", "after"] | None = None


@dataclass
class FaultRule:
    """A live fault rule."""

    id: str
    spec: FaultRuleIn
    created: float = field(default_factory=time.monotonic)
    applied: int = 0
    removed: bool = False

    def expired(self) -> bool:
        """True when the rule used up its count or outlived its duration."""
        if self.removed:
            return True
        if self.spec.count is not None and self.applied >= self.spec.count:
            return True
        return (
            self.spec.duration is not None and time.monotonic() - self.created > self.spec.duration
        )

    def describe(self) -> dict[str, Any]:
        """JSON view of the rule."""
        out: dict[str, Any] = {"id": self.id, **self.spec.model_dump()}
        out["applied"] = self.applied
        return out


@dataclass
class TestingState:
    """In-memory state of the testing hooks (shared across restarts of one app object)."""

    rules: list[FaultRule] = field(default_factory=list)
    poisoned: dict[str, str] = field(default_factory=dict)
    stats: dict[str, Counter[str]] = field(default_factory=dict)
    stopping: bool = False

    def count(self, api_key_id: str, name: str, n: int = 1) -> None:
        """Add ``n`` to one counter of ``api_key_id``."""
        self.stats.setdefault(api_key_id, Counter())[name] += n

    def snapshot(self, api_key_id: str | None) -> dict[str, int]:
        """Counters of one key, or summed over all keys."""
        if api_key_id is not None:
            counters = [self.stats.get(api_key_id, Counter())]
        else:
            counters = list(self.stats.values())
        return {name: sum(c[name] for c in counters) for name in STAT_NAMES}

    def match(self, rel_path: str, api_key_id: str | None) -> FaultRule | None:
        """The first live rule applying to this request (its use is counted), or None."""
        self.rules = [r for r in self.rules if not r.expired()]
        for rule in self.rules:
            spec = rule.spec
            if spec.path != "*" and spec.path.rstrip("/") != rel_path.rstrip("/"):
                continue
            if spec.api_key_id is not None and spec.api_key_id != api_key_id:
                continue
            if spec.rate < 1.0 and random.random() >= spec.rate:
                continue
            rule.applied += 1
            return rule
        return None


def _key_id_from_headers(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return key_id_of(token.strip())
    return None


class FaultMiddleware:
    """ASGI middleware applying the fault rules to requests under the API root."""

    def __init__(self, app: ASGIApp, state: TestingState, api_prefix: str, track_path: str):
        self.app = app
        self.state = state
        self.prefix = api_prefix
        self.track_path = track_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(self.prefix + "/"):
            await self.app(scope, receive, send)
            return
        rel = path[len(self.prefix) :]
        key_id = _key_id_from_headers(scope)
        if rel.rstrip("/") == self.track_path and key_id is not None:
            self.state.count(key_id, "requests")
        rule = self.state.match(rel, key_id) if self.state.rules else None
        if rule is None:
            await self.app(scope, receive, send)
            return
        spec = rule.spec
        if spec.latency:
            await anyio.sleep(spec.latency)
        if spec.hang:
            # Polled: the condition is changed from other threads (LocalServer.stop) and by time.
            while not rule.expired() and not self.state.stopping:  # noqa: ASYNC110
                await anyio.sleep(0.05)
            if self.state.stopping:
                await _abort(receive)
                return
        if spec.drop == "before":
            await _abort(receive)
            return
        if spec.drop == "after":
            await self.app(scope, receive, _discard)
            await _abort(receive)
            return
        if spec.status is not None:
            await _send_status(send, spec)
            return
        await self.app(scope, receive, send)


async def _discard(message: Message) -> None:
    return None


async def _abort(receive: Receive) -> None:
    """Abort the TCP connection of this request, so no HTTP response is ever sent.

    Raises:
        RuntimeError: the server is not uvicorn (no transport reachable).
    """
    cycle = getattr(receive, "__self__", None)
    transport: asyncio.Transport | None = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError("drop faults need uvicorn's h11 or httptools protocol")
    transport.abort()
    # connection_lost() runs on a later loop iteration; once it has, uvicorn knows the client
    # is gone and does not try to answer 500 for a request that returned without a response.
    with anyio.move_on_after(1):
        while not getattr(cycle, "disconnected", True):  # noqa: ASYNC110
            await anyio.sleep(0.001)


async def _send_status(send: Send, spec: FaultRuleIn) -> None:
    if spec.raw_body is not None:
        content = spec.raw_body.encode()
    else:
        body = spec.body if spec.body is not None else {"detail": f"injected fault {spec.status}"}
        content = json.dumps(body).encode()
    headers = [
        (b"content-type", spec.content_type.encode("latin-1")),
        (b"content-length", str(len(content)).encode()),
    ]
    for name, value in (spec.headers or {}).items():
        headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
    if spec.retry_after is not None:
        headers.append((b"retry-after", spec.retry_after.encode("latin-1")))
    await send({"type": "http.response.start", "status": spec.status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


def _state(request: Request) -> TestingState:
    state: TestingState = request.app.state.testing
    return state


class NewKeyIn(BaseModel):
    """Body of ``POST /_testing/api-keys``."""

    model_config = ConfigDict(extra="forbid")
    team_uuid: str | None = None


class PoisonIn(BaseModel):
    """Body of ``POST /_testing/poison``."""

    model_config = ConfigDict(extra="forbid")
    response_ids: list[str]
    reason: str = "poison record"


class ClockIn(BaseModel):
    """Body of ``POST /_testing/clock``."""

    model_config = ConfigDict(extra="forbid")
    offset_seconds: float


@router.post("/api-keys", status_code=201)
async def create_api_key(request: Request, body: NewKeyIn | None = None) -> dict[str, str]:
    """Mint a new API key (a new team unless ``team_uuid`` is given)."""
    store: KeyStore = request.app.state.keys
    key, identity = await store.mint(body.team_uuid if body else None)
    return {"api_key": key, "api_key_id": identity.key_id, "team_uuid": identity.team_uuid}


@router.post("/faults", status_code=201)
async def add_fault(request: Request, body: FaultRuleIn) -> dict[str, str]:
    """Add a fault rule; returns its id."""
    if not (body.status or body.latency or body.hang or body.drop):
        raise HTTPException(422, "a fault needs one of status, latency, hang or drop")
    rule = FaultRule(id=uuid.uuid4().hex, spec=body)
    _state(request).rules.append(rule)
    return {"id": rule.id}


@router.get("/faults")
async def list_faults(request: Request) -> list[dict[str, Any]]:
    """The live fault rules."""
    state = _state(request)
    state.rules = [r for r in state.rules if not r.expired()]
    return [r.describe() for r in state.rules]


@router.delete("/faults", status_code=204)
async def clear_faults(request: Request) -> None:
    """Remove every fault rule (hung requests are released)."""
    state = _state(request)
    for rule in state.rules:
        rule.removed = True
    state.rules = []


@router.delete("/faults/{rule_id}", status_code=204)
async def delete_fault(request: Request, rule_id: str) -> None:
    """Remove one fault rule.

    Raises:
        HTTPException: 404 when no such rule is live.
    """
    state = _state(request)
    for rule in state.rules:
        if rule.id == rule_id:
            rule.removed = True
            state.rules.remove(rule)
            return
    raise HTTPException(404, "no such fault rule")


@router.post("/poison")
async def poison(request: Request, body: PoisonIn) -> dict[str, int]:
    """Make these response ids always fail with ``reason``."""
    state = _state(request)
    for rid in body.response_ids:
        state.poisoned[rid] = body.reason
    return {"poisoned": len(state.poisoned)}


@router.get("/stats")
async def stats(request: Request, api_key_id: str | None = None) -> dict[str, int]:
    """Counters of ``/track`` traffic, for one key or all."""
    return _state(request).snapshot(api_key_id)


@router.post("/clock")
async def set_clock(body: ClockIn) -> dict[str, float]:
    """Shift the server clock by an absolute offset (seconds)."""
    _clock.set_offset(body.offset_seconds)
    return {"offset_seconds": _clock.get_offset(), "now": _clock.now_ts()}
