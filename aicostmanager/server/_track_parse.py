"""Parsing and validation of a ``POST /track`` body into :class:`Record` objects.

Envelope problems (invalid JSON, wrong shape, no records, too many) fail the whole request;
a record's own problems land in its ``errors`` and it is answered ``status: error``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

import msgspec

from ._pricing import split_service_key

__all__ = (
    "MAX_DEPTH",
    "EnvelopeError",
    "Record",
    "WireRecord",
    "parse_body",
    "parse_envelope",
    "parse_record",
    "parse_timestamp",
    "record_of",
)

_RECORD_FIELDS = frozenset(
    {"service_key", "response_id", "timestamp", "payload", "customer_key", "context"}
)
_ENVELOPE_FIELDS = frozenset({"tracked", "skip_limits"})
_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode
MAX_DEPTH = 32
"""Deepest nesting of a record's ``payload`` or ``context`` (usage objects nest 2 or 3)."""


class WireRecord(msgspec.Struct, forbid_unknown_fields=True):
    """One record with every field of the expected type (its values are checked later)."""

    service_key: str
    response_id: str
    timestamp: str | int | float | None = None
    payload: dict[str, Any] | None = None
    customer_key: str | None = None
    context: dict[str, Any] | None = None


class _WireEnvelope(msgspec.Struct, forbid_unknown_fields=True):
    tracked: list[WireRecord]
    skip_limits: bool = False


_decode_wire = msgspec.json.Decoder(_WireEnvelope).decode


class EnvelopeError(Exception):
    """The request envelope is invalid (answered 422, or 413 when it has too many records)."""

    def __init__(self, detail: str, status: int = 422) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


@dataclass(slots=True)
class Record:
    """One record of a batch as validated, then priced (``status``, ``costs``)."""

    index: int
    response_id: str
    missing_id: bool = False
    service_key: str | None = None
    vendor: str | None = None
    ts: float = 0.0
    customer_key: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    payload_json: str = "{}"
    context: dict[str, Any] | None = None
    context_json: str | None = None
    errors: list[str] = field(default_factory=list)
    status: str = "error"
    costs: list[dict[str, str]] = field(default_factory=list)
    picos: list[int | None] = field(default_factory=list)  # each cost line's, when known
    pricing: str | None = None  # JSON of how it was priced (usage_events.pricing)
    flags: int = 0  # usage_events.flags
    duplicate_of: int | None = None


def parse_timestamp(value: Any, default: float) -> float:
    """Epoch seconds from a string/number of epoch seconds or an ISO 8601 string.

    Raises:
        ValueError: the value is neither, or lies outside years 1970 to 9999.
    """
    if value is None:
        return default
    if isinstance(value, bool):
        raise ValueError("timestamp must be a string or a number")
    if isinstance(value, (int, float)):
        return _in_range(float(value), value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError("timestamp must be a string or a number")
    text = value.strip()
    try:
        return _in_range(float(text), value)
    except ValueError as exc:
        if "out of range" in str(exc):
            raise
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"timestamp {value!r} is neither epoch seconds nor ISO 8601") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return _in_range(parsed.timestamp(), value)


_MAX_TS = 253402300799.0  # 9999-12-31T23:59:59Z, the last instant datetime can show


def _in_range(ts: float, original: Any) -> float:
    if not 0.0 <= ts <= _MAX_TS:  # also rejects NaN
        raise ValueError(f"timestamp {original!r} is out of range (years 1970 to 9999)")
    return ts


def parse_body(
    body: bytes, max_batch: int, now: float, poisoned: Mapping[str, str] | None
) -> tuple[list[Record], bool]:
    """The validated records and the ``skip_limits`` flag of a ``/track`` body.

    A body whose every record has the expected field types (what the SDK sends) is decoded
    straight into :class:`WireRecord` structs; any other body takes the general path
    (:func:`parse_envelope`, :func:`parse_record`), which says what is wrong per record. Both
    give the same records and errors for the bodies the first accepts.

    Raises:
        EnvelopeError: as :func:`parse_envelope`.
    """
    try:
        envelope = _decode_wire(body)
    except (msgspec.DecodeError, RecursionError):
        tracked, skip_limits = parse_envelope(body, max_batch)
        return [parse_record(i, raw, now, poisoned) for i, raw in enumerate(tracked)], skip_limits
    _check_count(len(envelope.tracked), max_batch)
    return [
        record_of(i, wire, now, poisoned) for i, wire in enumerate(envelope.tracked)
    ], envelope.skip_limits


def _check_count(count: int, max_batch: int) -> None:
    if not count:
        raise EnvelopeError("'tracked' must hold at least one record")
    if count > max_batch:
        raise EnvelopeError(f"too many records: {count} > {max_batch} per request", status=413)


