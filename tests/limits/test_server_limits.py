"""End to end over real HTTP: limits configured on the local server, enforced by the SDK."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from limits_helpers import COST, SERVICE, Api, claims_of

from aicostmanager._exceptions import UsageLimitExceeded
from aicostmanager._limits import TriggeredLimit, TriggeredLimitsEnforcer
from aicostmanager.server import LocalServer


def enforcer_for(api: Api, ini_path: Path, **kwargs: Any) -> TriggeredLimitsEnforcer:
    return TriggeredLimitsEnforcer(ini_path=ini_path, api_key=api.api_key, **kwargs)


def blocked(enf: TriggeredLimitsEnforcer, service: str | None, customer: str | None) -> bool:
    try:
        enf.check(service, customer)
    except UsageLimitExceeded:
        return True
    return False


def test_limit_triggers_after_spend_reaches_it(api: Api, ini_path: Path) -> None:
    """Spend below the amount does not block; reaching it blocks, naming the limit."""
    limit = api.create_limit(
        threshold_type="limit", amount="0.0001", period="day", service_key=SERVICE
    )
    enf = enforcer_for(api, ini_path)
    enf.update_from_envelope(api.track(count=2)["triggered_limits"])
    enf.check(SERVICE, None)
    enf.update_from_envelope(api.track()["triggered_limits"])
    with pytest.raises(UsageLimitExceeded) as info:
        enf.check(SERVICE, None)
    assert limit["uuid"] in str(info.value)
    (event,) = info.value.triggered_limits
    assert event.limit_id == limit["uuid"]
    assert event.api_key_id == api.key_id
    assert event.amount == Decimal("0.0001")
    assert event.expires_at is not None and event.expires_at.hour == 0
    assert not blocked(enf, "openai::gpt-4o", None)
    (progress,) = api.http.get("/usage-limits/progress/").json()
    assert Decimal(progress["current_spend"]) == 3 * Decimal(COST)
    assert Decimal(progress["remaining_amount"]) == 0


def test_other_customer_and_service_are_not_blocked(api: Api, ini_path: Path) -> None:
    """A customer-scoped limit blocks only that customer; an untouched service limit never."""
    acme = api.create_limit(threshold_type="limit", amount="0.00005", period="month", client="acme")
    api.create_limit(
        threshold_type="limit",
        amount="0.00001",
        period="day",
        service_key="anthropic::claude-3-5-haiku",
    )
    enf = enforcer_for(api, ini_path)
    enf.update_from_envelope(api.track(customer_key="globex", count=3)["triggered_limits"])
    assert enf.active_limits() == []
    enf.update_from_envelope(api.track(customer_key="acme", count=2)["triggered_limits"])
    assert [e.limit_id for e in enf.active_limits()] == [acme["uuid"]]
    assert blocked(enf, SERVICE, "acme")
    assert blocked(enf, "openai::gpt-4o", "acme")  # no service scope: all services
    assert not blocked(enf, SERVICE, "globex")
    assert not blocked(enf, SERVICE, None)
    assert not blocked(enf, "anthropic::claude-3-5-haiku", "globex")


def test_alert_is_reported_and_does_not_block(api: Api, ini_path: Path) -> None:
    """An alert threshold calls on_alert with the event and never blocks."""
    alert = api.create_limit(threshold_type="alert", amount="0.00001", period="day")
    seen: list[list[TriggeredLimit]] = []
    enf = enforcer_for(api, ini_path, on_alert=seen.append)
    enf.update_from_envelope(api.track()["triggered_limits"])
    enf.update_from_envelope(api.track()["triggered_limits"])
    assert [[e.limit_id for e in batch] for batch in seen] == [[alert["uuid"]]]
    assert seen[0][0].threshold_type == "alert"
    enf.check(SERVICE, None)


def test_block_lifts_when_the_period_ends(api: Api, ini_path: Path, admin: Any) -> None:
    """After the server clock passes the period end, a refresh clears the block."""
    api.create_limit(threshold_type="limit", amount="0.00001", period="day")
    enf = enforcer_for(api, ini_path)
    enf.update_from_envelope(api.track()["triggered_limits"])
    assert blocked(enf, SERVICE, None)
    now = datetime.now(timezone.utc)
    end_of_day = now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp() + 86400
    try:
        admin.set_clock(offset_seconds=end_of_day - now.timestamp() + 60)
        enf.update_from_envelope(api.triggered())
        assert not blocked(enf, SERVICE, None)
        (progress,) = api.http.get("/usage-limits/progress/").json()
        assert Decimal(progress["current_spend"]) == 0
    finally:
        admin.set_clock(offset_seconds=0)


def test_limit_of_another_key_does_not_block_this_key(
    api: Api, admin: Any, api_root: str, tmp_path: Path
) -> None:
    """A limit scoped to one API key of a team triggers and blocks only that key."""
    team = (
        api.http.get("/usage-limits/").status_code
        and api.create_limit(threshold_type="alert", amount="1000", period="day")["team_uuid"]
    )
    other_key, other_id = admin.new_api_key(team_uuid=team)
    other = Api(api_root, other_key)
    try:
        scoped = api.create_limit(
            threshold_type="limit", amount="0.00001", period="day", api_key_uuid=other_id
        )
        mine = enforcer_for(api, tmp_path / "mine.ini")
        theirs = enforcer_for(other, tmp_path / "theirs.ini")
        mine.update_from_envelope(api.track(count=2)["triggered_limits"])
        assert mine.active_limits() == []  # spend of this key is outside the scope
        theirs.update_from_envelope(other.track()["triggered_limits"])
        mine.update_from_envelope(api.track()["triggered_limits"])
        assert [e.limit_id for e in theirs.active_limits()] == [scoped["uuid"]]
        assert blocked(theirs, SERVICE, None)
        assert not blocked(mine, SERVICE, None)
    finally:
        other.http.close()


def test_deleting_or_raising_a_limit_clears_its_event(api: Api, ini_path: Path) -> None:
    """PUT above the spend, or DELETE, removes the triggered event from the next envelope."""
    limit = api.create_limit(threshold_type="limit", amount="0.00001", period="day")
    enf = enforcer_for(api, ini_path)
    enf.update_from_envelope(api.track()["triggered_limits"])
    assert blocked(enf, SERVICE, None)
    body = {"threshold_type": "limit", "amount": 5, "period": "day"}
    response = api.http.put(f"/usage-limits/{limit['uuid']}/", json=body)
    assert response.status_code == 200 and response.json()["amount"] == "5"
    enf.update_from_envelope(api.triggered())
    assert not blocked(enf, SERVICE, None)
    body["amount"] = "0.00001"
    api.http.put(f"/usage-limits/{limit['uuid']}/", json=body)  # already over: triggers again
    enf.update_from_envelope(api.triggered())
    assert blocked(enf, SERVICE, None)
    assert api.http.delete(f"/usage-limits/{limit['uuid']}/").status_code == 204
    enf.update_from_envelope(api.track()["triggered_limits"])
    assert not blocked(enf, SERVICE, None)


def test_usage_limit_crud_and_validation(api: Api, api_root: str, admin: Any) -> None:
    """CRUD answers the contract's shapes; other teams cannot see a limit; bad bodies get 422."""
    created = api.create_limit(
        threshold_type="alert",
        amount=12.5,
        period="month",
        service_key=SERVICE,
        client="acme",
        notification_list=["ops@example.com"],
    )
    assert created["service"] == SERVICE and created["client"] == "acme"
    assert created["amount"] == "12.5" and created["active"] is True
    assert api.http.get("/usage-limits/").json() == [created]
    assert api.http.get(f"/usage-limits/{created['uuid']}/").json() == created
    stranger_key, _ = admin.new_api_key()
    stranger = httpx.Client(base_url=api_root, headers={"Authorization": f"Bearer {stranger_key}"})
    with stranger:
        assert stranger.get(f"/usage-limits/{created['uuid']}/").status_code == 404
        assert stranger.delete(f"/usage-limits/{created['uuid']}/").status_code == 404
        assert stranger.get("/usage-limits/").json() == []
    for bad in (
        {"threshold_type": "limit", "amount": "1", "period": "week"},
        {"threshold_type": "block", "amount": "1", "period": "day"},
        {"threshold_type": "limit", "amount": "-1", "period": "day"},
        {"threshold_type": "limit", "amount": "1e999999999", "period": "day"},
        {"threshold_type": "limit", "amount": "1e-99", "period": "day"},
        {"threshold_type": "limit", "amount": "NaN", "period": "day"},
        {"threshold_type": "limit", "amount": "1", "period": "day", "vendor": "x"},
    ):
        response = api.http.post("/usage-limits/", json=bad)
        assert response.status_code == 422, bad
        assert "detail" in response.json()
    other_team = {"threshold_type": "limit", "amount": "1", "period": "day", "team_uuid": "t"}
    assert api.http.post("/usage-limits/", json=other_team).status_code == 403
    assert api.http.get("/usage-limits/nope/").status_code == 404
    assert (
        api.http.get("/usage-limits/", headers={"Authorization": "Bearer wrong"}).status_code == 401
    )


