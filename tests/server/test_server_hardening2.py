"""Round two of the server's hardening: cross-site sign-in, sessions, CSV, unsafe JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aicostmanager.server import LocalServer
from aicostmanager.server._auth import SESSION_COOKIE, ApiKey
from aicostmanager.server._db import Database
from aicostmanager.server.app import SCHEMA
from aicostmanager.server.dashboard import Sessions

# --- 3: sign-in and sign-out refuse cross-site requests ------------------------------------


def _origin(server: LocalServer) -> str:
    return server.url


def test_text_plain_sign_in_from_another_origin_is_refused(
    local_server: LocalServer, api_key: str
) -> None:
    """A text/plain form post (no preflight) from another origin gets 403 and no cookie."""
    body = json.dumps({"api_key": api_key})
    with httpx.Client(base_url=local_server.url) as http:
        response = http.post(
            "/dashboard/login",
            content=body,
            headers={
                "Content-Type": "text/plain",
                "Origin": "http://evil.example",
                "Sec-Fetch-Site": "cross-site",
            },
        )
        assert response.status_code == 403
        assert SESSION_COOKIE not in response.cookies
        # The content type alone is refused, even without browser metadata.
        plain = http.post("/dashboard/login", content=body, headers={"Content-Type": "text/plain"})
        assert plain.status_code == 403
        assert SESSION_COOKIE not in plain.cookies


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_json_sign_in_with_foreign_origin_is_refused(
    local_server: LocalServer, api_key: str, headers: dict[str, str]
) -> None:
    """A JSON sign-in whose Origin or Sec-Fetch-Site says another site gets 403."""
    with httpx.Client(base_url=local_server.url) as http:
        response = http.post("/dashboard/login", json={"api_key": api_key}, headers=headers)
    assert response.status_code == 403, response.text
    assert SESSION_COOKIE not in response.cookies


def test_same_origin_sign_in_and_cross_site_sign_out(
    local_server: LocalServer, api_key: str
) -> None:
    """The page's own requests work; a cross-site sign-out leaves the session alive."""
    own = {"Origin": _origin(local_server), "Sec-Fetch-Site": "same-origin"}
    with httpx.Client(base_url=local_server.url) as http:
        login = http.post("/dashboard/login", json={"api_key": api_key}, headers=own)
        assert login.status_code == 204, login.text
        assert http.get("/dashboard/session").json()["signed_in"] is True
        forged = http.post(
            "/dashboard/logout",
            content="x",
            headers={"Content-Type": "text/plain", "Sec-Fetch-Site": "cross-site"},
        )
        assert forged.status_code == 403
        assert http.get("/dashboard/session").json()["signed_in"] is True
        logout = http.post("/dashboard/logout", json={}, headers=own)
        assert logout.status_code == 204
        assert http.get("/dashboard/session").json()["signed_in"] is False


# --- 4: sessions are capped per key and per team ---------------------------------------------


def test_one_key_signing_in_many_times_signs_no_other_team_out(
    local_server: LocalServer, admin: Any
) -> None:
    """More sign-ins of one key than its cap evict only that key's oldest sessions."""
    sessions: Sessions = local_server.app.state.sessions
    victim_key, _ = admin.new_api_key()
    attacker_key, _ = admin.new_api_key()
    with httpx.Client(base_url=local_server.url) as victim:
        assert victim.post("/dashboard/login", json={"api_key": victim_key}).status_code == 204
        first = None
        for i in range(sessions.per_key + 5):
            with httpx.Client(base_url=local_server.url) as attacker:
                response = attacker.post("/dashboard/login", json={"api_key": attacker_key})
                assert response.status_code == 204
                if i == 0:
                    first = response.cookies[SESSION_COOKIE]
        assert victim.get("/dashboard/session").json()["signed_in"] is True
    assert first is not None
    with httpx.Client(base_url=local_server.url, cookies={SESSION_COOKIE: first}) as gone:
        assert gone.get("/dashboard/session").json()["signed_in"] is False  # its own oldest went


