"""Hardening of the inputs: the API key, usage values, anonymization, and the one error tree."""

from __future__ import annotations

import enum
import inspect
import logging
import math
import socket
import sqlite3
import traceback
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import anyio
import httpx
import msgspec
import pytest

import aicostmanager
from aicostmanager import (
    AICMError,
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    AsyncCostManagerClient,
    AsyncTracker,
    ConfigurationError,
    DeliveryError,
    InvalidRecordError,
    QueueError,
    tracking_scope,
)
from aicostmanager import _exceptions as exceptions_module
from aicostmanager._http import AsyncHTTP, error_from_response
from aicostmanager._record import MAX_INT, RecordDefaults, build_record

GOOD_KEY = "openai::gpt-5-mini"
DOCS = Path(__file__).resolve().parents[2] / "docs"


def _payload(usage: Any, **kwargs: Any) -> dict[str, Any]:
    defaults = kwargs.pop("defaults", RecordDefaults())
    body = build_record(GOOD_KEY, usage, defaults=defaults, **kwargs)[1]
    payload: dict[str, Any] = msgspec.json.decode(body)["payload"]
    return payload


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _queue_bodies(db: Path) -> list[bytes]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT body FROM pending UNION ALL SELECT body FROM dead_letter")
        return [bytes(row[0]) for row in rows]


