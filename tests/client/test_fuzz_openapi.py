"""Property-based fuzzing of the local server's OpenAPI document: no request gives a 5xx.

Runs schemathesis' strategies through plain hypothesis (its pytest plugin does not support the
pytest in use), bounded in time: a few derandomized examples per operation, no example database.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable

from aicostmanager.server import LocalServer

schemathesis = pytest.importorskip("schemathesis")

MAX_EXAMPLES = 8
BUDGET_SECONDS = 60.0


def test_no_server_errors(local_server: LocalServer) -> None:
    """Valid and invalid requests to every documented operation never answer 5xx."""
    minted = httpx.post(f"{local_server.url}/_testing/api-keys", timeout=30)
    minted.raise_for_status()
    headers = {"Authorization": f"Bearer {minted.json()['api_key']}"}
    document = httpx.get(f"{local_server.api_root}/openapi.json", timeout=30).json()
    api = schemathesis.openapi.from_dict(document)
    api.config.update(base_url=local_server.url)
    started = time.monotonic()
    failures: list[str] = []
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) > 25
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
            if response.status_code >= 500:
                body = case.body if isinstance(case.body, dict | list | str) else None
                failures.append(
                    f"{case.method} {case.formatted_path} {case.query} {body!r}"
                    f" -> {response.status_code} {response.text[:300]}"
                )

        try:
            run()
        except Unsatisfiable:
            assert mode is schemathesis.GenerationMode.NEGATIVE  # nothing invalid to send
    assert not failures, "\n".join(failures)
    assert time.monotonic() - started < BUDGET_SECONDS * 2