async def test_sessions_evict_only_within_the_team_then_the_largest_team(tmp_path: Path) -> None:
    """Per-team and global caps evict the crowding team's oldest session, never another's."""
    db = await Database.open(str(tmp_path / "s.db"), SCHEMA)
    try:
        store = Sessions(per_key=3, per_team=4, total=6)

        async def create(key_id: str, team: str) -> str:
            return await store.create(db, ApiKey(key_id, team), f"hash-{team}-{key_id}")

        async def live(tokens: list[str]) -> list[str]:
            return [t for t in tokens if await store.get(db, t) is not None]

        other = await create("k", "team-b")
        crowd = [await create(f"k{i}", "team-a") for i in range(10)]
        assert await live([other]) == [other]
        assert await live(crowd) == crowd[-4:]
        for i in range(3):
            await create(f"c{i}", f"team-c{i}")
        # Full at 6: the next session evicts team-a's oldest (the largest team), not team-b's.
        assert await store.count(db) == 6
        await create("d", "team-d")
        assert await live([other]) == [other]
        assert await live([crowd[-4]]) == []
        assert await store.count(db) <= 6
    finally:
        await db.close()


# --- 7: CSV export neutralises formulas anywhere a spreadsheet may split a cell --------------

_NODE = shutil.which("node")


def _csv_cells(values: list[Any]) -> list[str]:
    script = resources.files("aicostmanager.server.dashboard").joinpath("static/csv.js")
    program = (
        script.read_text("utf-8")
        + "\nconst values = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        + "\nprocess.stdout.write(JSON.stringify(values.map(globalThis.AICM_CSV.cell)));"
    )
    assert _NODE is not None
    done = subprocess.run(
        [_NODE, "-e", program],
        input=json.dumps(values),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    cells: list[str] = json.loads(done.stdout)
    return cells


@pytest.mark.skipif(_NODE is None, reason="node is not installed")
def test_csv_cells_neutralise_formulas_after_separators() -> None:
    """Every trigger at a cell start or after ; , or a line break is prefixed with a quote."""
    cells = _csv_cells(
        [
            "x;=cmd|' /C calc'!A0",
            "=1+1",
            "a,+b",
            "a; @SUM(A1)",
            "\t=x",
            "a\n-b",
            'say "hi"',
            "-0.25",
            "12",
            "1e-6",
            "-",
            None,
        ]
    )
    assert cells == [
        "\"x;'=cmd|' /C calc'!A0\"",
        '"\'=1+1"',
        '"a,\'+b"',
        '"a; \'@SUM(A1)"',
        '"\'\t=x"',
        '"a\n\'-b"',
        '"say ""hi"""',
        '"-0.25"',
        '"12"',
        '"1e-6"',
        '"\'-"',
        '""',
    ]


# --- 6: NaN, infinities and lone surrogates in JSON bodies get a clean 422 --------------------

_BAD_VALUES = ("NaN", "Infinity", "-Infinity", "1e999", "-1e999", '"\\ud800"', '"a\\udfffb"')
_ENDPOINTS = {
    "/customers/": ("customer_key", "name", "email"),
    "/webhooks/": ("url", "secret", "tolerance"),
    "/custom-services/": ("custom_service_key", "configuration", "is_active"),
    "/usage-limits/": ("amount", "threshold_type", "period", "customer_key"),
}


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)
@given(
    endpoint=st.sampled_from(sorted(_ENDPOINTS)),
    field=st.integers(min_value=0, max_value=3),
    bad=st.sampled_from(_BAD_VALUES),
    shape=st.sampled_from(("{}", "[{}]", '{{"k": {}}}', '{{"\\udc00": {}}}')),
    method=st.sampled_from(("POST", "PUT")),
)
def test_unsafe_json_values_get_a_json_safe_422(
    api_root: str,
    api_key: str,
    endpoint: str,
    field: int,
    bad: str,
    shape: str,
    method: str,
) -> None:
    """Any NaN, infinity or lone surrogate anywhere in a body is a strict-JSON 422, never a 500."""
    names = _ENDPOINTS[endpoint]
    name = names[field % len(names)]
    body = '{"' + name + '": ' + shape.format(bad) + "}"
    path = endpoint if method == "POST" else f"{endpoint}00000000-0000-0000-0000-000000000000/"
    response = httpx.request(
        method,
        api_root + path,
        content=body.encode(),
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 422, (body, response.status_code, response.text)
    detail = json.loads(response.text, parse_constant=_refuse_constant)["detail"]
    assert detail and all("msg" in item and "loc" in item for item in detail)
    response.content.decode("utf-8")  # strict UTF-8: no surrogate survived


def _refuse_constant(name: str) -> Any:
    raise AssertionError(f"non-strict JSON constant {name} in a response")
