"""In chromium: the dashboard works by keyboard alone, and live regions update without a
reload while the tab is visible and stop polling while it is hidden."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.browser.conftest import Site, Watched, signed_in

# the first test of a worker waits for the run's one quickstart (about a minute)
pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(600)]


def test_sign_in_navigate_and_act_by_keyboard(browser, site: Site, slow_rollout: str) -> None:
    context = browser.new_context()
    watched = Watched(context.new_page(), site)
    page = watched.page
    watched.goto("/ui/login")
    page.keyboard.press("Tab")
    for _ in range(10):  # tab to the token field, wherever it is in the order
        if page.evaluate("document.activeElement.id") == "token":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "token"
    page.keyboard.type(site.tokens["deployer"])
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site.url}/ui")
    # the main navigation is reachable with Tab; Enter follows the focused link
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('href')") == "/ui/runs":
            break
    assert page.evaluate("document.activeElement.getAttribute('href')") == "/ui/runs"
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site.url}/ui/runs")
    # a rollout action by keyboard: Tab to the Pause button, Enter presses it
    watched.goto(f"/ui/rollouts/{slow_rollout}")
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Pause":
            break
    assert page.evaluate("document.activeElement.textContent.trim()") == "Pause"
    page.keyboard.press("Enter")
    page.wait_for_load_state("load")
    assert page.locator("dl.facts .state").first.inner_text() == "paused"
    watched.clean()
    context.close()


def _hide(page, hidden: bool) -> None:
    state = "hidden" if hidden else "visible"
    page.evaluate(
        """(hidden) => {
          Object.defineProperty(document, 'hidden', {value: hidden, configurable: true});
          Object.defineProperty(document, 'visibilityState',
                                {value: hidden ? 'hidden' : 'visible', configurable: true});
          document.dispatchEvent(new Event('visibilitychange'));
        }""",
        hidden,
    )
    assert page.evaluate("document.visibilityState") == state


def test_live_regions_update_and_pause_when_hidden(browser, site: Site) -> None:
    viewer: Watched = signed_in(browser, site, "viewer")
    page = viewer.page
    polls: list[float] = []
    page.on(
        "request",
        lambda r: polls.append(time.monotonic()) if r.headers.get("x-shipyard-live") else None,
    )
    viewer.goto("/ui/deployments/breast-cancer")
    live = page.locator("[data-live][id]")
    assert live.count() >= 1, "the deployment page has live regions"
    before = page.locator("main").inner_text()
    # traffic the page should show without a reload
    body = (site.home / "quickstart-request.json").read_text()
    headers = {
        "authorization": f"Bearer {site.tokens['admin']}",
        "content-type": "application/json",
    }
    for _ in range(20):
        answer = httpx.post(
            f"{site.url}/v1/deployments/breast-cancer/predict", content=body, headers=headers
        )
        assert answer.status_code == 200, answer.text
    page.wait_for_function(
        "(before) => document.body.dataset.liveUpdated && "
        "document.querySelector('main').innerText !== before",
        arg=before,
        timeout=20_000,
    )
    assert page.evaluate("window.ShipyardLive.running()")
    _hide(page, True)
    assert not page.evaluate("window.ShipyardLive.running()")
    hidden_at = time.monotonic()
    page.wait_for_timeout(7_000)
    assert not [t for t in polls if t > hidden_at + 0.5], "no polling while the tab is hidden"
    _hide(page, False)
    assert page.evaluate("window.ShipyardLive.running()")
    shown_at = time.monotonic()
    page.wait_for_timeout(1_000)
    assert [t for t in polls if t >= shown_at - 0.1], "one refresh as soon as it is shown again"
    viewer.clean()
    page.context.close()
