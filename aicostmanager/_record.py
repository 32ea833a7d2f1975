"""Building a usage record: validation, identity, timestamps, anonymization. Pure, no I/O.

Everything a caller can get wrong is checked here, before anything is enqueued or sent, and
reported as ``InvalidRecordError`` naming the field.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from random import getrandbits as _random_bits
from typing import Any, NamedTuple, TypedDict

from ._exceptions import BatchSizeLimitExceeded, InvalidRecordError
from ._service_key import plain_str as _plain_str
from ._service_key import validate_service_key
from ._wire import WireRecord, encode_record

__all__ = (
    "MAX_BATCH_RECORDS",
    "MAX_RECORD_BYTES",
    "RECORD_ARG_NAMES",
    "Anonymizer",
    "BuiltRecord",
    "RecordArgs",
    "RecordDefaults",
    "build_batch",
    "build_record",
    "check_text",
    "check_usage",
    "checked_context",
    "default_anonymizer",
    "field_names",
    "unknown_record_args",
)

MAX_RECORD_BYTES = 64 * 1024
"""Largest encoded record accepted by ``track()``."""

MAX_DEPTH = 16
MAX_KEY_LENGTH = 256
MAX_STRING_LENGTH = 16 * 1024
MAX_INT = 2**63 - 1
"""Largest integer (and float) a record may carry: the signed 64-bit range of most stores."""
MIN_INT = -(2**63)
_MIN_TIMESTAMP = 946_684_800.0  # 2000-01-01T00:00:00Z
_MAX_FUTURE_SECONDS = 86_400.0

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

Anonymizer = Callable[[Any], Any]

# The 80 bits after the timestamp: version 7 in the first nibble, variant 0b10 in the fifth.
_UUID7_TAIL_MASK = 0x0FFF3FFFFFFFFFFFFFFF
_UUID7_TAIL_BITS = 0x70008000000000000000
_time_ns = time.time_ns


def new_response_id() -> str:
    """A UUIDv7 (RFC 9562) as 32 hex digits: 48 bits of Unix milliseconds, then random bits.

    The shape of ``uuid4().hex`` (what 0.3 sent), but ids made later sort later, so a server's
    index on them grows at its end instead of being rewritten all over. ``random`` is seeded
    from the OS and re-seeded in a forked child, so ids stay unique across processes; they
    identify events, they are not secrets.
    """
    tail = _random_bits(80) & _UUID7_TAIL_MASK | _UUID7_TAIL_BITS
    return "%012x%020x" % (_time_ns() // 1_000_000, tail)  # noqa: UP031 - 152 ns, an f-string 222


def check_text(field: str, value: object, limit: int = MAX_KEY_LENGTH) -> str:
    """A non-empty single-line string of at most ``limit`` characters, as plain ``str``.

    Raises:
        InvalidRecordError: otherwise.
    """
    if not isinstance(value, str):
        raise InvalidRecordError(field, f"must be a string, not {type(value).__name__}")
    if not value or len(value) > limit:
        raise InvalidRecordError(field, f"must be 1 to {limit} characters long")
    if _CONTROL.search(value):
        raise InvalidRecordError(field, "must not contain control characters")
    return _plain_str(value)


_COUNT_NAMES: dict[str, bool] = {}


def _is_count(key: str) -> bool:
    """Whether a usage field holds a count.

    Its name contains ``tokens`` (any case), is ``count``, or ends in ``_count`` / ``Count``:
    ``input_tokens``, ``cacheReadInputTokens``, ``promptTokenCount``, ``token_count``; not
    ``tokenizer`` or ``account``.
    """
    known = _COUNT_NAMES.get(key)
    if known is None:
        known = (
            "tokens" in key.lower()
            or key.lower() == "count"
            or key.endswith(("_count", "Count", "_COUNT"))
        )
        if len(_COUNT_NAMES) < 4096:
            _COUNT_NAMES[key] = known
    return known


class _Budget:
    """What is left of ``MAX_RECORD_BYTES`` while a value is walked.

    Every value costs at least one encoded byte and every character at least one, so a
    container or a string that exceeds what is left cannot fit in a record: it is refused
    before it is walked (a usage dict with a million keys costs one ``len()``).
    """

    __slots__ = ("field", "left")

    def __init__(self, field: str) -> None:
        self.field = field
        self.left = MAX_RECORD_BYTES

    def spend(self, amount: int) -> None:
        self.left = left = self.left - amount
        if left < 0:
            raise InvalidRecordError(
                self.field, f"too large: a record may take at most {MAX_RECORD_BYTES} bytes"
            )


def _check_number(field: str, value: int | float, *, usage: bool, count: bool) -> None:
    if type(value) is float:
        if not math.isfinite(value):
            raise InvalidRecordError(field, f"must be a finite number, got {value}")
        if count and not value.is_integer():
            raise InvalidRecordError(field, f"is a count and must be a whole number, got {value}")
    low = 0 if usage else MIN_INT
    if not low <= value <= MAX_INT:
        if usage and value < 0:
            raise InvalidRecordError(field, f"must not be negative, got {value}")
        raise InvalidRecordError(field, f"must lie between {low} and 2**63-1")


def _check_json(
    field: str, value: Any, depth: int, budget: _Budget, *, usage: bool, count: bool = False
) -> Any:
    """Check a JSON-able value; returns it (mappings copied to plain dicts, str subclasses to str).

    In ``usage`` every number must lie in ``[0, 2**63-1]``; under a count field (see
    ``_is_count``) only whole numbers (or ``None``) are allowed, no text and no booleans.
    """
    kind = type(value)
    if kind is int or kind is float:
        _check_number(field, value, usage=usage, count=count)
        return value
    if kind is str or isinstance(value, str):
        if count:
            raise InvalidRecordError(field, "is a count and must be a number, not text")
        if len(value) > MAX_STRING_LENGTH:
            raise InvalidRecordError(field, f"string longer than {MAX_STRING_LENGTH} characters")
        budget.spend(len(value))
        return _plain_str(value)
    if value is None:
        return value
    if kind is bool:
        if count:
            raise InvalidRecordError(field, "is a count and must be a number, not a boolean")
        return value
    if depth >= MAX_DEPTH:
        raise InvalidRecordError(field, f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, Mapping):
        return _check_mapping(field, value, depth + 1, budget, usage=usage)
    if isinstance(value, (list, tuple)):
        budget.spend(len(value))
        return [
            _check_json(f"{field}[{i}]", item, depth + 1, budget, usage=usage, count=count)
            for i, item in enumerate(value)
        ]
    if isinstance(value, int) and not isinstance(value, bool):
        return _check_json(field, int(value), depth, budget, usage=usage, count=count)
    if isinstance(value, float):
        return _check_json(field, float(value), depth, budget, usage=usage, count=count)
    raise InvalidRecordError(field, f"{type(value).__name__} is not JSON-serialisable")


def _check_mapping(
    field: str, value: Mapping[Any, Any], depth: int, budget: _Budget, *, usage: bool
) -> dict[str, Any]:
    budget.spend(len(value))
    low = 0 if usage else MIN_INT
    key_chars = 0
    out: dict[str, Any] = {}
    for key, item in value.items():
        if type(key) is not str:
            if not isinstance(key, str):
                raise InvalidRecordError(field, f"keys must be strings, got {type(key).__name__}")
            key = _plain_str(key)
        if not key or len(key) > MAX_KEY_LENGTH:
            raise InvalidRecordError(field, f"keys must be 1 to {MAX_KEY_LENGTH} characters")
        key_chars += len(key)
        kind = type(item)
        if kind is int and low <= item <= MAX_INT:  # the common case: a token count
            out[key] = item
            continue
        # The next common cases (a provider's ``*_details`` dict, a ``service_tier`` text)
        # skip ``_check_json``'s dispatch; what they check is the same.
        if kind is dict and depth < MAX_DEPTH:
            out[key] = _check_mapping(f"{field}.{key}", item, depth + 1, budget, usage=usage)
            continue
        if kind is str and len(item) <= MAX_STRING_LENGTH and not (usage and _is_count(key)):
            budget.spend(len(item))
            out[key] = item
            continue
        out[key] = _check_json(
            f"{field}.{key}", item, depth, budget, usage=usage, count=usage and _is_count(key)
        )
    budget.spend(key_chars)  # after the loop: len(value) above already bounds its length
    return out


def _as_mapping(field: str, value: object) -> Mapping[Any, Any]:
    if isinstance(value, Mapping):
        return value
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            dumped = dump(mode="json", exclude_none=True)
        except Exception as exc:  # the caller's model could not serialise itself
            raise InvalidRecordError(
                field, f"{type(value).__name__}.model_dump() failed: {type(exc).__name__}"
            ) from exc
        if isinstance(dumped, Mapping):
            return dumped
    raise InvalidRecordError(field, f"must be a mapping, not {type(value).__name__}")


def check_usage(usage: object) -> dict[str, Any]:
    """Validate a usage payload; returns a plain-dict copy.

    Raises:
        InvalidRecordError: see ``docs/configuration.md`` ("What a record may carry").
    """
    payload = _check_mapping("usage", _as_mapping("usage", usage), 1, _Budget("usage"), usage=True)
    if not payload:
        raise InvalidRecordError("usage", "must not be empty")
    return payload


def _epoch(value: object) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 64:
            raise ValueError("too long")
        try:
            return float(text)
        except ValueError:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    raise TypeError(type(value).__name__)


def format_timestamp(value: object, now: float) -> str:
    """Validate a timestamp (``datetime``, ISO 8601 text, epoch seconds) to epoch-seconds text.

    Naive datetimes and ISO strings without an offset are taken as local time, as Python does.

    Raises:
        InvalidRecordError: not a time, out of range, or more than a day in the future.
    """
    if value is None:
        seconds = now
    elif isinstance(value, bool) or not isinstance(value, (datetime, int, float, str)):
        raise InvalidRecordError(
            "timestamp",
            f"must be a datetime, ISO 8601 text or epoch seconds, not {type(value).__name__}",
        )
    else:
        try:
            seconds = _epoch(value)
        except ValueError:
            text = value[:40] if isinstance(value, str) else value
            raise InvalidRecordError(
                "timestamp", f"{text!r} is neither ISO 8601 nor epoch seconds"
            ) from None
        except (OverflowError, OSError):
            seconds = math.inf  # 10**400, year 9999 on some platforms: out of range below
    if not math.isfinite(seconds) or seconds < _MIN_TIMESTAMP:
        raise InvalidRecordError("timestamp", "must be a finite time after 2000-01-01")
    if seconds > now + _MAX_FUTURE_SECONDS:
        raise InvalidRecordError("timestamp", "must not be more than a day in the future")
    return "%.6f" % seconds  # noqa: UP031 - the same spelling as the default timestamp's


def default_anonymizer(value: Any) -> Any:
    """Replace text with ``"[REDACTED]"`` at any depth; numbers and booleans are kept."""
    if isinstance(value, (str, bytes)):
        return "[REDACTED]"
    if isinstance(value, Mapping):
        return {k: default_anonymizer(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [default_anonymizer(v) for v in value]
    return value


def _anonymize(
    value: Any, fields: Collection[str], anonymizer: Anonymizer, field: str, depth: int
) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in fields:
                try:
                    replaced = anonymizer(item)
                except Exception:  # fail closed: never send the original value
                    out[key] = "[REDACTED]"
                    continue
                # What an anonymizer returns obeys the same rules as what the caller gave.
                out[key] = _check_json(
                    f"{field}.{key}",
                    replaced,
                    depth,
                    _Budget(field),
                    usage=True,
                    count=_is_count(key),
                )
            else:
                out[key] = _anonymize(item, fields, anonymizer, f"{field}.{key}", depth + 1)
        return out
    if isinstance(value, list):
        return [
            _anonymize(item, fields, anonymizer, f"{field}[{i}]", depth + 1)
            for i, item in enumerate(value)
        ]
    return value


def field_names(field: str, names: object) -> frozenset[str]:
    """Normalise ``anonymize_fields``: one name (a ``str``) or a collection of names.

    Raises:
        InvalidRecordError: not a string nor a collection of non-empty strings.
    """
    if names is None:
        return frozenset()
    if isinstance(names, str):
        names = (names,)
    if not isinstance(names, Iterable) or isinstance(names, (bytes, Mapping)):
        raise InvalidRecordError(
            field, f"must be a field name or a collection of names, not {type(names).__name__}"
        )
    out: set[str] = set()
    for name in names:
        out.add(check_text(field, name))
    return frozenset(out)


class RecordDefaults:
    """What a tracker fills in when a call leaves it out.

    Raises:
        InvalidRecordError: a default is invalid (named in the error).
    """

    __slots__ = ("anonymize_fields", "anonymizer", "context", "customer_key")

    def __init__(
        self,
        *,
        customer_key: str | None = None,
        context: Mapping[str, Any] | None = None,
        anonymize_fields: Collection[str] | str | None = None,
        anonymizer: Anonymizer | None = None,
    ) -> None:
        self.customer_key = (
            None if customer_key is None else check_text("customer_key", customer_key)
        )
        self.context = None if context is None else checked_context(context)
        self.anonymize_fields = field_names("anonymize_fields", anonymize_fields)
        self.anonymizer = _check_anonymizer(anonymizer) or default_anonymizer


def _check_anonymizer(anonymizer: object) -> Anonymizer | None:
    if anonymizer is not None and not callable(anonymizer):
        raise InvalidRecordError(
            "anonymizer", f"must be a callable, not {type(anonymizer).__name__}"
        )
    return anonymizer


def checked_context(context: object, field: str = "context") -> dict[str, Any]:
    """Validate a context mapping; returns a plain-dict copy.

    Raises:
        InvalidRecordError: not a mapping of JSON values, or too large.
    """
    return _check_mapping(field, _as_mapping(field, context), 1, _Budget(field), usage=False)


def build_record(
    service_key: object,
    usage: object,
    *,
    response_id: object = None,
    timestamp: object = None,
    customer_key: object = None,
    context: object = None,
    scope_customer_key: str | None = None,
    scope_context: Mapping[str, Any] | None = None,
    defaults: RecordDefaults,
    anonymize_fields: Collection[str] | str | None = None,
    anonymizer: Anonymizer | None = None,
    now: float | None = None,
) -> tuple[str, bytes, str | None]:
    """Validate one record and encode it.

    ``customer_key``: call, else scope, else tracker default. ``context``: the tracker's,
    updated by the scope's, updated by the call's (later keys win). ``anonymize_fields`` may
    be one field name (a ``str``) or a collection of names.

    Returns:
        The record's ``response_id``, its encoded bytes and the customer key it carries.

    Raises:
        InvalidRecordError: anything about the record is wrong; nothing has been enqueued.
    """
    service_key = validate_service_key(service_key)
    payload = check_usage(usage)
    fields = defaults.anonymize_fields
    if anonymize_fields:
        fields = fields | field_names("anonymize_fields", anonymize_fields)
    if fields:
        chosen = _check_anonymizer(anonymizer) or defaults.anonymizer
        payload = _anonymize(payload, fields, chosen, "usage", 1)
    if response_id is None:
        rid = new_response_id()
    else:
        rid = check_text("response_id", response_id)
    if timestamp is None and now is None:
        # The common case, checked by construction; "%.6f" is a third of repr(round(x, 6)).
        stamp = "%.6f" % time.time()  # noqa: UP031 - the fastest of the spellings
    else:
        stamp = format_timestamp(timestamp, time.time() if now is None else now)
    customer: str | None
    if customer_key is not None:
        customer = check_text("customer_key", customer_key)
    else:
        customer = scope_customer_key if scope_customer_key is not None else defaults.customer_key
    merged: dict[str, Any] | None = defaults.context
    if scope_context:
        merged = {**(merged or {}), **scope_context}
    if context is not None:
        merged = {**(merged or {}), **checked_context(context)}
    body = encode_record(
        WireRecord(
            service_key=service_key,
            response_id=rid,
            timestamp=stamp,
            payload=payload,
            customer_key=customer,
            context=merged or None,
        )
    )
    if len(body) > MAX_RECORD_BYTES:
        raise InvalidRecordError(
            "usage", f"record is {len(body)} bytes encoded, over the {MAX_RECORD_BYTES} limit"
        )
    return rid, body, customer


# ---- the record arguments of track() / track_nowait() / track_batch() ------------------------

MAX_BATCH_RECORDS = 1000
"""Most records ``track_batch`` accepts in one call (one ``/track`` request)."""


class RecordArgs(TypedDict, total=False):
    """The optional keyword arguments of ``track()`` and ``track_nowait()`` (both trackers).

    Attributes:
        response_id: the event's id (by default a UUIDv7 as 32 hex digits); the server de-duplicates
            on it, so give your own to make retries of your own code idempotent.
        timestamp: ``datetime``, ISO 8601 text or epoch seconds (default: now).
        customer_key: the customer (default: the scope's, then the tracker's).
        context: extra key/values merged over the tracker's and the scope's context.
        anonymize_fields: usage field names to anonymize (in addition to the tracker's).
        anonymizer: the function applied to those fields (default: redact text).
    """

    response_id: str | None
    timestamp: datetime | str | float | None
    customer_key: str | None
    context: Mapping[str, Any] | None
    anonymize_fields: Collection[str] | None
    anonymizer: Anonymizer | None


RECORD_ARG_NAMES = frozenset(RecordArgs.__annotations__)
"""The keyword names ``RecordArgs`` allows."""

_BATCH_FIELDS = frozenset(
    {"service_key", "usage", "response_id", "timestamp", "customer_key", "context"}
)


class BuiltRecord(NamedTuple):
    """A validated, encoded record and what the limits check needs to know about it."""

    response_id: str
    body: bytes
    customer_key: str | None
    service_key: str


def unknown_record_args(args: Mapping[str, Any], caller: str) -> TypeError:
    """The ``TypeError`` for keywords of ``args`` that ``RecordArgs`` does not have."""
    unknown = ", ".join(sorted(map(repr, set(args) - RECORD_ARG_NAMES)))
    return TypeError(f"{caller}() got unexpected keyword argument(s): {unknown}")


def build_batch(
    records: Sequence[Mapping[str, Any]],
    defaults: RecordDefaults,
    *,
    scope_customer_key: str | None = None,
    scope_context: Mapping[str, Any] | None = None,
) -> list[BuiltRecord]:
    """Validate and encode the records of one ``track_batch`` call in the caller's scope.

    Every record is checked before any is returned: one bad record rejects the call.
    ``scope_customer_key`` and ``scope_context`` are the caller's ``tracking_scope``.

    Raises:
        BatchSizeLimitExceeded: more than ``MAX_BATCH_RECORDS`` records.
        InvalidRecordError: a record is invalid (its index is in the field name).
    """
    if len(records) > MAX_BATCH_RECORDS:
        raise BatchSizeLimitExceeded(len(records), MAX_BATCH_RECORDS)
    built: list[BuiltRecord] = []
    for index, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise InvalidRecordError(f"records[{index}]", "must be a mapping")
        unknown = set(record) - _BATCH_FIELDS
        if unknown:
            raise InvalidRecordError(
                f"records[{index}]", f"unknown field(s): {', '.join(sorted(map(str, unknown)))}"
            )
        for required in ("service_key", "usage"):
            if required not in record:
                raise InvalidRecordError(f"records[{index}].{required}", "is required")
        try:
            rid, body, customer = build_record(
                record["service_key"],
                record["usage"],
                response_id=record.get("response_id"),
                timestamp=record.get("timestamp"),
                customer_key=record.get("customer_key"),
                context=record.get("context"),
                scope_customer_key=scope_customer_key,
                scope_context=scope_context,
                defaults=defaults,
            )
        except InvalidRecordError as exc:
            raise InvalidRecordError(f"records[{index}].{exc.field}", str(exc)) from None
        built.append(BuiltRecord(rid, body, customer, record["service_key"]))
    return built
