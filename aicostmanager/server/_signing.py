"""The server's RSA signing key and RS256 signing (PyJWT) of triggered-limit tokens.

Table ``signing_keys``: ``key_id`` (first 16 hex digits of the SHA-256 of the public key's DER),
``private_pem`` (PKCS#8, unencrypted: this is a local test server), ``public_pem``,
``created_at``. The key pair is generated once, on first use, and reused across restarts.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread
import jwt
import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from . import _clock
from ._db import Database, Row

__all__ = ("SCHEMA", "Signer", "get_signer")

SCHEMA = """
CREATE TABLE IF NOT EXISTS signing_keys (
    key_id      TEXT PRIMARY KEY,
    private_pem TEXT NOT NULL,
    public_pem  TEXT NOT NULL,
    created_at  REAL NOT NULL
);
"""

# Decimals as exact JSON numbers (the contract's ``amount`` is a number): the claims are
# encoded here and PyJWT signs those bytes as they are.
_encoder = msgspec.json.Encoder(decimal_format="number")
_jws = jwt.PyJWS()


@dataclass
class Signer:
    """Signs claims with the server's RSA key."""

    key_id: str
    public_pem: str
    private_key: rsa.RSAPrivateKey = field(repr=False)

    @classmethod
    def from_pem(cls, key_id: str, private_pem: str, public_pem: str) -> Signer:
        """Load a stored key pair.

        Raises:
            ValueError: the stored PEM is not an RSA private key.
        """
        key = serialization.load_pem_private_key(private_pem.encode("ascii"), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("stored signing key is not an RSA key")
        return cls(key_id=key_id, public_pem=public_pem, private_key=key)

    def sign(self, claims: Mapping[str, Any]) -> str:
        """A JWT (RS256) of ``claims``, header ``kid`` = :attr:`key_id`."""
        return _jws.encode(
            _encoder.encode(dict(claims)),
            self.private_key,
            algorithm="RS256",
            headers={"typ": "JWT", "kid": self.key_id},
        )


def _generate() -> tuple[str, str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    public = key.public_key()
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public_pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")
    return hashlib.sha256(der).hexdigest()[:16], private_pem, public_pem


_signers: weakref.WeakKeyDictionary[Database, Signer] = weakref.WeakKeyDictionary()
_locks: weakref.WeakKeyDictionary[Database, anyio.Lock] = weakref.WeakKeyDictionary()


async def get_signer(db: Database) -> Signer:
    """The signer of this database, loading or generating (once) its key pair.

    Raises:
        ValueError: the stored key is unusable.
    """
    signer = _signers.get(db)
    if signer is not None:
        return signer
    lock = _locks.setdefault(db, anyio.Lock())
    async with lock:
        signer = _signers.get(db)
        if signer is not None:
            return signer
        query = (
            "SELECT key_id, private_pem, public_pem FROM signing_keys"
            " ORDER BY created_at, key_id LIMIT 1"
        )
        row = await db.fetchone(query)
        if row is None:
            key_id, private_pem, public_pem = await anyio.to_thread.run_sync(_generate)

            async def store_once() -> Row | None:
                # Under a lock shared by every server on the database, looked for again
                # inside: of servers starting at once, the first stores its key and the
                # others adopt it. Read back on the writer, in this transaction: a reader
                # may still hold an older snapshot, which would not show the new row.
                found = await db.fetchone(query)
                if found is not None:
                    return found
                await db.execute(
                    "INSERT INTO signing_keys (key_id, private_pem, public_pem, created_at)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (key_id, private_pem, public_pem, _clock.now_ts()),
                )
                return await db.fetchone(query)

            row = await db.run_transaction(store_once, team="aicostmanager:signing-key")
            if row is None:  # pragma: no cover - the transaction reads its own insert
                raise RuntimeError("the signing key just stored cannot be read back")
        signer = Signer.from_pem(str(row[0]), str(row[1]), str(row[2]))
        _signers[db] = signer
        return signer
