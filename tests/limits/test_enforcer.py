"""The enforcer alone: verification, replacement rules, matching, alerts (no server needed)."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import anyio
import pytest
from limits_helpers import SERVICE, Signer, b64, claims_of, make_event

from aicostmanager import _exceptions
from aicostmanager._limits import TriggeredLimit, TriggeredLimitsEnforcer

KEY = "sk-test-secret.key-1"


def enforcer(ini_path: Path, **kwargs: Any) -> TriggeredLimitsEnforcer:
    kwargs.setdefault("api_key", KEY)
    return TriggeredLimitsEnforcer(ini_path=ini_path, **kwargs)


def blocked(
    enf: TriggeredLimitsEnforcer, service: str | None = SERVICE, customer: str | None = None
) -> bool:
    try:
        enf.check(service, customer)
    except _exceptions.UsageLimitExceeded:
        return True
    return False


def test_limit_blocks_matching_service_only(ini_path: Path, signer: Signer) -> None:
    """A limit event blocks its service; other services and other keys' events do not block."""
    enf = enforcer(ini_path)
    event = make_event(api_key_id="key-1")
    enf.update_from_envelope(
        signer.envelope([event, make_event(service_key="x::y", api_key_id="other")])
    )
    with pytest.raises(_exceptions.UsageLimitExceeded) as info:
        enf.check(SERVICE, "acme")
    assert info.value.triggered_limits[0].limit_id == event["limit_id"]
    assert event["limit_id"] in str(info.value)
    assert not blocked(enf, "openai::gpt-4o")
    assert not blocked(enf, "x::y")  # that event is for another API key


def test_customer_scope_and_wildcards(ini_path: Path, signer: Signer) -> None:
    """Null scope fields are wildcards; a customer-scoped event blocks only that customer."""
    enf = enforcer(ini_path)
    enf.update_from_envelope(signer.envelope([make_event(service_key=None, customer_key="acme")]))
    assert blocked(enf, "any::service", "acme")
    assert not blocked(enf, "any::service", "globex")
    assert not blocked(enf, "any::service", None)


def test_key_without_dot_matches_any_key(ini_path: Path, signer: Signer) -> None:
    """A key with no id part matches events of any API key."""
    enf = enforcer(ini_path, api_key="no-dot-key")
    enf.update_from_envelope(signer.envelope([make_event(api_key_id="whatever")]))
    assert blocked(enf)


def test_alert_reports_but_does_not_block(
    ini_path: Path, signer: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    """An alert calls on_alert once (and logs) but never blocks."""
    seen: list[list[TriggeredLimit]] = []
    enf = enforcer(ini_path, on_alert=seen.append)
    alert = make_event(threshold_type="alert")
    with caplog.at_level(logging.WARNING, logger="aicostmanager.limits"):
        enf.update_from_envelope(signer.envelope([alert]))
        enf.update_from_envelope(signer.envelope([alert]))
    assert not blocked(enf)
    assert [[e.event_id for e in batch] for batch in seen] == [[alert["event_id"]]]
    assert "usage alert triggered" in caplog.text


def test_alert_callback_errors_are_logged(
    ini_path: Path, signer: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    """A raising on_alert callback is logged and does not break the update."""

    def boom(events: list[TriggeredLimit]) -> None:
        raise RuntimeError("callback bug")

    enf = enforcer(ini_path, on_alert=boom)
    with caplog.at_level(logging.ERROR, logger="aicostmanager.limits"):
        enf.update_from_envelope(
            signer.envelope([make_event(threshold_type="alert"), make_event()])
        )
    assert "on_alert callback raised" in caplog.text
    assert blocked(enf)


def _tamper(envelope: dict[str, Any]) -> dict[str, Any]:
    header, payload, signature = envelope["encrypted_payload"].split(".")
    forged = b64(b'{"iss":"aicm-api","iat":9999999999,"triggered_limits":[]}')
    return {**envelope, "encrypted_payload": f"{header}.{forged}.{signature}"}


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(_tamper, id="tampered-payload"),
        pytest.param(
            lambda env: {**env, "encrypted_payload": env["encrypted_payload"][:-4] + "AAAA"},
            id="bad-signature",
        ),
        pytest.param(lambda env: {**env, "encrypted_payload": "not-a-jws"}, id="not-a-jws"),
        pytest.param(lambda env: {**env, "public_key": "garbage"}, id="bad-pem"),
    ],
)
def test_forged_envelopes_are_rejected_and_keep_the_set(
    ini_path: Path, signer: Signer, caplog: pytest.LogCaptureFixture, forge: Any
) -> None:
    """A tampered or malformed token is logged and ignored; the previous set stays."""
    enf = enforcer(ini_path)
    enf.update_from_envelope(signer.envelope([make_event()]))
    bad = forge(signer.envelope([], iat=time.time() + 10))
    with caplog.at_level(logging.WARNING, logger="aicostmanager.limits"):
        enf.update_from_envelope(bad)
    assert "ignoring" in caplog.text
    assert blocked(enf)
    assert "sk-test-secret" not in caplog.text


