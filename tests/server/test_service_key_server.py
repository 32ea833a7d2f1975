"""The server parses service keys with the SDK's rule (``aicostmanager._service_key``)."""

from __future__ import annotations

import pytest
from server_helpers import Api, record


@pytest.mark.parametrize("key", ["OpenAI::gpt-4o-mini", "acme/ai::x", "openai::two words"])
def test_keys_the_sdk_refuses_are_record_errors(api: Api, key: str) -> None:
    """A key the SDK would refuse is a per-record error on the server; its neighbour is kept."""
    bad = record("bad")
    bad["service_key"] = key
    results = api.track_ok(bad, record("good"))
    assert results[0]["status"] == "error"
    assert "vendor::service" in " ".join(results[0]["errors"])
    assert results[1]["status"] != "error"
