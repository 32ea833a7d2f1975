"""The corpus: real recorded provider responses replayed through the real SDKs and our wrappers.

Each case points a real SDK client (sync or async) at the replay server, which answers with one
recorded response; the client is wrapped by the provider's wrapper and a real tracker delivers
to the local ``aicostmanager serve``. The test then reads back what the server stored and checks
it against the recording: one event, the provider's response id, every usage field the provider
returned, and the server's cost within 0.5% of the provider's list price (``rates.py``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import botocore.session
import pytest
from google.genai.types import GenerateContentResponseUsageMetadata

from .calls import APIS, Style
from .harness import Runs
from .rates import expected_cost
from .recordings import RECORDINGS, Recording

# google-genai's own aiohttp session class triggers this warning from aiohttp (not our code).
pytestmark = pytest.mark.filterwarnings(
    "ignore:Inheritance class AiohttpClientSession:DeprecationWarning"
)

TOLERANCE = Decimal("0.005")

# Cases that fail until another part of the code base catches up: case id -> what is missing.
# Strict: a case that starts passing fails the run until its line here is removed.
PENDING: dict[str, str] = {}

CASES = [
    pytest.param(
        rec,
        style,
        id=f"{rec.key}-{style.__name__}",
        marks=[pytest.mark.xfail(strict=True, reason=PENDING[f"{rec.key}-{style.__name__}"])]
        if f"{rec.key}-{style.__name__}" in PENDING
        else [],
    )
    for rec in RECORDINGS
    for style in APIS[rec.api][4 if rec.streamed else 3]
]


BY_STYLE: dict[str, list[Recording]] = {}
for _case in CASES:
    BY_STYLE.setdefault(_case.values[1].__name__, []).append(_case.values[0])


def _web_search_calls(rec: Recording) -> int:
    """OpenAI Responses bills each ``web_search_call`` output item (not part of ``usage``)."""
    for event in reversed(rec.events):
        inner = event.get("response") or event
        if isinstance(inner.get("output"), list) and inner.get("usage"):
            return sum(1 for item in inner["output"] if item.get("type") == "web_search_call")
    return 0


def _contains(stored: Any, recorded: Any) -> bool:
    """Every field of ``recorded`` is in ``stored`` with the same value (nested, lists equal)."""
    if isinstance(recorded, dict):
        return isinstance(stored, dict) and all(
            k in stored and _contains(stored[k], v) for k, v in recorded.items()
        )
    if isinstance(recorded, list):
        return (
            isinstance(stored, list)
            and len(stored) == len(recorded)
            and all(_contains(s, r) for s, r in zip(stored, recorded, strict=True))
        )
    return bool(stored == recorded)


def _sdk_usage(rec: Recording) -> dict[str, Any]:
    """The provider's usage as the SDK hands it over (botocore and google-genai keep only the
    fields their models know: google-genai 3.6 drops ``serviceTier``)."""
    if rec.api == "gemini":
        known_fields = GenerateContentResponseUsageMetadata.model_fields.values()
        aliases = {f.alias for f in known_fields}
        return {k: v for k, v in rec.usage.items() if k in aliases}
    if rec.api != "bedrock":
        return rec.usage
    members = botocore.session.get_session().get_service_model("bedrock-runtime")
    known = members.shape_for("TokenUsage").members
    return {k: v for k, v in rec.usage.items() if k in known}


@pytest.mark.parametrize(("rec", "style"), CASES)
async def test_replayed_response_is_tracked_and_priced_at_list_price(
    runs: Runs, rec: Recording, style: Style
) -> None:
    """A replayed recording through SDK and wrapper: one event, exact usage, list price."""
    outcome = (await runs.get(style, BY_STYLE[style.__name__]))[rec.key]
    if outcome.error is not None:
        raise outcome.error
    assert len(outcome.received) == 1, [r.path for r in outcome.received]
    assert APIS[rec.api][2] in outcome.received[0].path
    assert len(outcome.stored) == 1, f"{len(outcome.stored)} events stored for one call"
    event = outcome.stored[0]
    assert event.response_id == rec.response_id
    usage = _sdk_usage(rec)
    problems = []
    missing = {k: v for k, v in usage.items() if not _contains(event.usage.get(k), v)}
    if missing:
        problems.append(f"usage fields lost or changed: {missing}; stored {event.usage}")
    expected = expected_cost(rec.api, rec.vendor, rec.model, usage, _web_search_calls(rec))
    assert expected > 0
    if abs(event.cost - expected) > expected * TOLERANCE:
        problems.append(f"{event.service_key}: server {event.cost} vs list price {expected}")
    if outcome.unpriced:
        problems.append(f"flagged not fully priced: {sorted(outcome.unpriced)}")
    if outcome.estimated:
        problems.append("marked estimated, but the provider's usage arrived")
    assert not problems, "\n".join(problems)