def test_token_signed_by_another_key_is_rejected(
    ini_path: Path, signer: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    """Another key under a pinned key id, or a signature not matching the PEM, never applies."""
    enf = enforcer(ini_path)
    enf.update_from_envelope(signer.envelope([]))
    intruder = Signer(key_id=signer.key_id)
    with caplog.at_level(logging.WARNING, logger="aicostmanager.limits"):
        enf.update_from_envelope(intruder.envelope([make_event()], iat=time.time() + 5))
        mismatched = intruder.envelope([make_event()], iat=time.time() + 6)
        mismatched["public_key"] = signer.public_pem
        enf.update_from_envelope(mismatched)
    assert "pinned to another public key" in caplog.text
    assert "signature does not verify" in caplog.text
    assert not blocked(enf)


@pytest.mark.parametrize(
    ("claims", "alg", "reason"),
    [
        ({"iss": "someone-else"}, "RS256", "issuer"),
        ({"exp": time.time() - 60}, "RS256", "expired"),
        ({}, "HS256", "not RS256"),
        ({"iat": "yesterday"}, "RS256", "iat"),
    ],
)
def test_bad_claims_are_rejected(
    ini_path: Path,
    signer: Signer,
    caplog: pytest.LogCaptureFixture,
    claims: dict[str, Any],
    alg: str,
    reason: str,
) -> None:
    """Wrong issuer, an expired token, another algorithm or a bad iat never block."""
    enf = enforcer(ini_path)
    envelope = signer.envelope([make_event()], **claims)
    if alg != "RS256":
        envelope["encrypted_payload"] = signer.token(claims_of(envelope), alg=alg)
    with caplog.at_level(logging.WARNING, logger="aicostmanager.limits"):
        enf.update_from_envelope(envelope)
    assert reason in caplog.text
    assert not blocked(enf)


def test_unexpired_exp_is_accepted(ini_path: Path, signer: Signer) -> None:
    """A token whose exp is in the future is accepted."""
    enf = enforcer(ini_path)
    enf.update_from_envelope(signer.envelope([make_event()], exp=time.time() + 600))
    assert blocked(enf)


def test_expired_events_are_ignored(ini_path: Path, signer: Signer) -> None:
    """An event past expires_at neither blocks nor shows in active_limits()."""
    enf = enforcer(ini_path)
    past = (datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat()
    enf.update_from_envelope(signer.envelope([make_event(expires_at=past)]))
    assert not blocked(enf)
    assert enf.active_limits() == []


def test_newer_empty_envelope_clears_and_older_is_ignored(ini_path: Path, signer: Signer) -> None:
    """A newer envelope replaces the set even when empty; an older one changes nothing."""
    enf = enforcer(ini_path)
    now = time.time()
    enf.update_from_envelope(signer.envelope([make_event()], iat=now))
    assert blocked(enf)
    enf.update_from_envelope(signer.envelope([], iat=now - 5))
    assert blocked(enf)
    enf.update_from_envelope(signer.envelope([], iat=now + 1))
    assert not blocked(enf)
    enf.update_from_envelope(signer.envelope([make_event()], iat=now + 0.5))
    assert not blocked(enf)


def test_empty_object_and_none_change_nothing(ini_path: Path, signer: Signer) -> None:
    """{} and None mean "nothing known": the set is kept; a wrapped envelope is accepted."""
    enf = enforcer(ini_path)
    enf.update_from_envelope({"triggered_limits": signer.envelope([make_event()])})
    enf.update_from_envelope({})
    enf.update_from_envelope(None)
    assert blocked(enf)


def test_missing_public_key_reuses_the_pinned_one(
    ini_path: Path, signer: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    """Without public_key the stored key verifies; with no key known the envelope is ignored."""
    fresh = enforcer(ini_path.with_name("other.ini"))
    with caplog.at_level(logging.WARNING, logger="aicostmanager.limits"):
        for _ in range(3):
            fresh.update_from_envelope(signer.envelope([make_event()], public_key=False))
    assert caplog.text.count("no public key") == 1  # said once, not on every response
    assert not blocked(fresh)
    enf = enforcer(ini_path)
    enf.update_from_envelope(signer.envelope([]))
    enf.update_from_envelope(signer.envelope([make_event()], public_key=False))
    assert blocked(enf)
    assert enf.has_public_key


def test_malformed_event_is_skipped(ini_path: Path, signer: Signer) -> None:
    """One malformed event is dropped; the valid ones still apply."""
    enf = enforcer(ini_path)
    enf.update_from_envelope(signer.envelope([{"event_id": "x"}, make_event()]))
    assert len(enf.active_limits()) == 1
    assert blocked(enf)


def test_legacy_customer_field_name(ini_path: Path, signer: Signer) -> None:
    """0.1-era events naming the customer scope client_customer_key are understood."""
    enf = enforcer(ini_path)
    event = make_event(customer_key=None)
    event["client_customer_key"] = "acme"
    enf.update_from_envelope(signer.envelope([event]))
    assert blocked(enf, SERVICE, "acme")
    assert not blocked(enf, SERVICE, "globex")


async def test_async_update(ini_path: Path, signer: Signer) -> None:
    """aupdate_from_envelope applies and persists like the blocking variant."""
    enf = enforcer(ini_path)
    await enf.aupdate_from_envelope(signer.envelope([make_event()]))
    assert blocked(enf)
    assert "[triggered_limits]" in await anyio.Path(ini_path).read_text()


def test_check_is_safe_from_many_threads_during_updates(ini_path: Path, signer: Signer) -> None:
    """check() in 4 threads while the set is replaced 40 times: only UsageLimitExceeded."""
    enf = enforcer(ini_path)
    envelopes = [
        signer.envelope([make_event()] if i % 2 else [], iat=1000.0 + i) for i in range(40)
    ]
    stop = threading.Event()
    errors: list[BaseException] = []
    outcomes: list[bool] = []

    def hammer() -> None:
        try:
            while not stop.is_set():
                outcomes.append(blocked(enf))
        except BaseException as exc:  # anything but UsageLimitExceeded is a bug
            errors.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for envelope in envelopes:
            enf.update_from_envelope(envelope)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert errors == []
    assert outcomes
    assert blocked(enf)  # the last envelope (i = 39) carries a limit