# ---- item 7: the API key ------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["sk-abc.k1\n", "  sk-abc.k1\r\n", "\tsk-abc.k1 "])
def test_key_white_space_around_is_stripped(
    raw: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A key with surrounding white space (a trailing newline) is used without it."""
    options = {"ini_path": tmp_path / "AICM.INI", "db_path": tmp_path / "q.db"}
    key = AsyncTracker(aicm_api_key=raw, **options).settings.api_key
    assert key is not None and key.reveal() == "sk-abc.k1"
    monkeypatch.setenv("AICM_API_KEY", raw)
    assert AsyncTracker(**options).settings.api_key == key
    client = AsyncCostManagerClient(aicm_api_base="http://127.0.0.1:9")
    assert client.api_key == key


@pytest.mark.parametrize(
    "raw", ["sk-secret part.k1", "sk-secret\npart.k1", "sk-secret\x00.k1", "sk-sécret.k1"]
)
def test_key_with_inner_white_space_or_control_is_refused(
    raw: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A key with inner white space, control or non-ASCII characters fails at construction,
    and the message does not show it."""
    options = {"ini_path": tmp_path / "AICM.INI", "db_path": tmp_path / "q.db"}
    with pytest.raises(ConfigurationError) as caught:
        AsyncTracker(aicm_api_key=raw, **options)
    assert "secret" not in str(caught.value) and "sécret" not in str(caught.value)
    with pytest.raises(ConfigurationError):
        AsyncCostManagerClient(aicm_api_key=raw, aicm_api_base="http://127.0.0.1:9")
    if "\x00" not in raw:  # the environment itself cannot hold a NUL
        monkeypatch.setenv("AICM_API_KEY", raw)
        with pytest.raises(ConfigurationError) as caught:
            AsyncTracker(**options)
        assert "secret" not in str(caught.value) and "sécret" not in str(caught.value)
    with pytest.raises(ConfigurationError):
        AsyncTracker(aicm_api_key=b"sk-bytes.k1", **options)  # type: ignore[typeddict-item]


class _HeaderEchoingTransport(httpx.AsyncBaseTransport):
    """Fails every request like h11 fails an illegal header: the message quotes the headers."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.LocalProtocolError(f"Illegal header value {request.headers.raw!r}")


async def test_key_with_trailing_newline_never_leaks(
    local_server: Any,
    api_key: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """AICM_API_KEY with a trailing newline delivers; when the transport then fails with a
    message that echoes the request's headers (as h11 does for an illegal header, which the
    options now refuse at construction), the key is in no log, statistic, exception or queue
    file byte."""
    caplog.set_level(logging.DEBUG)
    secret = api_key.rsplit(".", 1)[0]
    monkeypatch.setenv("AICM_API_KEY", api_key + "\n")
    options: dict[str, Any] = {
        "aicm_api_base": local_server.url,
        "ini_path": tmp_path / "AICM.INI",
        "db_path": tmp_path / "queue.db",
        "backoff_base": 0.05,
        "backoff_max": 0.2,
        "batch_interval": 0.005,
    }
    async with AsyncTracker(**options) as tracker:
        await tracker.track(GOOD_KEY, {"input_tokens": 1})
        with anyio.fail_after(30):
            assert await tracker.flush()
    texts: list[str] = []
    broken = {**options, "transport": _HeaderEchoingTransport()}
    async with AsyncTracker(**broken) as tracker:
        await tracker.track(GOOD_KEY, {"input_tokens": 2})
        with anyio.fail_after(30):
            while not tracker.statistics().last_error:  # noqa: ASYNC110 - a condition with a deadline
                await anyio.sleep(0.01)
        texts.append(repr(tracker.statistics()))
        await tracker.aclose(timeout=0.2)
    # Without a queue file, so that the failure is raised rather than spilled.
    immediate = {**broken, "delivery_type": "immediate", "raise_on_error": True}
    del immediate["db_path"]
    async with AsyncTracker(**immediate) as tracker:
        with pytest.raises(DeliveryError) as delivery:
            await tracker.track(GOOD_KEY, {"input_tokens": 3})
        texts += [str(delivery.value), repr(delivery.value), repr(tracker.statistics())]
        texts.append("".join(traceback.format_exception(delivery.value)))
        await tracker.aclose(timeout=0.2)
    async with AsyncCostManagerClient(
        aicm_api_base=local_server.url, transport=_HeaderEchoingTransport(), max_attempts=1
    ) as client:
        with pytest.raises(APIConnectionError) as connection:
            await client.list_vendors()
        texts += [str(connection.value), "".join(traceback.format_exception(connection.value))]
    texts.append(caplog.text)
    assert any("LocalProtocolError" in text for text in texts)
    for text in texts:
        assert secret not in text
    with sqlite3.connect(tmp_path / "queue.db") as conn:
        errors = [row[0] for row in conn.execute("SELECT last_error FROM pending")]
    assert errors and all(errors)
    for path in tmp_path.rglob("*"):  # noqa: ASYNC240 - the tracker is closed
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


async def test_key_is_redacted_from_any_transport_error() -> None:
    """Whatever an httpx error says, the SDK's error shows *** instead of the key and does not
    chain the original."""
    key = "sk-redact-me-0123456789.k1"

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/timeout"):
            raise httpx.ReadTimeout(f"read timed out for Bearer {key}", request=request)
        if request.url.path.endswith("/echo"):
            text = f'{{"detail": "bad header Authorization: Bearer {key}"}}'
            return httpx.Response(400, content=text.encode())
        raise httpx.ConnectError(f"proxy refused header b'Bearer {key}\\n'", request=request)

    http = AsyncHTTP(
        api_root="http://user:pw@127.0.0.1:9/api/v1",
        api_key=key,
        transport=httpx.MockTransport(handler),
    )
    try:
        with pytest.raises(APIConnectionError) as caught:
            await http.request("GET", "/connect")
        assert "***" in str(caught.value)
        with pytest.raises(APITimeoutError) as timed_out:
            await http.request("GET", "/timeout")
        response = await http.request("GET", "/echo")
    finally:
        await http.aclose()
    error = error_from_response(response)
    for exc in (caught.value, timed_out.value, error):
        text = "".join(traceback.format_exception(exc)) + repr(exc)
        assert key not in text and "pw" not in text.replace("pwd", "")
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert "***" in (error.error or "")


# ---- item 9: anonymize_fields as one name -------------------------------------------------


def test_anonymize_fields_string_is_one_field_name() -> None:
    """anonymize_fields='prompt' anonymizes the field 'prompt', not the letters p, r, o..."""
    usage = {"prompt": "secret", "p": "kept", "input_tokens": 1, "meta": {"user": "bob"}}
    payload = _payload(usage, defaults=RecordDefaults(anonymize_fields="prompt"))
    assert payload == {
        "prompt": "[REDACTED]",
        "p": "kept",
        "input_tokens": 1,
        "meta": {"user": "bob"},
    }
    payload = _payload(usage, anonymize_fields="user")
    assert payload["meta"] == {"user": "[REDACTED]"} and payload["prompt"] == "secret"
    with pytest.raises(InvalidRecordError, match="anonymize_fields"):
        RecordDefaults(anonymize_fields=5)  # type: ignore[arg-type]
    with pytest.raises(InvalidRecordError, match="anonymize_fields"):
        _payload(usage, anonymize_fields=[""])
    with pytest.raises(InvalidRecordError, match="anonymizer"):
        RecordDefaults(anonymizer="upper")  # type: ignore[arg-type]


async def test_anonymize_fields_string_through_the_tracker(tmp_path: Path) -> None:
    """The tracker option and the per-call argument both take one name as a string."""
    options: dict[str, Any] = {
        "aicm_api_key": "sk-offline.k1",
        "aicm_api_base": f"http://127.0.0.1:{_dead_port()}",
        "ini_path": tmp_path / "AICM.INI",
        "db_path": tmp_path / "queue.db",
        "backoff_base": 5,
        "anonymize_fields": "prompt",
    }
    async with AsyncTracker(**options) as tracker:
        usage = {"prompt": "secret", "p": "kept", "user": "bob", "input_tokens": 1}
        await tracker.track(GOOD_KEY, usage, anonymize_fields="user")
        await tracker.aclose(timeout=0)
    (body,) = _queue_bodies(tmp_path / "queue.db")
    payload = msgspec.json.decode(body)["payload"]
    assert payload == {"prompt": "[REDACTED]", "p": "kept", "user": "[REDACTED]", "input_tokens": 1}


@pytest.mark.parametrize(
    ("returned", "field"),
    [(10**400, "usage.prompt"), (object(), "usage.prompt"), ("x", "usage.input_tokens")],
)
def test_what_an_anonymizer_returns_is_validated(returned: Any, field: str) -> None:
    """An anonymizer's result obeys the record rules: garbage is refused, not queued."""
    name = field.rsplit(".", 1)[1]
    with pytest.raises(InvalidRecordError) as caught:
        _payload(
            {"prompt": "hi", "input_tokens": 2},
            anonymize_fields=[name],
            anonymizer=lambda value: returned,
        )
    assert caught.value.field == field


