"""A bad ``vendor=`` / ``service_key=`` fails when any wrapper is built, naming the option."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import boto3
import openai
import pytest
from google import genai

from aicostmanager import (
    AnthropicWrapper,
    BedrockWrapper,
    ConfigurationError,
    FireworksWrapper,
    GeminiWrapper,
    OpenAIChatWrapper,
    OpenAIResponsesWrapper,
    ServiceWrapper,
    Tracker,
)

BAD_VENDORS = ["OpenAI", "acme/ai", "bad vendor", "bad::vendor", "", 42]


def _openai() -> Any:
    return openai.OpenAI(base_url="https://api.openai.com/v1", api_key="sk-test")


def _bedrock() -> Any:
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="secret-test",
    )


WRAPPERS: dict[str, tuple[Callable[..., Any], Callable[[], Any]]] = {
    "OpenAIChatWrapper": (OpenAIChatWrapper, _openai),
    "OpenAIResponsesWrapper": (OpenAIResponsesWrapper, _openai),
    "FireworksWrapper": (FireworksWrapper, _openai),
    "AnthropicWrapper": (AnthropicWrapper, lambda: anthropic.Anthropic(api_key="sk-ant-test")),
    "GeminiWrapper": (GeminiWrapper, lambda: genai.Client(api_key="gm-test")),
    "BedrockWrapper": (BedrockWrapper, _bedrock),
    "ServiceWrapper": (ServiceWrapper, object),
}


@pytest.fixture(scope="module")
def tracker(
    local_server: Any, tmp_path_factory: pytest.TempPathFactory, _session_admin: Any
) -> Iterator[Tracker]:
    """One started tracker for the whole module (the wrappers are only built)."""
    key, _ = _session_admin.new_api_key()
    home = tmp_path_factory.mktemp("wrap")
    with Tracker(
        aicm_api_key=key,
        aicm_api_base=local_server.url,
        ini_path=home / "AICM.INI",
        db_path=home / "queue.db",
    ) as shared:
        yield shared


@pytest.mark.parametrize("vendor", BAD_VENDORS)
@pytest.mark.parametrize("name", sorted(WRAPPERS))
def test_bad_vendor_fails_at_construction(name: str, vendor: Any, tracker: Tracker) -> None:
    """Every wrapper class refuses a vendor that is not a lower-case slug, naming ``vendor``."""
    cls, make = WRAPPERS[name]
    with pytest.raises(ConfigurationError, match="^vendor: ") as caught:
        cls(make(), tracker=tracker, vendor=vendor)
    assert caught.value.option == "vendor"


@pytest.mark.parametrize("name", sorted(WRAPPERS))
def test_good_vendor_is_kept(name: str, tracker: Tracker) -> None:
    """A slug with digits, dots, dashes and underscores is the vendor of every event."""
    cls, make = WRAPPERS[name]
    assert cls(make(), tracker=tracker, vendor="acme-ai.v2_x").aicm_vendor == "acme-ai.v2_x"


@pytest.mark.parametrize(
    "service_key", ["bad key", "OpenAI::gpt-5-mini", "acme/ai::x", "openai::", "::x", "no-sep", 7]
)
def test_service_wrapper_bad_service_key(service_key: Any, tracker: Tracker) -> None:
    """``ServiceWrapper(service_key=...)`` applies the record rule when it is built."""
    with pytest.raises(ConfigurationError, match="^service_key: ") as caught:
        ServiceWrapper(object(), tracker=tracker, service_key=service_key)
    assert caught.value.option == "service_key"


def test_service_wrapper_bad_service_name(tracker: Tracker) -> None:
    """``service=`` that would make a malformed key is refused, naming ``service``."""
    with pytest.raises(ConfigurationError, match="^service: "):
        ServiceWrapper(object(), tracker=tracker, vendor="acme", service="two words")
    with pytest.raises(ConfigurationError, match="^service_key: .*vendor="):
        ServiceWrapper(object(), tracker=tracker)


def test_service_wrapper_good_key(tracker: Tracker) -> None:
    """A well-formed key gives its vendor; the service part may hold ':' and '/'."""
    wrapped = ServiceWrapper(
        object(), tracker=tracker, service_key="amazon-bedrock::us.amazon.nova-pro-v1:0"
    )
    assert wrapped.aicm_vendor == "amazon-bedrock"
