"""Who may call what: every route the app serves, for anonymous callers, each role and a
narrowed token, against the one permission table. Routes are read from the app, so a
route added without a permission entry fails here (and is refused by the server)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from shipyard import Client
from shipyard.config import ServerSettings
from shipyard.security.permissions import ROLE_PERMISSIONS, Permission, Role
from shipyard.server.app import create_app
from shipyard.server.auth import AuthApp, app_routes
from shipyard.server.route_permissions import ROUTES
from tests.conftest import bearer

PARAMS = {
    "name": "cancer",
    "version": "1",
    "alias": "challenger",
    "rollout_id": "1",
    "action": "pause",
    "run_id": "1",
    "webhook_id": "1",
    "deployment": "cancer",
    "sha256": "0" * 64,
    "upload_id": "0" * 32,
    "model_id": "m-0123456789abcdef0123456789abcdef",
    "tag_key": "k",
    "path": "1/0123456789abcdef0123456789abcdef/artifacts/f.txt",
}
#: Dashboard paths whose 303 to the sign-in page is the browser's 401.
UI_SIGN_IN = "/ui/login?"
#: Open routes that answer 401 themselves: the sign-in form, given no valid token.
OWN_401 = {("POST", "/ui/login")}
#: The bare predict app's routes, which FastAPI does not list.
PREDICT_ROUTES = [
    ("POST", "/v1/deployments/{name}/predict"),
    ("POST", "/v1/deployments/{name}/invocations"),
    ("POST", "/invocations"),
    ("POST", "/v2/models/{name}/infer"),
    ("POST", "/v2/models/{name}/versions/{version}/infer"),
    ("POST", "/v1/deployments/{name}/explain"),
    ("POST", "/v1/models/{name}:explain"),
    ("POST", "/v2/models/{name}/explain"),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Client]]:
    from shipyard.config import StoreSettings

    folder = tmp_path_factory.mktemp("access")
    client = Client(settings=StoreSettings(home=folder / "ws", user="tester"))
    app = create_app(ServerSettings(pipelines=False), client=client)
    with TestClient(app) as http:
        yield http, client
    client.close()


def _every_route(http: TestClient) -> list[tuple[str, str]]:
    api = http.app.fallback  # type: ignore[attr-defined]
    return sorted(set(app_routes(api.routes)) | set(PREDICT_ROUTES))


def _status(http: TestClient, method: str, url: str, headers: dict[str, str]) -> int:
    """The status a caller gets; the dashboard's redirect to sign in counts as a 401."""
    response = http.request(method, url, headers=headers, json={}, follow_redirects=False)
    if response.status_code == 303 and response.headers["location"].startswith(UI_SIGN_IN):
        return 401
    return response.status_code


def _url(template: str) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: PARAMS[m.group(1)], template)


def test_every_route_the_app_serves_has_a_permission_entry(served) -> None:
    http, _ = served
    missing = [route for route in _every_route(http) if route not in ROUTES]
    assert missing == [], f"routes without an entry in route_permissions.ROUTES: {missing}"
    stale = [route for route in ROUTES if route not in _every_route(http)]
    assert stale == [], f"entries for routes the app does not serve: {stale}"


def _expected(role: Role | None, method: str, template: str) -> str:
    """'open', 'allowed' or the status a denied caller gets (401/403)."""
    rule = ROUTES[(method, template)]
    if rule.anyone:
        return "open"
    if role is None:
        return "401"
    permissions = rule.permission_for({"alias": PARAMS["alias"]})
    return "allowed" if any(p in ROLE_PERMISSIONS[role] for p in permissions) else "403"


def test_role_by_route_matrix_has_no_mismatch(served) -> None:
    http, client = served
    callers: dict[Role | None, dict[str, str]] = {None: {}}
    for role in Role:
        callers[role] = bearer(client, role.value)
    _wait_until_known(http, callers[Role.ADMIN])
    mismatches = []
    checked = 0
    for method, template in _every_route(http):
        for role, headers in callers.items():
            expected = _expected(role, method, template)
            status = _status(http, method, _url(template), headers)
            checked += 1
            got = str(status) if status in (401, 403) else "allowed"
            if expected == "open":
                ok = status not in (401, 403) or (status == 401 and (method, template) in OWN_401)
            else:
                ok = got == expected
            if not ok:
                mismatches.append((role.value if role else "anonymous", method, template, status))
    assert checked >= 6 * 50
    assert mismatches == []


