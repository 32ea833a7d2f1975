"""Fuzzing the inputs: only the SDK's own errors come out, and nothing invalid is queued."""

from __future__ import annotations

import math
import socket
import sqlite3
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aicostmanager import AICMError, AsyncTracker, CostManagerClient, Tracker, TrackerOptions
from aicostmanager._record import RecordDefaults, build_record
from aicostmanager.models import UsageLimitIn

# The tracker's worker thread draws retry jitter from the global `random` while Hypothesis
# generates data in this thread; Hypothesis warns about that, but the data does not depend on it.
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")

FUZZ = settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Text(str):
    """A str subclass, as frameworks hand out."""


SPECIAL = st.builds(lambda: "x" * 20_000) | st.sampled_from(
    [
        10**400,
        -(10**400),
        2**64,
        2**63,
        2**63 - 1,
        -1,
        True,
        False,
        "10",
        math.nan,
        math.inf,
        -math.inf,
        1e300,
        "\ud800",
        "a\udfff",
        Text("x"),
        b"raw",
        object(),
        frozenset({1}),
        Decimal("1.5"),
        None,
        "",
        "\n",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    SPECIAL,
)
KEYS = st.one_of(
    st.text(max_size=10),
    st.sampled_from(
        ["input_tokens", "output_tokens", "promptTokenCount", "prompt", "", "\ud800", Text("k")]
    ),
    st.integers(),
)
JSONISH = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)
VALID_USAGE = st.dictionaries(
    st.sampled_from(["input_tokens", "output_tokens", "seconds"]),
    st.integers(0, 10_000),
    min_size=1,
)
USAGE = st.one_of(VALID_USAGE, st.dictionaries(KEYS, JSONISH, max_size=6), JSONISH)
SERVICE_KEYS = st.one_of(
    st.sampled_from(
        ["openai::gpt-5-mini", "OpenAI::x", "a::b c", "openai::gpt\ud800", Text("openai::gpt-5")]
    ),
    st.text(max_size=20),
    st.integers(),
    st.none(),
)
RECORD_KWARGS = st.fixed_dictionaries(
    {},
    optional={
        "response_id": st.one_of(st.text(max_size=300), SPECIAL),
        "timestamp": st.one_of(st.floats(), st.integers(), st.text(max_size=30), SPECIAL),
        "customer_key": st.one_of(st.text(max_size=20), SPECIAL),
        "context": st.one_of(st.dictionaries(KEYS, JSONISH, max_size=4), SPECIAL),
        "anonymize_fields": st.one_of(
            st.sampled_from(["prompt", ["prompt", "input_tokens"]]), st.lists(KEYS), SPECIAL
        ),
    },
)


def _only_sdk_errors(call: Callable[[], Any], *allowed: type[BaseException]) -> None:
    try:
        call()
    except (AICMError, *allowed):
        pass


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _assert_every_row_is_a_valid_record(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        bodies = [
            bytes(row[0])
            for row in conn.execute(
                "SELECT body FROM pending UNION ALL SELECT body FROM dead_letter"
            )
        ]
    now = time.time()
    for body in bodies:
        record = msgspec.json.decode(body)
        # The stored bytes pass the same validation again, unchanged.
        again = build_record(
            record["service_key"],
            record["payload"],
            response_id=record["response_id"],
            timestamp=float(record["timestamp"]),
            customer_key=record.get("customer_key"),
            context=record.get("context"),
            defaults=RecordDefaults(),
            now=now,
        )[1]
        assert msgspec.json.decode(again) == record
    return len(bodies)


@pytest.fixture
def offline_options(tmp_path: Path) -> dict[str, Any]:
    """A tracker whose server never answers: everything accepted stays in the queue file."""
    return {
        "aicm_api_key": "sk-fuzz.k1",
        "aicm_api_base": f"http://127.0.0.1:{_dead_port()}",
        "ini_path": tmp_path / "AICM.INI",
        "db_path": tmp_path / "queue.db",
        "backoff_base": 5,
        "close_timeout": 0,
    }


def test_fuzz_track_and_track_batch(offline_options: dict[str, Any]) -> None:
    """Random service keys, usage and keyword values: only AICMError, only valid rows queued."""
    with Tracker(**offline_options) as tracker:
        tracker.track("openai::gpt-5-mini", {"input_tokens": 1})

        @FUZZ
        @given(SERVICE_KEYS, USAGE, RECORD_KWARGS)
        def one(service_key: Any, usage: Any, kwargs: dict[str, Any]) -> None:
            _only_sdk_errors(lambda: tracker.track(service_key, usage, **kwargs))
            _only_sdk_errors(lambda: tracker.track_nowait(service_key, usage, **kwargs))

        @settings(FUZZ, max_examples=40)
        @given(
            st.lists(
                st.one_of(
                    st.fixed_dictionaries({"service_key": SERVICE_KEYS, "usage": USAGE}),
                    st.dictionaries(KEYS, JSONISH, max_size=4),
                    SPECIAL,
                ),
                max_size=5,
            )
        )
        def batch(records: Any) -> None:
            _only_sdk_errors(lambda: tracker.track_batch(records))

        one()
        batch()
    assert _assert_every_row_is_a_valid_record(offline_options["db_path"]) >= 1


OPTION_NAMES = sorted(
    set(TrackerOptions.__annotations__)
    # Paths and transport objects touch the file system or the network: tested elsewhere.
    - {"ini_path", "db_path", "transport", "proxies", "headers", "on_alert"}
)


def test_fuzz_tracker_options(tmp_path: Path) -> None:
    """Random values for the tracker's options: construction raises only AICMError."""
    ini = tmp_path / "AICM.INI"

    @FUZZ
    @given(st.dictionaries(st.sampled_from(OPTION_NAMES), st.one_of(JSONISH, USAGE), max_size=4))
    def construct(options: dict[str, Any]) -> None:
        options.setdefault("aicm_api_key", "sk-fuzz.k1")
        _only_sdk_errors(lambda: AsyncTracker(ini_path=ini, db_path=tmp_path / "q.db", **options))

    construct()


IDS = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["..", ".", "../usage-limits", "a/b", "%2e%2e", "?x=1", "#", "\ud800", ""]),
    st.integers(),
    st.uuids(),
    SPECIAL,
)


def test_fuzz_client_ids(api_key: str, api_root: str) -> None:
    """Random ids for the client's id arguments: only AICMError, TypeError or ValueError, and no
    id ever reaches another resource (the team's usage limit survives every delete)."""
    with CostManagerClient(
        aicm_api_key=api_key, aicm_api_base=api_root.removesuffix("/api/v1"), max_attempts=1
    ) as client:
        limit = client.create_usage_limit(
            UsageLimitIn(threshold_type="limit", amount=Decimal("5"), period="day")
        )
        methods = [
            client.get_customer,
            client.delete_customer,
            client.get_usage_limit,
            client.get_webhook_endpoint,
            client.delete_webhook_endpoint,
            client.get_custom_service,
            client.delete_custom_service,
            client.get_usage_event,
            client.list_cost_events_by_response_id_typed,
        ]

        @settings(FUZZ, max_examples=60)
        @given(st.sampled_from(methods), IDS)
        def call(method: Callable[[Any], Any], value: Any) -> None:
            _only_sdk_errors(lambda: method(value), TypeError, ValueError)

        call()
        assert client.get_usage_limit(limit.uuid).uuid == limit.uuid
