"""One rule for service keys: records, wrapper options and the server's split agree."""

from __future__ import annotations

from typing import Any

import pytest

from aicostmanager import ConfigurationError, InvalidRecordError
from aicostmanager._service_key import (
    check_service_key_option,
    check_vendor,
    split_service_key,
    validate_service_key,
)

GOOD = [
    ("openai::gpt-5-mini", ("openai", "gpt-5-mini")),
    ("amazon-bedrock::us.amazon.nova-pro-v1:0", ("amazon-bedrock", "us.amazon.nova-pro-v1:0")),
    ("fireworks-ai::accounts/fireworks/models/x", ("fireworks-ai", "accounts/fireworks/models/x")),
    ("a.b_c-9::x", ("a.b_c-9", "x")),
]
BAD = [
    "OpenAI::gpt-5-mini",
    "acme/ai::x",
    "bad key",
    "openai::two words",
    "openai",
    "openai:gpt",
    "::gpt",
    "openai::",
    "openai:::x",
    "-openai::x",
    "a" * 65 + "::x",
    "openai::" + "x" * 257,
    "openai::x\n",
]


@pytest.mark.parametrize(("key", "parts"), GOOD)
def test_good_keys_pass_every_check(key: str, parts: tuple[str, str]) -> None:
    """A well-formed key passes the record, option and server checks alike."""
    assert validate_service_key(key) == key
    assert check_service_key_option(key) == key
    assert split_service_key(key) == parts
    assert check_vendor(parts[0]) == parts[0]


@pytest.mark.parametrize("key", BAD)
def test_bad_keys_fail_every_check(key: str) -> None:
    """A malformed key fails the record check, the option check and the server's split."""
    with pytest.raises(InvalidRecordError, match="service_key"):
        validate_service_key(key)
    with pytest.raises(ConfigurationError) as caught:
        check_service_key_option(key, "service")
    assert caught.value.option == "service"
    assert split_service_key(key) is None


@pytest.mark.parametrize("vendor", ["OpenAI", "acme/ai", "", "a b", "x::y", 3, None])
def test_bad_vendor_names_the_option(vendor: Any) -> None:
    """``check_vendor`` raises ``ConfigurationError`` naming the option it was given."""
    with pytest.raises(ConfigurationError, match="^vendor: ") as caught:
        check_vendor(vendor)
    assert caught.value.option == "vendor"


def test_str_subclass_becomes_plain_text() -> None:
    """A ``str`` subclass is returned as exact ``str`` whatever its ``__str__`` says."""

    class Loud(str):
        def __str__(self) -> str:
            return "LOUD"

    for check in (validate_service_key, check_service_key_option):
        value = check(Loud("openai::gpt-5-mini"))
        assert type(value) is str
        assert value == "openai::gpt-5-mini"