def test_a_predict_token_for_one_deployment_is_refused_everywhere_else(served) -> None:
    http, client = served
    headers = bearer(client, "predictor", deployments=["fraud"])
    _wait_until_known(http, headers)
    allowed = http.post("/v1/deployments/fraud/predict", headers=headers, json={"inputs": []})
    assert allowed.status_code not in (401, 403)  # 404: no such deployment here, but allowed
    other = http.post("/v1/deployments/cancer/predict", headers=headers, json={"inputs": []})
    assert other.status_code == 403 and "limited to deployments ['fraud']" in other.text
    for method, template in _every_route(http):
        rule = ROUTES[(method, template)]
        if rule.anyone or (rule.deployment and PARAMS["name"] == "fraud"):
            continue
        status = _status(http, method, _url(template), headers)
        assert status == 403, (method, template, status)


def test_moving_a_protected_alias_needs_a_deployer(served) -> None:
    http, client = served
    scientist = bearer(client, "scientist")
    deployer = bearer(client, "deployer")
    _wait_until_known(http, deployer)
    champion = http.put("/api/models/cancer/aliases/champion", headers=scientist, json={})
    assert champion.status_code == 403
    assert "set_protected_alias" in champion.json()["error"]["message"]
    challenger = http.put("/api/models/cancer/aliases/challenger", headers=scientist, json={})
    assert challenger.status_code not in (401, 403)
    assert (
        http.put("/api/models/cancer/aliases/champion", headers=deployer, json={}).status_code
        != 403
    )


def test_denials_say_what_is_missing_and_reveal_nothing(served) -> None:
    http, client = served
    anonymous = http.get("/api/models/does-not-exist")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert anonymous.json()["error"]["type"] == "Unauthorized"
    viewer = bearer(client, "viewer")
    _wait_until_known(http, viewer)
    denied = http.delete("/api/deployments/does-not-exist", headers=viewer)
    assert denied.status_code == 403  # not 404: existence is not revealed
    assert "'deploy' permission" in denied.json()["error"]["message"]
    oip = http.post("/v2/models/x/infer", headers={"authorization": "Bearer shp_nope"}, json={})
    assert oip.status_code == 401 and isinstance(oip.json()["error"], str)
    forged = "Bearer shp_" + "A" * 36  # right shape, wrong checksum: refused without a lookup
    assert http.get("/api/models", headers={"authorization": forged}).status_code == 401


def test_a_route_added_without_a_permission_entry_is_refused(tmp_path) -> None:
    """Fail closed: even an admin cannot reach a route nobody gave a permission."""
    client = Client(tmp_path / "ws")
    app = create_app(ServerSettings(pipelines=False), client=client)

    @app.fallback.get("/api/secret-added-later")
    def added() -> dict[str, str]:
        return {"leaked": "yes"}

    guarded = AuthApp(app.app, app.table, served_routes=list(app_routes(app.fallback.routes)))
    with TestClient(guarded, headers=bearer(client, "admin")) as http:
        response = http.get("/api/secret-added-later")
    assert response.status_code == 403 and "no declared permission" in response.text
    client.close()


def test_revoked_and_expired_tokens_are_refused(served) -> None:
    import time

    http, client = served
    token = client.create_token("soon-revoked", "viewer")
    headers = {"authorization": f"Bearer {token.token}"}
    _wait_until_known(http, headers)
    client.revoke_token("soon-revoked")
    _wait_until(lambda: http.get("/api/models", headers=headers).status_code == 401)
    short = client.create_token("short-lived", "viewer", expires_in_s=4)
    short_headers = {"authorization": f"Bearer {short.token}"}
    _wait_until_known(http, short_headers)
    assert short.record.expires_at is not None
    time.sleep(max(0.0, short.record.expires_at / 1000 - time.time()) + 0.05)
    assert http.get("/api/models", headers=short_headers).status_code == 401  # no reload needed
    client.add_user("bob", "viewer")
    bobs = client.create_token("bob-token", "viewer", user="bob")
    bob_headers = {"authorization": f"Bearer {bobs.token}"}
    _wait_until_known(http, bob_headers)
    client.disable_user("bob")
    _wait_until(lambda: http.get("/api/models", headers=bob_headers).status_code == 401)


