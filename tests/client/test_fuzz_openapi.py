"""Property-based fuzzing of the local server's OpenAPI document: no request gives a 5xx, and
every answer is documented (status code, content type and body schema: schemathesis'
``status_code_conformance``, ``content_type_conformance``, ``response_schema_conformance``).

Runs schemathesis' strategies through plain hypothesis (its pytest plugin does not support the
pytest in use), bounded in work rather than time: a few derandomized examples per operation and
generation mode, no example database (no timing assertion: those live in ``benchmarks/``).
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable

from aicostmanager.server import LocalServer

schemathesis = pytest.importorskip("schemathesis")
checks = pytest.importorskip("schemathesis.checks")

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]

MAX_EXAMPLES = 8


def test_no_server_errors() -> None:
    """Valid and invalid requests to every operation never answer 5xx nor anything undocumented."""
    key = f"sk-test-fuzz{uuid.uuid4().hex}.{uuid.uuid4()}"
    # A server of its own (not in testing mode: the admin API is no fuzzing target), so the
    # random data it stores never reaches other tests.
    with LocalServer(api_keys=[key], testing=False) as server:
        _fuzz(server, {"Authorization": f"Bearer {key}"})


def _fuzz(server: LocalServer, headers: dict[str, str]) -> None:
    document = httpx.get(f"{server.api_root}/openapi.json", timeout=30).json()
    assert not [path for path in document["paths"] if not path.startswith("/api/v1/")]
    api = schemathesis.openapi.from_dict(document)
    api.config.update(base_url=server.url)
    failures: list[str] = []
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) > 20
    modes = list(schemathesis.GenerationMode)
    for operation, mode in [(op, mode) for op in operations for mode in modes]:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            response = case.call(headers=headers, timeout=30)
            try:
                case.validate_response(response, checks=CHECKS)
            except BaseException as exc:  # schemathesis' FailureGroup is an exception group
                if not hasattr(exc, "exceptions") and not isinstance(exc, AssertionError):
                    raise
                body = case.body if isinstance(case.body, dict | list | str) else None
                kinds = sorted({type(e).__name__ for e in getattr(exc, "exceptions", [exc])})
                failures.append(
                    f"{case.method} {case.formatted_path} {case.query} {body!r}"
                    f" -> {response.status_code} {kinds} {response.text[:300]}"
                )

        try:
            run()
        except Unsatisfiable:
            assert mode is schemathesis.GenerationMode.NEGATIVE  # nothing invalid to send
    assert not failures, "\n".join(failures)
