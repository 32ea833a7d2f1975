"""Persistence of the triggered set in the INI: permissions, secrecy, reload, concurrency."""

from __future__ import annotations

import configparser
import json
import logging
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from limits_helpers import Signer, make_event

from aicostmanager._exceptions import UsageLimitExceeded
from aicostmanager._ini import update_section
from aicostmanager._limits import INSTALL_HINT, TriggeredLimitsEnforcer

KEY = "sk-test-topsecretvalue.key-1"


def test_ini_is_private_and_never_holds_the_key(ini_path: Path, signer: Signer) -> None:
    """The INI is written with mode 0600, keeps other sections and never contains the key."""
    update_section(ini_path, "tracker", {"AICM_TIMEOUT": "5"})
    enf = TriggeredLimitsEnforcer(ini_path=ini_path, api_key=KEY)
    enf.update_from_envelope(signer.envelope([make_event()]))
    assert stat.S_IMODE(ini_path.stat().st_mode) == 0o600
    text = ini_path.read_text()
    assert "topsecretvalue" not in text and KEY not in text
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    assert parser["tracker"]["aicm_timeout"] == "5"
    assert json.loads(parser["triggered_limits"]["payload"])["key_id"] == signer.key_id


def test_stored_set_is_loaded_at_start(ini_path: Path, signer: Signer) -> None:
    """A new enforcer enforces the set stored by an earlier one, and keeps its pinned key."""
    first = TriggeredLimitsEnforcer(ini_path=ini_path, api_key=KEY)
    event = make_event()
    first.update_from_envelope(signer.envelope([event]))
    second = TriggeredLimitsEnforcer(ini_path=ini_path, api_key=KEY)
    with pytest.raises(UsageLimitExceeded):
        second.check(event["service_key"], None)
    # The pinned key from the INI verifies an envelope that omits public_key.
    second.update_from_envelope(signer.envelope([], public_key=False, iat=time.time() + 1))
    second.check(event["service_key"], None)


def test_tampered_ini_is_ignored_with_a_warning(
    ini_path: Path, signer: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    """An INI payload edited by hand (signature broken) is logged and never blocks."""
    envelope = signer.envelope([])
    header, _, signature = envelope["encrypted_payload"].split(".")
    forged = signer.envelope([make_event()])["encrypted_payload"].split(".")[1]
    envelope["encrypted_payload"] = f"{header}.{forged}.{signature}"
    update_section(ini_path, "triggered_limits", {"payload": json.dumps(envelope)})
    with caplog.at_level(logging.WARNING, logger="aicostmanager.limits"):
        enf = TriggeredLimitsEnforcer(ini_path=ini_path, api_key=KEY)
    assert "failed verification" in caplog.text
    enf.check("openai::gpt-4o-mini", None)


def test_unreadable_ini_does_not_crash(ini_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A broken INI file or payload is logged; the enforcer starts empty."""
    ini_path.write_text("[triggered_limits]\npayload = {not json\n")
    with caplog.at_level(logging.WARNING, logger="aicostmanager.limits"):
        enf = TriggeredLimitsEnforcer(ini_path=ini_path, api_key=KEY)
    assert enf.active_limits() == []
    assert "not JSON" in caplog.text
    ini_path.write_text("no section header here\n")
    with caplog.at_level(logging.WARNING, logger="aicostmanager.limits"):
        TriggeredLimitsEnforcer(ini_path=ini_path, api_key=KEY)
    assert "cannot read stored triggered limits" in caplog.text


_WRITER = textwrap.dedent(
    """
    import json, sys, time, uuid, base64
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.hashes import SHA256
    from aicostmanager._limits import TriggeredLimitsEnforcer

    ini, pem_file, public_pem_file, key_id, rounds = sys.argv[1:6]
    key = serialization.load_pem_private_key(open(pem_file, "rb").read(), password=None)
    public_pem = open(public_pem_file).read()

    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    enf = TriggeredLimitsEnforcer(ini_path=ini, api_key="sk-x.k")
    for i in range(int(rounds)):
        claims = {"iss": "aicm-api", "iat": time.time(), "jti": uuid.uuid4().hex,
                  "key_id": key_id, "triggered_limits": [
                      {"event_id": uuid.uuid4().hex, "limit_id": "L" * 500,
                       "threshold_type": "limit", "amount": 1, "period": "day",
                       "service_key": "a::b"}]}
        header = b64(json.dumps({"alg": "RS256", "kid": key_id}).encode())
        payload = b64(json.dumps(claims).encode())
        sig = key.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), SHA256())
        enf.update_from_envelope({"version": "v1", "key_id": key_id, "public_key": public_pem,
                                  "encrypted_payload": f"{header}.{payload}.{b64(sig)}"})
    print("done")
    """
)


def test_two_processes_updating_the_ini_never_corrupt_it(
    ini_path: Path, signer: Signer, tmp_path: Path
) -> None:
    """Concurrent writers in two processes leave a parseable INI with a verifiable payload."""
    from cryptography.hazmat.primitives import serialization

    update_section(ini_path, "tracker", {"AICM_TIMEOUT": "7"})
    pem_file = tmp_path / "key.pem"
    pem_file.write_bytes(
        signer.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public_file = tmp_path / "pub.pem"
    public_file.write_text(signer.public_pem)
    args = [str(ini_path), str(pem_file), str(public_file), signer.key_id, "40"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    reads = 0
    while any(p.poll() is None for p in procs):
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_string(ini_path.read_text())  # readers never see a half-written file
        if parser.has_section("triggered_limits"):
            json.loads(parser["triggered_limits"]["payload"])
        reads += 1
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert out.strip() == "done"
    assert reads > 0
    assert not ini_path.with_name(ini_path.name + ".lock").exists()
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(ini_path.read_text())
    assert parser["tracker"]["aicm_timeout"] == "7"
    assert stat.S_IMODE(ini_path.stat().st_mode) == 0o600
    final = TriggeredLimitsEnforcer(ini_path=ini_path, api_key="sk-x.k")
    with pytest.raises(UsageLimitExceeded):
        final.check("a::b", None)


def test_missing_cryptography_fails_at_construction_with_install_line(tmp_path: Path) -> None:
    """Without cryptography the package imports, and the enforcer says how to install it."""
    code = textwrap.dedent(
        """
        import sys
        sys.modules["cryptography"] = None
        import aicostmanager
        from aicostmanager._limits import TriggeredLimitsEnforcer
        try:
            TriggeredLimitsEnforcer(ini_path=sys.argv[1], api_key="sk-x.k")
        except ImportError as exc:
            print("ImportError:", exc)
        """
    )
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "AICM.INI")],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ImportError:")
    assert INSTALL_HINT in proc.stdout