def parse_envelope(body: bytes, max_batch: int) -> tuple[list[Any], bool]:
    """The ``tracked`` list and the ``skip_limits`` flag of a request body.

    The body's size is capped before this runs (:mod:`._body_limit`).

    Raises:
        EnvelopeError: invalid JSON, nested too deeply, wrong shape, empty, or more than
            ``max_batch`` records (413).
    """
    try:
        doc = _decode(body)
    except msgspec.DecodeError as exc:
        raise EnvelopeError(f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise EnvelopeError("request body is nested too deeply") from None
    if not isinstance(doc, dict):
        raise EnvelopeError("request body must be a JSON object")
    extra = doc.keys() - _ENVELOPE_FIELDS
    if extra:
        raise EnvelopeError(f"unexpected field(s): {', '.join(sorted(extra))}")
    tracked = doc.get("tracked")
    if not isinstance(tracked, list):
        raise EnvelopeError("'tracked' must be a list of records")
    _check_count(len(tracked), max_batch)
    skip_limits = doc.get("skip_limits", False)
    if not isinstance(skip_limits, bool):
        raise EnvelopeError("'skip_limits' must be a boolean")
    return tracked, skip_limits


def parse_record(index: int, raw: Any, now: float, poisoned: Mapping[str, str] | None) -> Record:
    """Validate one raw record; problems land in ``errors``.

    ``poisoned`` is None outside testing mode; in testing mode it maps poisoned response ids
    to their reason, and the ``poison`` vendor is rejected too.
    """
    if not isinstance(raw, dict):
        rec = Record(index, f"UNKNOWN-RESPONSE-{index}", missing_id=True)
        rec.errors.append("record must be a JSON object")
        return rec
    rid = raw.get("response_id")
    if rid is None or rid == "":
        rec = Record(index, f"UNKNOWN-RESPONSE-{index}", missing_id=True)
        rec.errors.append("Missing response_id.")
    elif not isinstance(rid, str):
        rec = Record(index, f"UNKNOWN-RESPONSE-{index}", missing_id=True)
        rec.errors.append("response_id must be a string")
    else:
        rec = Record(index, rid)
    errors = rec.errors
    extra = raw.keys() - _RECORD_FIELDS
    if extra:
        errors.append(f"unexpected field(s): {', '.join(sorted(extra))}")
    sk = raw.get("service_key")
    if sk is None:
        errors.append("Missing service_key.")
    elif not isinstance(sk, str):
        errors.append("service_key must be a string")
    else:
        parts = split_service_key(sk)
        if parts is None:
            errors.append(f"service_key {sk!r} must look like 'vendor::service'")
        else:
            rec.service_key = sk
            rec.vendor = parts[0]
    payload = raw.get("payload")
    if payload is None:
        rec.payload = {}
    elif not isinstance(payload, dict):
        errors.append("payload must be a JSON object")
    else:
        _store_json(rec, "payload", payload)
    try:
        rec.ts = parse_timestamp(raw.get("timestamp"), now)
    except ValueError as exc:
        errors.append(str(exc))
    ck = raw.get("customer_key")
    if ck is not None and not isinstance(ck, str):
        errors.append("customer_key must be a string")
    else:
        rec.customer_key = ck
    ctx = raw.get("context")
    if ctx is not None:
        if not isinstance(ctx, dict):
            errors.append("context must be a JSON object")
        else:
            _store_json(rec, "context", ctx)
    _check_poisoned(rec, poisoned)
    return rec


def record_of(
    index: int, wire: WireRecord, now: float, poisoned: Mapping[str, str] | None
) -> Record:
    """:func:`parse_record` of a record whose field types are already checked (same errors)."""
    rid = wire.response_id
    if rid:
        rec = Record(index, rid)
    else:
        rec = Record(index, f"UNKNOWN-RESPONSE-{index}", missing_id=True)
        rec.errors.append("Missing response_id.")
    errors = rec.errors
    sk = wire.service_key
    vendor, sep, service = sk.partition("::")
    if not sep or not vendor or not service:
        errors.append(f"service_key {sk!r} must look like 'vendor::service'")
    else:
        rec.service_key = sk
        rec.vendor = vendor
    if wire.payload:
        _store_json(rec, "payload", wire.payload)
    ts = wire.timestamp
    if ts is None:
        rec.ts = now
    else:
        try:
            rec.ts = parse_timestamp(ts, now)
        except ValueError as exc:
            errors.append(str(exc))
    rec.customer_key = wire.customer_key
    if wire.context is not None:
        _store_json(rec, "context", wire.context)
    _check_poisoned(rec, poisoned)
    return rec


def _store_json(rec: Record, name: Literal["payload", "context"], value: dict[str, Any]) -> None:
    """Keep ``value`` and its JSON text on ``rec``, or record an error when it nests deeper
    than :data:`MAX_DEPTH` (not stored: every later read of it would recurse that deep too)."""
    encoded = _encode(value)
    if _may_nest_deeper(encoded) and _deeper_than(value, MAX_DEPTH):
        rec.errors.append(f"{name} nests deeper than {MAX_DEPTH} levels")
    elif name == "payload":
        rec.payload, rec.payload_json = value, encoded.decode()
    else:
        rec.context, rec.context_json = value, encoded.decode()


def _check_poisoned(rec: Record, poisoned: Mapping[str, str] | None) -> None:
    """Testing mode: the ``poison`` vendor and poisoned response ids are refused."""
    if poisoned is None:
        return
    if rec.vendor == "poison":
        rec.errors.append("poison record")
    elif rec.response_id in poisoned and not rec.missing_id:
        rec.errors.append(poisoned[rec.response_id])


def _may_nest_deeper(encoded: bytes) -> bool:
    """False when the JSON text has too few brackets to nest deeper than :data:`MAX_DEPTH`
    (brackets inside strings only make this answer True more often, never wrongly False)."""
    return encoded.count(b"{") + encoded.count(b"[") > MAX_DEPTH


def _deeper_than(value: dict[str, Any], limit: int) -> bool:
    """Whether objects and arrays nest more than ``limit`` levels in ``value`` (iterative)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False
