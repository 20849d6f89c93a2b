"""Rollout buttons: shown only to roles that may use them, refused to the others anyway,
and only with the session's CSRF token."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from shipyard import Client
from shipyard.config import ServerSettings
from shipyard.server.app import create_app
from tests.ui.conftest import csrf_of, sign_in, token_of


def _status(workspace: Client) -> str:
    return workspace.rollout("cancer").status


def test_a_deployer_pauses_resumes_and_aborts_a_rollout_from_the_page(
    http: TestClient, workspace: Client, rollout: str
) -> None:
    cookie = sign_in(http, token_of(workspace, "deployer", http))
    page = http.get(f"/ui/rollouts/{rollout}", headers=cookie)
    for action in ("Promote", "Pause", "Abort"):
        assert f">{action}</button>" in page.text
    for action, expected in (("pause", "paused"), ("resume", "running"), ("abort", "aborted")):
        csrf = csrf_of(http.get(f"/ui/rollouts/{rollout}", headers=cookie).text)
        response = http.post(
            f"/ui/rollouts/{rollout}/{action}", data={"csrf_token": csrf}, headers=cookie
        )
        assert response.status_code == 303 and response.headers["location"] == "/ui/rollouts/cancer"
        assert _status(workspace) == expected
    events = workspace.rollout_events(workspace.rollout("cancer").id)
    assert [e.kind for e in events[-3:]] == ["pause", "resume", "aborted"]
    assert all(
        e.actor.startswith("token:ui-deployer-") for e in events[-3:]
    )  # the signed-in caller
    done = http.get(f"/ui/rollouts/{rollout}", headers=cookie).text
    assert "</button>" not in done.split("<main>", 1)[1]  # nothing left to do


def test_a_viewer_sees_no_buttons_and_is_refused_when_posting_anyway(
    http: TestClient, workspace: Client, rollout: str
) -> None:
    cookie = sign_in(http, token_of(workspace, "viewer", http))
    page = http.get(f"/ui/rollouts/{rollout}", headers=cookie)
    assert page.status_code == 200
    assert "Rollout actions" not in page.text and ">Pause</button>" not in page.text
    csrf = csrf_of(page.text)  # the sign-out form's: a valid token for this session
    for action in ("promote", "pause", "resume", "abort"):
        response = http.post(
            f"/ui/rollouts/{rollout}/{action}", data={"csrf_token": csrf}, headers=cookie
        )
        assert response.status_code == 403, action
        assert response.headers["content-type"].startswith("text/html")  # a page, not JSON
        assert "'deploy' permission" in response.text and "Not allowed" in response.text
    assert _status(workspace) == "running"


def test_a_post_without_the_sessions_csrf_token_is_refused(
    http: TestClient, workspace: Client, rollout: str
) -> None:
    deployer = sign_in(http, token_of(workspace, "deployer", http))
    other = sign_in(http, token_of(workspace, "deployer", http))
    others_token = csrf_of(http.get("/ui", headers=other).text)
    for data in ({}, {"csrf_token": "0" * 64}, {"csrf_token": others_token}):
        response = http.post(f"/ui/rollouts/{rollout}/pause", data=data, headers=deployer)
        assert response.status_code == 403 and "CSRF" in response.text
    assert _status(workspace) == "running"
    header = {**deployer, "x-csrf-token": csrf_of(http.get("/ui", headers=deployer).text)}
    assert http.post(f"/ui/rollouts/{rollout}/pause", headers=header).status_code == 303  # a script
    assert _status(workspace) == "paused"
    assert http.post(f"/ui/rollouts/{rollout}/resume", headers=header).status_code == 303


def test_an_unknown_action_is_not_found(http: TestClient, workspace: Client, rollout: str) -> None:
    cookie = sign_in(http, token_of(workspace, "deployer", http))
    csrf = csrf_of(http.get("/ui", headers=cookie).text)
    response = http.post(
        f"/ui/rollouts/{rollout}/explode", data={"csrf_token": csrf}, headers=cookie
    )
    assert response.status_code == 404


@pytest.fixture
def open_server(workspace: Client) -> Iterator[TestClient]:
    app = create_app(ServerSettings(pipelines=False, auth=False), client=workspace)
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


def test_without_auth_the_dashboard_needs_no_sign_in_but_still_checks_csrf(
    open_server: TestClient, workspace: Client, rollout: str
) -> None:
    assert open_server.get("/ui/login").headers["location"] == "/ui"
    page = open_server.get(f"/ui/rollouts/{rollout}")
    assert page.status_code == 200 and ">Pause</button>" in page.text
    assert open_server.cookies.get("shipyard_session")  # a local session, for CSRF
    refused = open_server.post(f"/ui/rollouts/{rollout}/pause", data={})
    assert refused.status_code == 403 and _status(workspace) == "running"
    csrf = csrf_of(page.text)
    done = open_server.post(f"/ui/rollouts/{rollout}/pause", data={"csrf_token": csrf})
    assert done.status_code == 303 and _status(workspace) == "paused"
    open_server.post(f"/ui/rollouts/{rollout}/resume", data={"csrf_token": csrf})