# ---- item 10: usage values, text, timestamps, size ---------------------------------------

BAD_USAGE: list[tuple[str, dict[str, Any], str]] = [
    ("huge", {"input_tokens": 10**400}, "usage.input_tokens"),
    ("over-int64", {"input_tokens": 2**64}, "usage.input_tokens"),
    ("just-over-int64", {"input_tokens": MAX_INT + 1}, "usage.input_tokens"),
    ("bool", {"input_tokens": True}, "usage.input_tokens"),
    ("false-camel", {"candidatesTokenCount": False}, "usage.candidatesTokenCount"),
    ("text", {"input_tokens": "10"}, "usage.input_tokens"),
    ("negative", {"output_tokens": -1}, "usage.output_tokens"),
    ("fraction", {"promptTokenCount": 1.5}, "usage.promptTokenCount"),
    ("nan", {"input_tokens": math.nan}, "usage.input_tokens"),
    ("inf", {"input_tokens": math.inf}, "usage.input_tokens"),
    ("nested-text", {"details": {"cached_tokens": "3"}}, "usage.details.cached_tokens"),
    ("list-bool", {"tokens_per_step": [1, True]}, "usage.tokens_per_step[1]"),
    ("snake-count-text", {"image_count": "2"}, "usage.image_count"),
    ("bare-count-bool", {"count": True}, "usage.count"),
    ("float-over", {"seconds": 1e300}, "usage.seconds"),
]


