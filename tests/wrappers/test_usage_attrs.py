"""The fast attribute dump of SDK usage objects equals the SDK's own ``model_dump``."""

from __future__ import annotations

import pytest

from aicostmanager._usage._attrs import attrs_dict
from aicostmanager._usage._common import plain

from .test_usage_extract_anthropic import MESSAGE
from .test_usage_extract_gemini import RESPONSE


def test_anthropic_usage_dump_matches_model_dump() -> None:
    """Anthropic Usage (nested cache_creation, extras) dumps like model_dump(exclude_none)."""
    anthropic = pytest.importorskip("anthropic")
    message = anthropic.types.Message.model_validate(
        {**MESSAGE, "usage": {**MESSAGE["usage"], "future_field": {"tokens": 3}}}
    )
    expected = plain(message.usage.model_dump(exclude_none=True))
    assert attrs_dict(message.usage) == expected
    assert attrs_dict(message.usage)["future_field"] == {"tokens": 3}


def test_gemini_usage_dump_matches_model_dump_with_enum_values() -> None:
    """google-genai usage metadata dumps like model_dump(mode="json", exclude_none)."""
    types = pytest.importorskip("google.genai.types")
    response = types.GenerateContentResponse._from_response(response=RESPONSE, kwargs={})
    metadata = response.usage_metadata
    assert attrs_dict(metadata) == metadata.model_dump(mode="json", exclude_none=True)


def test_plain_values_and_mappings() -> None:
    """None and empty give None; mappings go through the generic dump."""
    assert attrs_dict(None) is None
    assert attrs_dict({}) is None
    assert attrs_dict({"a": 1, "b": None, "_c": 2}) == {"a": 1}
