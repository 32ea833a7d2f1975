"""The extractors give the same payload from the SDKs' objects as from the recorded JSON."""

from __future__ import annotations

import pytest

from aicostmanager._usage.anthropic import message_usage
from aicostmanager._usage.gemini import gemini_usage

from .test_usage_extract_anthropic import MESSAGE
from .test_usage_extract_gemini import RESPONSE


def test_anthropic_message_object_matches_json() -> None:
    """An anthropic Message (nested cache_creation, unknown extra field) dumps like its JSON."""
    anthropic = pytest.importorskip("anthropic")
    body = {**MESSAGE, "usage": {**MESSAGE["usage"], "future_field": {"tokens": 3}}}
    from_object = message_usage(anthropic.types.Message.model_validate(body))
    from_json = message_usage(body)
    assert from_object is not None and from_json is not None
    assert from_object == from_json
    assert from_object.usage is not None and from_object.usage["future_field"] == {"tokens": 3}


def test_gemini_response_object_matches_json() -> None:
    """A google-genai response (snake_case, enums) gives the camelCase payload of its JSON."""
    types = pytest.importorskip("google.genai.types")
    response = types.GenerateContentResponse._from_response(response=RESPONSE, kwargs={})
    from_object = gemini_usage(response)
    assert from_object == gemini_usage(RESPONSE)
    assert from_object is not None and from_object.usage is not None
    modality = from_object.usage["promptTokensDetails"][0]["modality"]
    assert type(modality) is str and modality == "TEXT"
