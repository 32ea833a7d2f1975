"""Helpers of the limits tests: a per-key API client, a test token signer, event factory."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.hashes import SHA256

SERVICE = "openai::gpt-4o-mini"
USAGE = {"input_tokens": 100, "output_tokens": 50}
"""One record of this usage costs 0.000045 on the local server."""
COST = "0.000045"


def b64(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def claims_of(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """The (unverified) claims of an envelope's token."""
    part = envelope["encrypted_payload"].split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return claims


class Api:
    """Plain-httpx access to the local server for one API key."""

    def __init__(self, api_root: str, api_key: str) -> None:
        self.api_key = api_key
        self.key_id = api_key.rsplit(".", 1)[1]
        self.http = httpx.Client(
            base_url=api_root, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
        )

    def create_limit(self, **body: Any) -> dict[str, Any]:
        """POST /usage-limits/ and return the created limit."""
        response = self.http.post("/usage-limits/", json=body)
        assert response.status_code in (200, 201), response.text
        created: dict[str, Any] = response.json()
        return created

    def track(
        self, service_key: str = SERVICE, customer_key: str | None = None, count: int = 1
    ) -> dict[str, Any]:
        """POST /track with ``count`` records; returns the response body."""
        records = []
        for _ in range(count):
            record: dict[str, Any] = {
                "service_key": service_key,
                "response_id": uuid.uuid4().hex,
                "payload": USAGE,
            }
            if customer_key is not None:
                record["customer_key"] = customer_key
            records.append(record)
        response = self.http.post("/track", json={"tracked": records})
        assert response.status_code == 202, response.text
        body: dict[str, Any] = response.json()
        assert all(r["status"] == "completed" for r in body["results"]), body
        return body

    def triggered(self) -> dict[str, Any]:
        """GET /triggered-limits."""
        response = self.http.get("/triggered-limits")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def make_event(**overrides: Any) -> dict[str, Any]:
    """A triggered-limit event (a blocking limit on SERVICE, expiring in a day)."""
    now = datetime.now(timezone.utc)
    event: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "limit_id": str(uuid.uuid4()),
        "threshold_type": "limit",
        "amount": 1.5,
        "period": "day",
        "limit_context": "key",
        "limit_message": None,
        "service_key": SERVICE,
        "customer_key": None,
        "api_key_id": None,
        "triggered_at": now.isoformat(),
        "expires_at": (now + timedelta(days=1)).isoformat(),
    }
    event.update(overrides)
    return event


class Signer:
    """Signs envelopes like the server does, with its own RSA key (for verification tests)."""

    def __init__(self, key_id: str = "test-key") -> None:
        self.key_id = key_id
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_pem = (
            self.key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii")
        )

    def token(self, claims: Mapping[str, Any], *, alg: str = "RS256") -> str:
        """A compact JWS of ``claims``."""
        header = b64(json.dumps({"alg": alg, "typ": "JWT", "kid": self.key_id}).encode())
        payload = b64(json.dumps(dict(claims)).encode())
        signature = self.key.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), SHA256())
        return f"{header}.{payload}.{b64(signature)}"

    def envelope(
        self,
        events: Sequence[Mapping[str, Any]],
        *,
        iat: float | None = None,
        public_key: bool = True,
        **extra_claims: Any,
    ) -> dict[str, Any]:
        """A signed envelope carrying ``events``."""
        claims: dict[str, Any] = {
            "iss": "aicm-api",
            "sub": "k",
            "iat": time.time() if iat is None else iat,
            "jti": uuid.uuid4().hex,
            "version": "v1",
            "key_id": self.key_id,
            "triggered_limits": list(events),
        }
        claims.update(extra_claims)
        envelope: dict[str, Any] = {
            "version": "v1",
            "key_id": self.key_id,
            "encrypted_payload": self.token(claims),
        }
        if public_key:
            envelope["public_key"] = self.public_pem
        return envelope
