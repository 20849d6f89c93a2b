"""In chromium: a wrong token does not sign in; a deployer drives the rollout from its page;
a viewer sees no rollout buttons and the server refuses the request a button would send."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import Site, Watched, signed_in

# the first test of a worker waits for the run's one quickstart (about a minute)
pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(600)]


def test_wrong_token_does_not_sign_in(browser, site: Site) -> None:
    context = browser.new_context()
    watched = Watched(context.new_page(), site)
    watched.expected_statuses.add(401)
    watched.goto("/ui/login")
    watched.page.get_by_label("API token").fill("shp_not-a-real-token")
    watched.page.get_by_role("button", name="Sign in").click()
    watched.page.wait_for_load_state("load")
    assert watched.page.get_by_role("alert").inner_text().startswith("Sign-in failed")
    assert not [c for c in context.cookies() if c["name"] == "shipyard_session"]
    response = watched.goto("/ui")
    assert watched.page.url.startswith(f"{site.url}/ui/login"), "signed out: back to sign-in"
    assert response is not None
    watched.clean()
    context.close()


def _status(page) -> str:
    return page.locator("dl.facts .state").first.inner_text()


def test_deployer_pauses_resumes_and_aborts_from_the_page(
    browser, site: Site, slow_rollout: str
) -> None:
    deployer = signed_in(browser, site, "deployer")
    page = deployer.page
    deployer.goto(f"/ui/rollouts/{slow_rollout}")
    assert _status(page) == "running"
    page.get_by_role("button", name="Pause").click()
    page.wait_for_load_state("load")
    assert _status(page) == "paused"
    page.get_by_role("button", name="Resume").click()
    page.wait_for_load_state("load")
    assert _status(page) == "running"
    page.get_by_role("button", name="Abort").click()
    page.wait_for_load_state("load")
    assert _status(page) in ("aborted", "rolled_back")
    assert page.get_by_role("button", name="Resume").count() == 0
    deployer.clean()
    client = site.client()
    try:
        events = [e.kind for e in client.rollout_events(client.rollout(slow_rollout).id)]
    finally:
        client.close()
    assert {"pause", "resume", "aborted"} <= set(events), events
    page.context.close()


def test_deployer_promotes_from_the_page(browser, site: Site, slow_rollout: str) -> None:
    deployer = signed_in(browser, site, "deployer")
    deployer.goto(f"/ui/rollouts/{slow_rollout}")
    deployer.page.get_by_role("button", name="Promote").click()
    deployer.page.wait_for_load_state("load")
    assert _status(deployer.page) == "promoted"
    deployer.clean()
    deployer.page.context.close()


def test_viewer_sees_no_buttons_and_is_refused(browser, site: Site, slow_rollout: str) -> None:
    viewer = signed_in(browser, site, "viewer")
    page = viewer.page
    viewer.goto(f"/ui/rollouts/{slow_rollout}")
    assert _status(page) == "running"
    for action in ("Promote", "Pause", "Resume", "Abort"):
        assert page.get_by_role("button", name=action).count() == 0
    # the request a Pause button would send, from this signed-in page, with its CSRF token
    csrf = page.locator("form[action='/ui/logout'] input[name=csrf_token]").get_attribute("value")
    viewer.expected_statuses.add(403)
    refused = page.request.post(
        f"{site.url}/ui/rollouts/{slow_rollout}/pause", form={"csrf_token": csrf or ""}
    )
    assert refused.status == 403
    assert re.search(r"deploy", refused.text(), re.I)
    viewer.goto(f"/ui/rollouts/{slow_rollout}")
    assert _status(page) == "running", "the refused request changed nothing"
    viewer.clean()
    page.context.close()
