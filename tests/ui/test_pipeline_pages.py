"""The Pipelines pages: runs and their steps, logs and gate results, and the approval
buttons, shown only to roles that may decide, refused to the others and without CSRF."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from shipyard import Client
from shipyard.config import ServerSettings, StoreSettings
from shipyard.server.app import create_app
from shipyard.server.ui.pipeline_pages import log_tail
from tests.pipelines.helpers import DATASET, MODEL, make_data, serve_champion, write_pipeline
from tests.ui.conftest import csrf_of, sign_in, token_of


@pytest.fixture(scope="module")
def pipes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Client]]:
    """A served workspace whose retraining pipeline waits for approval before deploying;
    the server's own executor runs the pipeline's runs."""
    folder = tmp_path_factory.mktemp("ui-pipes")
    client = Client(settings=StoreSettings(home=folder / "ws", user="tester"))
    serve_champion(client)
    client.add_dataset(DATASET, make_data(seed=1))
    client.register_pipeline("retrain", str(write_pipeline(folder, approval=True)))
    settings = ServerSettings(poll_interval_s=0.05, pipeline_tick_s=0.05, controller_tick_s=0.05)
    with TestClient(create_app(settings, client=client), follow_redirects=False) as http:
        yield http, client
    client.close()


def _wait_for(client: Client, run_id: int, *statuses: str, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        status = client.get_pipeline_run(run_id).status
        if status in statuses:
            return status
        assert time.monotonic() < deadline, f"run {run_id} is {status}, not {statuses}"
        time.sleep(0.05)


@pytest.fixture
def waiting(pipes: tuple[TestClient, Client]) -> int:
    """A fresh run of ``retrain``, waiting for approval before its deploy step."""
    _, client = pipes
    run = client.run_pipeline("retrain", wait=False)
    _wait_for(client, run.id, "awaiting_approval")
    return run.id


def test_a_deployer_sees_the_steps_logs_and_gate_and_approves_from_the_page(
    pipes: tuple[TestClient, Client], waiting: int
) -> None:
    http, client = pipes
    cookie = sign_in(http, token_of(client, "deployer", http))
    page = http.get(f"/ui/pipelines/runs/{waiting}", headers=cookie)
    assert page.status_code == 200
    html = page.text
    assert "awaiting approval" in html and "before step deploy" in html
    for step in ("ingest", "holdout", "train", "register", "gate", "deploy"):
        assert f"<td>{step}</td>" in html
    assert '<pre class="log">' in html and "logged the model" in html  # train's log
    assert 'Gate <span class="state state-pass">passed</span>' in html
    assert "auc &gt;= 0.8" in html  # each check with its measured value and threshold
    assert "<td>0.8</td>" in html  # the threshold
    assert 'id="pipeline-run" data-live="5"' in html  # refreshed while the run is active
    assert ">Approve</button>" in html and ">Reject</button>" in html
    assert "shipyard pipelines show" in html

    response = http.post(
        f"/ui/pipelines/runs/{waiting}/approve",
        data={"csrf_token": csrf_of(html), "comment": "looks good"},
        headers=cookie,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/ui/pipelines/runs/{waiting}"
    record = client.get_pipeline_run(waiting)
    assert record.params["_approval"]["approved"] is True
    assert record.params["_approval"]["by"].startswith("token:ui-deployer-")  # the signed-in caller
    assert record.params["_approval"]["comment"] == "looks good"
    # the run goes on: the server's executor deploys it (a rollout) and it ends
    _wait_for(client, waiting, "deploying", "succeeded")
    after = http.get(f"/ui/pipelines/runs/{waiting}", headers=cookie).text
    assert ">Approve</button>" not in after and "approved by token:ui-deployer-" in after
    assert [e.action for e in client.audit_log(action="pipeline_run.approve", limit=1)] == [
        "pipeline_run.approve"
    ]
    if client.get_pipeline_run(waiting).status == "deploying":  # end it for the next tests
        client.abort_rollout(MODEL)
        _wait_for(client, waiting, "succeeded", "rolled_back", "failed")


def test_a_deployer_rejects_with_a_comment(pipes: tuple[TestClient, Client], waiting: int) -> None:
    http, client = pipes
    cookie = sign_in(http, token_of(client, "deployer", http))
    csrf = csrf_of(http.get(f"/ui/pipelines/runs/{waiting}", headers=cookie).text)
    response = http.post(
        f"/ui/pipelines/runs/{waiting}/reject",
        data={"csrf_token": csrf, "comment": "not today"},
        headers=cookie,
    )
    assert response.status_code == 303
    record = client.get_pipeline_run(waiting)
    assert record.status == "rejected" and "not today" in record.outcome
    page = http.get(f"/ui/pipelines/runs/{waiting}", headers=cookie).text
    assert "rejected by token:ui-deployer-" in page and "data-live" not in page  # ended
    again = http.post(
        f"/ui/pipelines/runs/{waiting}/approve", data={"csrf_token": csrf}, headers=cookie
    )
    assert again.status_code == 409 and "not awaiting approval" in again.text


def test_a_viewer_sees_no_buttons_and_is_refused_when_posting_anyway(
    pipes: tuple[TestClient, Client], waiting: int
) -> None:
    http, client = pipes
    cookie = sign_in(http, token_of(client, "viewer", http))
    page = http.get(f"/ui/pipelines/runs/{waiting}", headers=cookie)
    assert page.status_code == 200 and "awaiting approval" in page.text
    assert "</button>" not in page.text.split("<main>", 1)[1]
    assert "run_pipelines" in page.text  # says who may decide
    csrf = csrf_of(page.text)  # the sign-out form's: valid for this session
    for action in ("approve", "reject"):
        response = http.post(
            f"/ui/pipelines/runs/{waiting}/{action}", data={"csrf_token": csrf}, headers=cookie
        )
        assert response.status_code == 403, action
        assert "'run_pipelines' permission" in response.text
    assert client.get_pipeline_run(waiting).status == "awaiting_approval"
    client.reject_pipeline_run(waiting)


def test_a_decision_without_the_sessions_csrf_token_is_refused(
    pipes: tuple[TestClient, Client], waiting: int
) -> None:
    http, client = pipes
    cookie = sign_in(http, token_of(client, "deployer", http))
    for data in ({}, {"csrf_token": "0" * 64}):
        response = http.post(f"/ui/pipelines/runs/{waiting}/approve", data=data, headers=cookie)
        assert response.status_code == 403 and "CSRF" in response.text
    assert client.get_pipeline_run(waiting).status == "awaiting_approval"
    client.reject_pipeline_run(waiting)


def test_the_list_shows_pipelines_latest_runs_and_filters(
    pipes: tuple[TestClient, Client],
) -> None:
    http, client = pipes
    client.run_pipeline("retrain", wait=False)  # at least one run
    cookie = sign_in(http, token_of(client, "viewer", http))
    page = http.get("/ui/pipelines", headers=cookie)
    assert page.status_code == 200
    latest = client.pipeline_runs("retrain", limit=1)[0]
    assert f'<a href="/ui/pipelines/runs/{latest.id}">run {latest.id}</a>' in page.text
    assert "ingest → holdout → train" in page.text or "ingest → train" in page.text
    assert 'id="pipeline-runs" data-live="5"' in page.text
    assert '<label for="f-status">' in page.text
    rejected = http.get("/ui/pipelines?status=rejected", headers=cookie).text
    ids = [r.id for r in client.pipeline_runs(status="rejected")]
    for run_id in ids:
        assert f'<a href="/ui/pipelines/runs/{run_id}">{run_id}</a>' in rejected
    assert "shipyard pipelines runs --status rejected --limit 50" in rejected
    assert 'rel="next"' not in rejected  # one page


def test_bad_requests_get_a_clear_page_not_a_500(pipes: tuple[TestClient, Client]) -> None:
    http, client = pipes
    cookie = sign_in(http, token_of(client, "deployer", http))
    assert http.get("/ui/pipelines/runs/99999", headers=cookie).status_code == 404
    assert http.get("/ui/pipelines/runs/abc", headers=cookie).status_code == 404
    assert http.get("/ui/pipelines?page=0", headers=cookie).status_code == 400
    assert http.get("/ui/pipelines?page=x", headers=cookie).status_code == 400
    assert http.get("/ui/pipelines?status=exploded", headers=cookie).status_code == 400
    assert http.get("/ui/pipelines?pipeline=nope", headers=cookie).status_code == 404
    csrf = csrf_of(http.get("/ui/pipelines", headers=cookie).text)
    unknown = http.post("/ui/pipelines/runs/1/explode", data={"csrf_token": csrf}, headers=cookie)
    assert unknown.status_code == 404
    assert (
        http.post(
            "/ui/pipelines/runs/99999/approve", data={"csrf_token": csrf}, headers=cookie
        ).status_code
        == 404
    )


def test_paging_runs_reads_one_page_from_the_store(pipes: tuple[TestClient, Client]) -> None:
    _, client = pipes
    every = client.pipeline_runs("retrain", limit=1000)
    assert len(every) >= 2
    first = client.pipeline_runs("retrain", limit=1)
    second = client.pipeline_runs("retrain", limit=1, offset=1)
    assert [r.id for r in first + second] == [r.id for r in every[:2]]


def test_a_long_log_shows_its_end() -> None:
    tail = log_tail("\n".join(f"line {i}" for i in range(1000)))
    assert tail["lines"] == 1000 and tail["cut"]
    assert tail["text"].endswith("line 999") and "line 799" not in tail["text"]
    assert log_tail("x" * 50_000)["cut"] and len(log_tail("x" * 50_000)["text"]) == 20_000
    assert log_tail("short")["cut"] is False


def test_anonymous_visits_go_to_sign_in_and_are_audited_as_denied(
    pipes: tuple[TestClient, Client],
) -> None:
    http, client = pipes
    response = http.get("/ui/pipelines", headers={"x-request-id": "ui-anon-1"})
    assert response.status_code == 303 and response.headers["location"].startswith("/ui/login?")
    deadline = time.monotonic() + 5  # denials are written off the request path, once a second
    while True:
        rows = [e for e in client.audit_log(action="access.denied") if e.request_id == "ui-anon-1"]
        if rows:
            break
        assert time.monotonic() < deadline, "the denial was never recorded"
        time.sleep(0.1)
    assert rows[0].actor == "anonymous" and rows[0].object_id == "GET /ui/pipelines"
    assert rows[0].details["status"] == 401
