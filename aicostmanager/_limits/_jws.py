"""Verification of the triggered-limits envelope: a JWT signed with RS256.

PyJWT (with ``cryptography``; the optional extra ``aicostmanager[limits]``) parses the token and
checks its algorithm, signature and issuer; this module adds the envelope's rules (key size,
expiry against a given clock, ``iat``, the key ids agreeing). Both are imported lazily so that
``import aicostmanager`` works without them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

__all__ = (
    "EXPECTED_ISSUER",
    "INSTALL_HINT",
    "InvalidEnvelope",
    "UnknownKey",
    "VerifiedToken",
    "peek_key_id",
    "public_key_der",
    "require_cryptography",
    "unwrap_envelope",
    "verify_token",
)

EXPECTED_ISSUER = "aicm-api"
INSTALL_HINT = 'pip install "aicostmanager[limits]"'
_ALGORITHMS = ["RS256"]
_MIN_KEY_BITS = 2048


class InvalidEnvelope(ValueError):
    """The envelope or its token is malformed, wrongly signed, expired or untrusted."""


class UnknownKey(InvalidEnvelope):
    """The envelope has no public key and none is known for its key id."""


@dataclass(frozen=True)
class VerifiedToken:
    """A token whose signature and claims were checked.

    Attributes:
        claims: the JWT claims.
        key_id: the signing key's id (header ``kid``, else the envelope's ``key_id``).
        public_key_pem: the PEM that verified the signature.
        iat: issue time (epoch seconds, may be fractional).
    """

    claims: Mapping[str, Any]
    key_id: str
    public_key_pem: str
    iat: float


def require_cryptography() -> None:
    """Import PyJWT and ``cryptography`` or explain how to install them.

    Raises:
        ImportError: either is not installed; the message is the install line.
    """
    try:
        import jwt  # noqa: F401
        from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "usage-limit enforcement needs the 'pyjwt' and 'cryptography' packages to verify "
            f"the signed triggered limits; install them with: {INSTALL_HINT}"
        ) from exc


def unwrap_envelope(data: Any) -> Mapping[str, Any] | None:
    """Return the bare envelope (``GET /triggered-limits`` may wrap it), or None when empty.

    Raises:
        InvalidEnvelope: ``data`` is neither empty nor an envelope.
    """
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise InvalidEnvelope(f"envelope must be an object, got {type(data).__name__}")
    bare: Mapping[str, Any] = data
    inner = bare.get("triggered_limits")
    if "encrypted_payload" not in bare and isinstance(inner, Mapping):
        bare = inner
    if not bare:
        return None
    if not isinstance(bare.get("encrypted_payload"), str):
        raise InvalidEnvelope("envelope has no encrypted_payload token")
    return bare


@lru_cache(maxsize=16)
def _load_public_key(pem: str) -> RSAPublicKey:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise InvalidEnvelope("public_key is not a PEM public key") from exc
    if not isinstance(key, RSAPublicKey):
        raise InvalidEnvelope("public_key is not an RSA key")
    if key.key_size < _MIN_KEY_BITS:
        raise InvalidEnvelope(f"RSA key of {key.key_size} bits is too small")
    return key


def public_key_der(pem: str) -> bytes:
    """The DER ``SubjectPublicKeyInfo`` of a PEM key (its canonical identity, for pinning).

    Raises:
        InvalidEnvelope: the PEM is not an acceptable RSA public key.
    """
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return _load_public_key(pem).public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def peek_key_id(envelope: Mapping[str, Any]) -> str | None:
    """The key id of an envelope: the token header's ``kid``, else the envelope's ``key_id``."""
    import jwt

    token = envelope.get("encrypted_payload")
    if isinstance(token, str):
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.InvalidTokenError:
            kid = None
        if isinstance(kid, str) and kid:
            return kid
    key_id = envelope.get("key_id")
    return key_id if isinstance(key_id, str) and key_id else None


def verify_token(
    envelope: Mapping[str, Any], public_key_pem: str, *, now: float | None = None
) -> VerifiedToken:
    """Verify the envelope's token with ``public_key_pem`` and check its claims.

    Checks (PyJWT): a well-formed token; ``alg == "RS256"``; the signature; ``iss``. Then:
    ``exp`` when present; ``iat`` is a number; header ``kid``, claim ``key_id`` and envelope
    ``key_id`` agree when present.

    Raises:
        InvalidEnvelope: any check failed.
    """
    import jwt

    token = envelope.get("encrypted_payload")
    if not isinstance(token, str):
        raise InvalidEnvelope("envelope has no encrypted_payload token")
    key = _load_public_key(public_key_pem)
    try:
        header = jwt.get_unverified_header(token)
        # Expiry and ``iat`` are checked below, against ``now`` (PyJWT only knows the clock).
        claims = jwt.decode(
            token,
            key,
            algorithms=_ALGORITHMS,
            issuer=EXPECTED_ISSUER,
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.InvalidAlgorithmError as exc:
        raise InvalidEnvelope(f"token algorithm {header.get('alg')!r} is not RS256") from exc
    except jwt.InvalidSignatureError as exc:
        raise InvalidEnvelope("token signature does not verify") from exc
    except jwt.InvalidIssuerError as exc:
        raise InvalidEnvelope(f"token issuer is not {EXPECTED_ISSUER!r}") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidEnvelope(f"token issuer is not {EXPECTED_ISSUER!r}") from exc
    except jwt.InvalidTokenError as exc:
        raise InvalidEnvelope(f"token is not a valid JWT: {exc}") from exc
    if not isinstance(claims, dict):  # pragma: no cover - PyJWT decodes an object
        raise InvalidEnvelope("token payload is not a JSON object")
    current = time.time() if now is None else now
    exp = claims.get("exp")
    if exp is not None:
        if isinstance(exp, bool) or not isinstance(exp, (int, float)):
            raise InvalidEnvelope("token exp is not a number")
        if exp <= current:
            raise InvalidEnvelope("token has expired")
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, (int, float)):
        raise InvalidEnvelope("token iat is missing or not a number")
    ids = {
        value
        for value in (header.get("kid"), claims.get("key_id"), envelope.get("key_id"))
        if value is not None
    }
    if len(ids) > 1:
        raise InvalidEnvelope("key ids of the header, the claims and the envelope disagree")
    key_id = next(iter(ids), "")
    if not isinstance(key_id, str):
        raise InvalidEnvelope("key id is not a string")
    if not isinstance(claims.get("triggered_limits", []), list):
        raise InvalidEnvelope("token triggered_limits is not a list")
    return VerifiedToken(claims=claims, key_id=key_id, public_key_pem=public_key_pem, iat=iat)
