"""The ``/track`` wire format: msgspec structs and module-level encoders/decoders.

A record is encoded once, at ``track()``; those bytes are what the queue stores and what every
attempt sends. A batch body is built by joining stored bytes, never by re-encoding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from ._exceptions import InvalidRecordError

__all__ = (
    "ResultItem",
    "TrackResponse",
    "WireRecord",
    "batch_body",
    "decode_response",
    "encode_record",
)


class WireRecord(msgspec.Struct, omit_defaults=True):
    """One record of ``POST /track`` (contract §3.1)."""

    service_key: str
    response_id: str
    timestamp: str
    payload: dict[str, Any]
    customer_key: str | None = None
    context: dict[str, Any] | None = None


class ResultItem(msgspec.Struct):
    """One entry of ``results`` in a ``/track`` response (contract §3.2)."""

    response_id: str | None = None
    status: str | None = None
    cost_events: list[dict[str, Any]] | None = None
    errors: list[str] | None = None


class TrackResponse(msgspec.Struct):
    """A ``/track`` response body; unknown fields are ignored."""

    results: list[ResultItem] = msgspec.field(default_factory=list)
    triggered_limits: dict[str, Any] | None = None


_encoder = msgspec.json.Encoder()
_response_decoder = msgspec.json.Decoder(TrackResponse)


def encode_record(record: WireRecord) -> bytes:
    """Encode one record to JSON bytes.

    Raises:
        InvalidRecordError: a value cannot be encoded (text with a lone surrogate, which is
            not Unicode; a type msgspec does not know).
    """
    try:
        return _encoder.encode(record)
    except UnicodeEncodeError as exc:
        raise InvalidRecordError(
            "record", "text must be valid Unicode (it contains a lone surrogate)"
        ) from exc
    except (msgspec.EncodeError, TypeError, ValueError, OverflowError) as exc:
        raise InvalidRecordError("record", f"cannot be encoded: {exc}") from exc


def batch_body(records: Sequence[bytes]) -> bytes:
    """The ``/track`` request body for already-encoded records."""
    return b'{"tracked":[' + b",".join(records) + b"]}"


def decode_response(content: bytes) -> TrackResponse | None:
    """Parse a ``/track`` response; ``None`` when the body is empty or not of that shape."""
    if not content:
        return None
    try:
        return _response_decoder.decode(content)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


_id_decoder = msgspec.json.Decoder()


def decode_record(body: bytes) -> dict[str, Any]:
    """Decode a stored record (for the queue CLI and dead-letter inspection).

    Bytes that are not JSON come back as ``{"undecodable": <text>}`` rather than raising:
    inspection tools show what is there.
    """
    try:
        value = _id_decoder.decode(body)
    except msgspec.DecodeError:
        return {"undecodable": bytes(body[:2000]).decode("utf-8", "replace")}
    return value if isinstance(value, dict) else {"value": value}