def test_changes_are_audited_under_the_caller(served) -> None:
    http, client = served
    client.add_user("carol", "deployer")
    carol = client.create_token("carol-ci", "deployer", user="carol")
    headers = {"authorization": f"Bearer {carol.token}"}
    _wait_until_known(http, headers)
    hook = http.post("/api/webhooks", headers=headers, json={"url": "http://127.0.0.1:9/x"})
    assert hook.status_code == 403  # webhooks are admin-only
    policy = http.put(
        "/api/deployments/nope/policy", headers=headers, json={"kind": "single", "target": "x"}
    )
    assert policy.status_code not in (401, 403)
    admin = bearer(client, "admin")
    _wait_until_known(http, admin)
    created = http.post("/api/webhooks", headers=admin, json={"url": "http://127.0.0.1:9/x"})
    assert created.status_code == 201, created.text
    added = next(e for e in client.audit_events(limit=5) if e["action"] == "webhook.add")
    assert added["actor"].startswith("token:test-")  # the caller, not the server's OS user


def _wait_until_known(http: TestClient, headers: dict[str, str]) -> None:
    _wait_until(lambda: http.get("/version", headers=headers).status_code != 401)


def _wait_until(condition, timeout_s: float = 5.0) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "not within the poll interval"
        time.sleep(0.05)


def test_the_readme_role_table_is_the_permission_table() -> None:
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    roles = list(Role)
    documented: dict[Role, set[Permission]] = {role: set() for role in roles}
    lines = readme.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| permission | viewer"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(line)
    for line in rows:
        cells = [c.strip() for c in line.strip("|").split("|")]
        permission = Permission(re.match(r"`(\w+)`", cells[0]).group(1))  # type: ignore[union-attr]
        for role, cell in zip(roles, cells[1:], strict=True):
            if cell == "✓":
                documented[role].add(permission)
    assert {p for row in documented.values() for p in row} == set(Permission)
    assert documented == {role: set(ROLE_PERMISSIONS[role]) for role in roles}


def test_denied_requests_are_audited_without_the_token(served) -> None:
    http, client = served
    bad = "Bearer shp_" + "B" * 36
    http.get("/api/models/secret", headers={"authorization": bad, "x-request-id": "deny-1"})
    viewer = bearer(client, "viewer")
    _wait_until_known(http, viewer)
    http.delete("/api/deployments/cancer", headers={**viewer, "x-request-id": "deny-2"})

    def recorded() -> list[dict]:
        return [e for e in client.audit_events(limit=50) if e["action"] == "access.denied"]

    _wait_until(lambda: {"deny-1", "deny-2"} <= {e["details"]["request_id"] for e in recorded()})
    by_request = {e["details"]["request_id"]: e for e in recorded()}
    assert by_request["deny-1"]["actor"] == "anonymous"
    assert by_request["deny-1"]["details"]["status"] == 401
    assert by_request["deny-2"]["object_id"] == "DELETE /api/deployments/{name}"
    assert by_request["deny-2"]["details"]["status"] == 403
    assert by_request["deny-2"]["actor"].startswith("token:test-")
    assert "shp_" not in str(recorded())  # no token, not even a bad one, is written


def test_no_token_reaches_the_logs(served, caplog) -> None:
    """Valid, revoked and forged tokens, allowed and denied, at DEBUG: none is ever logged."""
    http, client = served
    caplog.set_level(logging.DEBUG)
    viewer = client.create_token("log-probe", "viewer")
    headers = {"authorization": f"Bearer {viewer.token}"}
    _wait_until_known(http, headers)
    http.get("/api/models", headers=headers)
    http.delete("/api/deployments/cancer", headers=headers)  # denied
    client.revoke_token("log-probe")
    _wait_until(lambda: http.get("/api/models", headers=headers).status_code == 401)
    forged = "shp_" + "C" * 36
    http.get("/api/models", headers={"authorization": f"Bearer {forged}"})
    logged = caplog.text + json.dumps(client.audit_events(limit=100))
    assert viewer.token not in logged and viewer.token[4:] not in logged
    assert forged not in logged
    assert "log-probe" in logged  # the token's name is what the trail shows
