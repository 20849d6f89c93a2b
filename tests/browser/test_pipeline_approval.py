"""In chromium: a deployer approves a waiting pipeline run from its page and the run goes
on to deploy; a viewer sees no Approve/Reject buttons and the POST one would send is
refused and changes nothing. The pipeline is registered in the served quickstart workspace
and run by the server's own executor."""

from __future__ import annotations

import time

import pytest

from shipyard import Client
from tests.browser.conftest import Site, signed_in
from tests.pipelines.helpers import DATASET, MODEL, make_data, serve_champion, write_pipeline

# the first test of a worker waits for the run's one quickstart (about a minute)
pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(600)]

PIPELINE = "retrain-with-approval"


def _wait_for(client: Client, run_id: int, *statuses: str, timeout_s: float = 120) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        status = client.get_pipeline_run(run_id).status
        if status in statuses:
            return status
        assert time.monotonic() < deadline, f"run {run_id} is {status}, not {statuses}"
        time.sleep(0.1)


@pytest.fixture
def waiting(site: Site, tmp_path_factory: pytest.TempPathFactory) -> int:
    """A run that waits for approval before its deploy step."""
    client = site.client()
    try:
        if PIPELINE not in {p.name for p in client.list_pipelines()}:
            serve_champion(client)
            client.add_dataset(DATASET, make_data(seed=1))
            folder = tmp_path_factory.mktemp("approval")
            client.register_pipeline(PIPELINE, str(write_pipeline(folder, approval=True)))
        run = client.run_pipeline(PIPELINE, wait=False)
        _wait_for(client, run.id, "awaiting_approval")
        return run.id
    finally:
        client.close()


def test_deployer_approves_from_the_page(browser, site: Site, waiting: int) -> None:
    deployer = signed_in(browser, site, "deployer")
    page = deployer.page
    deployer.goto(f"/ui/pipelines/runs/{waiting}")
    assert "awaiting approval" in page.locator("main").inner_text()
    page.get_by_label("Comment").fill("checked the gate")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_load_state("load")
    client = site.client()
    try:
        # approved: the server's executor goes on to the deploy step (a rollout), and it ends
        _wait_for(client, waiting, "deploying", "succeeded", "rolled_back")
        record = client.get_pipeline_run(waiting)
        assert record.params["_approval"]["approved"] is True
        assert record.params["_approval"]["by"] == "token:browser-deployer"
        if record.status == "deploying":  # end it for the next tests
            client.abort_rollout(MODEL)
            _wait_for(client, waiting, "succeeded", "rolled_back", "failed")
    finally:
        client.close()
    deployer.goto(f"/ui/pipelines/runs/{waiting}")
    decision = page.locator("main").inner_text()
    assert "approved by token:browser-deployer" in decision, decision
    assert "checked the gate" in decision
    deployer.clean()
    page.context.close()


def test_viewer_cannot_approve(browser, site: Site, waiting: int) -> None:
    viewer = signed_in(browser, site, "viewer")
    page = viewer.page
    viewer.goto(f"/ui/pipelines/runs/{waiting}")
    assert page.get_by_role("button", name="Approve").count() == 0
    assert page.get_by_role("button", name="Reject").count() == 0
    csrf = page.locator("form[action='/ui/logout'] input[name=csrf_token]").get_attribute("value")
    viewer.expected_statuses.add(403)
    refused = page.request.post(
        f"{site.url}/ui/pipelines/runs/{waiting}/approve", form={"csrf_token": csrf or ""}
    )
    assert refused.status == 403
    client = site.client()
    try:
        assert client.get_pipeline_run(waiting).status == "awaiting_approval"
        client.reject_pipeline_run(waiting, comment="cleanup after the viewer test")
    finally:
        client.close()
    viewer.clean()
    page.context.close()