@pytest.mark.parametrize(
    ("usage", "field"), [c[1:] for c in BAD_USAGE], ids=[c[0] for c in BAD_USAGE]
)
def test_bad_usage_values_are_refused(usage: dict[str, Any], field: str) -> None:
    """Counts are whole numbers in [0, 2**63-1]: no booleans, text, NaN, fractions or giants."""
    with pytest.raises(InvalidRecordError) as caught:
        _payload(usage)
    assert caught.value.field == field


class Tier(str, enum.Enum):
    """A str-based enum, as applications use for fixed names."""

    STANDARD = "standard"


def test_legitimate_usage_values_are_kept() -> None:
    """Descriptive text and flags, integral floats, None counts and int64 max are accepted."""
    usage = {
        "input_tokens": MAX_INT,
        "output_tokens": 10.0,
        "audio_tokens": None,
        "service_tier": Tier.STANDARD,
        "streaming": True,
        "seconds": 12.5,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 3}],
        "tokenizer": "o200k",
        "account": "acme",
    }
    payload = _payload(usage)
    assert payload == {**usage, "service_tier": "standard"}
    assert _payload({"n": 1}, context={"offset": -(2**63)}) == {"n": 1}
    with pytest.raises(InvalidRecordError, match=r"context\.big"):
        _payload({"n": 1}, context={"big": 10**400})


class Text(str):
    """A str subclass with a misleading __str__."""

    def __str__(self) -> str:
        return "changed"


def test_str_subclasses_are_plain_text() -> None:
    """str subclasses are recorded as their text everywhere (no encoder TypeError)."""
    body = build_record(
        Text(GOOD_KEY),
        {Text("note"): Text("x"), "input_tokens": 1},
        response_id=Text("rid-1"),
        customer_key=Text("acme"),
        context={Text("env"): Text("prod")},
        defaults=RecordDefaults(customer_key=Text("default")),
    )[1]
    record = msgspec.json.decode(body)
    assert record["service_key"] == GOOD_KEY and record["response_id"] == "rid-1"
    assert record["payload"] == {"note": "x", "input_tokens": 1}
    assert record["customer_key"] == "acme" and record["context"] == {"env": "prod"}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"service_key": "openai::gpt\ud800"},
        {"usage": {"note": "\udfff"}},
        {"usage": {"\ud800": 1}},
        {"response_id": "r\ud800"},
        {"customer_key": "c\ud800"},
        {"context": {"k": "\ud800"}},
    ],
)
def test_lone_surrogates_raise_invalid_record_error(kwargs: dict[str, Any]) -> None:
    """Text that is not Unicode (a lone surrogate) is an InvalidRecordError, not a codec error."""
    service_key = kwargs.pop("service_key", GOOD_KEY)
    usage = kwargs.pop("usage", {"input_tokens": 1})
    with pytest.raises(InvalidRecordError):
        build_record(service_key, usage, defaults=RecordDefaults(), **kwargs)


@pytest.mark.parametrize(
    "timestamp",
    [
        10**400,
        -(10**400),
        "1e400",
        "9" * 1000,
        datetime.max,
        datetime(1, 1, 1),
        datetime(1, 1, 1, tzinfo=timezone.utc),
    ],
    ids=["huge", "minus-huge", "text-inf", "long-text", "max", "min-naive", "min-aware"],
)
def test_out_of_range_timestamps_raise_invalid_record_error(timestamp: Any) -> None:
    """Timestamps Python cannot turn into epoch seconds are an InvalidRecordError."""
    with pytest.raises(InvalidRecordError) as caught:
        _payload({"input_tokens": 1}, timestamp=timestamp)
    assert caught.value.field == "timestamp"


class _Enormous(Mapping[str, int]):
    """Claims a million keys; walking it is an error of the test."""

    def __len__(self) -> int:
        return 1_000_000

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("walked")

    def __getitem__(self, key: str) -> int:
        raise AssertionError("walked")

    def items(self) -> Any:
        raise AssertionError("walked")