def test_envelope_shape_and_public_key_delivery(api: Api) -> None:
    """GET and every /track response carry the PEM (any worker may answer); claims per §5.2."""
    first = api.track()["triggered_limits"]
    second = api.track()["triggered_limits"]
    assert first["public_key"] == second["public_key"]
    fetched = api.triggered()
    assert fetched["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    assert fetched["version"] == "v1" and fetched["key_id"] == first["key_id"]
    claims = claims_of(fetched)
    assert claims["iss"] == "aicm-api" and claims["sub"] == api.key_id
    assert claims["version"] == "v1" and claims["key_id"] == fetched["key_id"]
    assert claims["triggered_limits"] == [] and claims["jti"]
    assert claims_of(second)["iat"] >= claims_of(first)["iat"]


def test_published_sdk_verification_accepts_our_tokens(api: Api) -> None:
    """The server's token passes PyJWT's decode exactly as aicostmanager 0.3.2 calls it."""
    api.track()
    fetched = api.triggered()
    token, pem = fetched["encrypted_payload"], fetched["public_key"]
    # aicostmanager 0.3.2, config_manager.ConfigManager._decode; the leeway only covers the
    # server's clock, which other tests of this session may have moved ahead.
    ahead = max(0.0, claims_of(fetched)["iat"] - time.time())
    claims = jwt.decode(token, pem, algorithms=["RS256"], issuer="aicm-api", leeway=ahead + 1)
    assert claims == claims_of(fetched)
    assert jwt.get_unverified_header(token) == {
        "alg": "RS256",
        "typ": "JWT",
        "kid": fetched["key_id"],
    }
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB"),
            pem,
            algorithms=["RS256"],
            issuer="aicm-api",
        )


def test_non_empty_sets_always_carry_the_public_key(api: Api, tmp_path: Path) -> None:
    """Once something triggered, every /track envelope has the PEM (fresh clients can verify)."""
    api.track()
    api.create_limit(threshold_type="limit", amount="0.00001", period="day")
    envelope = api.track()["triggered_limits"]
    assert envelope["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    fresh = enforcer_for(api, tmp_path / "fresh.ini")
    fresh.update_from_envelope(envelope)
    assert blocked(fresh, SERVICE, None)


def test_signing_key_survives_a_restart() -> None:
    """The key pair lives in the server's database: same key id after stop/start."""
    key = "sk-test-restart.11111111-2222-3333-4444-555555555555"
    server = LocalServer(api_keys=[key])
    server.start()
    try:
        headers = {"Authorization": f"Bearer {key}"}
        before = httpx.get(server.api_root + "/triggered-limits", headers=headers).json()
        server.stop()
        server.start()
        after = httpx.get(server.api_root + "/triggered-limits", headers=headers).json()
    finally:
        server.stop()
    assert before["key_id"] == after["key_id"]
    assert before["public_key"] == after["public_key"]
