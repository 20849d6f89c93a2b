"""Signing in to the dashboard: the token for a signed cookie, refusals, revocation, CSRF."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from shipyard import Client
from shipyard.server.ui.sessions import COOKIE, SessionCodec
from tests.ui.conftest import sign_in, token_of, wait_until


def test_the_root_and_unauthenticated_pages_send_a_browser_to_sign_in(http: TestClient) -> None:
    assert http.get("/").headers["location"] == "/ui"
    for path in ("/ui", "/ui/rollouts/cancer"):
        response = http.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/ui/login?next=%2Fui")
    page = http.get("/ui/login")
    assert page.status_code == 200 and 'type="password"' in page.text
    assert (
        http.get("/ui", headers={"cookie": f"{COOKIE}=v1.forged.9999999999.00"}).status_code == 303
    )


def test_a_wrong_token_shows_the_form_again_with_401_and_no_cookie(http: TestClient) -> None:
    for token in ("shp_nope", "shp_" + "A" * 36, ""):
        response = http.post("/ui/login", data={"token": token, "next": "/ui"})
        assert response.status_code == 401
        assert "Sign-in failed" in response.text and 'name="token"' in response.text
        assert "set-cookie" not in response.headers


def test_a_session_cookie_is_httponly_strict_scoped_and_holds_no_token(
    http: TestClient, workspace: Client
) -> None:
    token = token_of(workspace, "viewer", http)
    response = http.post("/ui/login", data={"token": token, "next": "/ui/rollouts/cancer"})
    http.cookies.clear()
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/rollouts/cancer"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    assert "Secure" not in cookie  # plain http here; https below
    assert token not in cookie and token[4:] not in cookie
    over_https = TestClient(http.app, base_url="https://testserver", follow_redirects=False)
    secure = over_https.post("/ui/login", data={"token": token})
    assert "Secure" in secure.headers["set-cookie"]


def test_a_sign_in_posted_from_another_site_is_refused(http: TestClient, workspace: Client) -> None:
    token = token_of(workspace, "viewer", http)
    for headers in ({"origin": "https://evil.example"}, {"sec-fetch-site": "cross-site"}):
        response = http.post("/ui/login", data={"token": token}, headers=headers)
        assert response.status_code == 403 and "set-cookie" not in response.headers
    same = http.post("/ui/login", data={"token": token}, headers={"origin": "http://testserver"})
    http.cookies.clear()
    assert same.status_code == 303


def test_sign_in_returns_only_to_dashboard_pages(http: TestClient, workspace: Client) -> None:
    token = token_of(workspace, "viewer", http)
    for target in ("https://evil.example/", "//evil.example/ui", "/api/models", "/ui//evil"):
        response = http.post("/ui/login", data={"token": token, "next": target})
        http.cookies.clear()
        assert response.headers["location"] == "/ui", target


def test_a_session_ends_when_its_token_is_revoked_or_its_user_disabled(
    http: TestClient, workspace: Client
) -> None:
    made = workspace.create_token("ui-revoked", "viewer")
    wait_until(lambda: http.post("/ui/login", data={"token": made.token}).status_code == 303)
    cookie = sign_in(http, made.token)
    assert http.get("/ui", headers=cookie).status_code == 200
    workspace.revoke_token("ui-revoked")
    wait_until(lambda: http.get("/ui", headers=cookie).status_code == 303)
    workspace.add_user("dana", "viewer")
    danas = workspace.create_token("ui-dana", "viewer", user="dana")
    wait_until(lambda: http.post("/ui/login", data={"token": danas.token}).status_code == 303)
    dana = sign_in(http, danas.token)
    assert http.get("/ui", headers=dana).status_code == 200
    workspace.disable_user("dana")
    wait_until(lambda: http.get("/ui", headers=dana).status_code == 303)


def test_signing_out_clears_the_cookie(http: TestClient, workspace: Client) -> None:
    cookie = sign_in(http, token_of(workspace, "viewer", http))
    response = http.post("/ui/logout", headers=cookie)
    assert response.status_code == 303 and response.headers["location"] == "/ui/login"
    assert (
        f'{COOKIE}=""' in response.headers["set-cookie"]
        or "Max-Age=0" in response.headers["set-cookie"]
    )


def test_session_cookies_and_csrf_tokens_cannot_be_forged_or_outlive_their_expiry() -> None:
    codec = SessionCodec(b"k" * 32)
    other = SessionCodec(b"j" * 32)
    session = codec.issue("abc")
    assert codec.verify(session.cookie) == session
    assert other.verify(session.cookie) is None
    assert codec.verify(session.cookie.replace("abc", "abd")) is None
    assert codec.verify("garbage") is None and codec.verify(None) is None
    expired = codec.issue("abc", not_after_s=int(time.time()) - 1)
    assert codec.verify(expired.cookie) is None
    assert codec.csrf_ok(session, codec.csrf_token(session))
    assert not codec.csrf_ok(session, other.csrf_token(session))
    assert not codec.csrf_ok(session, "") and not codec.csrf_ok(None, "x")


def test_the_session_key_is_shared_by_a_workspaces_processes(tmp_path, caplog) -> None:
    from shipyard.server.ui.sessions import load_key

    first, second = load_key(None, tmp_path / "ws"), load_key(None, tmp_path / "ws")
    assert first == second and len(first) == 32
    assert (tmp_path / "ws" / "ui-session.key").stat().st_mode & 0o777 == 0o600
    assert load_key("configured", tmp_path / "ws") not in (first, load_key("other", tmp_path))
    (tmp_path / "file").write_text("not a folder")
    alone = load_key(None, tmp_path / "file")  # cannot keep a key there: this process's own
    assert len(alone) == 32 and "SHIPYARD_UI_SESSION_KEY" in caplog.text