def test_huge_usage_is_refused_before_it_is_walked() -> None:
    """A usage mapping (or list, or string) that cannot fit a record is refused from its size."""
    with pytest.raises(InvalidRecordError) as caught:
        _payload(_Enormous())
    assert caught.value.field == "usage"
    with pytest.raises(InvalidRecordError):
        _payload({f"k{i}": 1 for i in range(1_000_000)})
    with pytest.raises(InvalidRecordError):
        _payload({"ids": [0] * 1_000_000})


def test_scope_values_are_validated_at_the_with() -> None:
    """tracking_scope refuses a bad customer key or context where it is opened."""
    with pytest.raises(InvalidRecordError, match="customer_key"), tracking_scope(customer_key=5):  # type: ignore[arg-type]
        pass
    with (
        pytest.raises(InvalidRecordError, match="context"),
        tracking_scope(context={"k": object()}),
    ):
        pass
    with tracking_scope(customer_key=Text("acme"), context={"n": 1}) as scope:
        assert type(scope.customer_key) is str and scope.customer_key == "acme"


async def test_garbage_through_the_tracker_raises_and_queues_nothing(tmp_path: Path) -> None:
    """track, track_nowait and track_batch refuse each bad value with InvalidRecordError;
    the queue file stays empty."""
    options: dict[str, Any] = {
        "aicm_api_key": "sk-offline.k1",
        "aicm_api_base": f"http://127.0.0.1:{_dead_port()}",
        "ini_path": tmp_path / "AICM.INI",
        "db_path": tmp_path / "queue.db",
        "backoff_base": 5,
    }
    async with AsyncTracker(**options) as tracker:
        for _, usage, _ in BAD_USAGE:
            with pytest.raises(InvalidRecordError):
                await tracker.track(GOOD_KEY, usage)
            with pytest.raises(InvalidRecordError):
                tracker.track_nowait(GOOD_KEY, usage)
        with pytest.raises(InvalidRecordError):
            await tracker.track(GOOD_KEY, {"n": 1}, timestamp=10**400)
        with pytest.raises(InvalidRecordError):
            await tracker.track_batch(
                [{"service_key": GOOD_KEY, "usage": {"n": 1}}]
                + [{"service_key": GOOD_KEY, "usage": {"input_tokens": True}}]
            )
        await tracker.aclose(timeout=0)
    assert _queue_bodies(tmp_path / "queue.db") == []


# ---- one error tree -----------------------------------------------------------------------


def _exported_errors() -> list[type[BaseException]]:
    return [
        value
        for name in aicostmanager.__all__
        if inspect.isclass(value := getattr(aicostmanager, name))
        and issubclass(value, BaseException)
    ]


def test_every_exported_exception_is_in_the_tree_and_documented() -> None:
    """Every exception the package exports is an AICMError, drawn in _exceptions and in the docs."""
    errors = _exported_errors()
    assert QueueError in errors and APIResponseValidationError in errors
    page = (DOCS / "exceptions.md").read_text()
    doc = exceptions_module.__doc__ or ""
    for cls in errors:
        assert issubclass(cls, AICMError), cls
        assert cls.__name__ in doc, cls
        assert cls.__name__ in page, cls


def test_queue_error_is_what_the_queue_raises() -> None:
    """The queue module raises the tree's QueueError (one class, not a twin)."""
    from aicostmanager import _queue

    assert _queue.QueueError is QueueError


def test_api_response_validation_error_carries_status_and_request_id() -> None:
    """APIResponseValidationError keeps the status, request id and validation errors."""
    error = APIResponseValidationError(
        "not a Customer", status_code=200, request_id="req-1", errors=[{"loc": ("uuid",)}]
    )
    assert (error.status_code, error.request_id, error.errors) == (
        200,
        "req-1",
        [{"loc": ("uuid",)}],
    )
    assert "req-1" in str(error) and "HTTP 200" in str(error)


def test_a_model_that_cannot_dump_itself_is_an_invalid_record() -> None:
    """A usage object whose model_dump() raises gives InvalidRecordError, not its error."""

    class Broken:
        def model_dump(self, **kwargs: Any) -> Any:
            raise RuntimeError("cannot serialise")

    with pytest.raises(InvalidRecordError, match="model_dump"):
        _payload(Broken())
