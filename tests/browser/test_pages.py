"""Every dashboard page, reached by following the links a signed-in admin sees from the
overview, loads in chromium with zero console errors and zero failed requests; each one is
screenshotted. The sections the issue names must all be reached."""

from __future__ import annotations

import re
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.browser.a11y import accessibility_problems
from tests.browser.conftest import Site, copy_for_readme, shot, signed_in

# the first test of a worker waits for the run's one quickstart (about a minute)
pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(600)]

SECTIONS = (
    "runs",
    "models",
    "deployments",
    "rollouts",
    "monitoring",
    "datasets",
    "pipelines",
    "audit",
)
PER_SECTION = 5
TOTAL = 45


def _slug(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", path.strip("/")).strip("-")[:80] or "root"


def _section(path: str) -> str:
    parts = urlsplit(path).path.split("/")
    return parts[2] if len(parts) > 2 else "overview"


def test_every_linked_page_loads_clean(
    browser, site: Site, slow_rollout: str, screenshots: Path
) -> None:
    admin = signed_in(browser, site, "admin")
    page = admin.page
    queue: deque[str] = deque(["/ui"])
    seen: set[str] = set()
    per_section: Counter[str] = Counter()
    visited: list[str] = []
    while queue and len(visited) < TOTAL:
        path = queue.popleft()
        if path in seen:
            continue
        seen.add(path)
        section = _section(path)
        if per_section[section] >= PER_SECTION:
            continue
        per_section[section] += 1
        response = admin.goto(path)
        assert response is not None and response.status == 200, (
            f"{path}: {response and response.status}"
        )
        assert page.locator("main h1").count() >= 1, f"{path}: no heading"
        assert page.locator("footer code.cli").count() == 1, f"{path}: no CLI twin in the footer"
        problems = accessibility_problems(page)
        assert not problems, f"{path}: {problems}"
        shot(admin, screenshots, _slug(path))
        visited.append(path)
        for href in page.eval_on_selector_all(
            "a[href]", "els => els.map(e => e.getAttribute('href'))"
        ):
            target = urlsplit(href)
            if (
                target.netloc
                or not target.path.startswith("/ui")
                or target.path.startswith("/ui/static")
            ):
                continue
            link = target.path + (f"?{target.query}" if target.query else "")
            if link not in seen:
                queue.append(link)
    admin.clean()
    reached = {_section(p) for p in visited}
    missing = [s for s in SECTIONS if s not in reached]
    assert not missing, f"sections not linked from the overview: {missing}; visited {visited}"
    copy_for_readme(screenshots / "ui.png", "dashboard-overview.png")
    page.context.close()


def _traffic(site: Site, requests: int) -> None:
    """Predictions through the deployment, so that the rollout's checks have samples."""
    body = (site.home / "quickstart-request.json").read_text()
    headers = {
        "authorization": f"Bearer {site.tokens['admin']}",
        "content-type": "application/json",
    }
    url = f"{site.url}/v1/deployments/breast-cancer/predict"
    with httpx.Client(headers=headers, timeout=30) as http, ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: http.post(url, content=body), range(requests)))
    assert all(a.status_code == 200 for a in answers)


def test_rollout_page_screenshot(browser, site: Site, slow_rollout: str, screenshots: Path) -> None:
    _traffic(site, 1500)
    admin = signed_in(browser, site, "admin")
    admin.goto(f"/ui/rollouts/{slow_rollout}")
    assert admin.page.get_by_role("heading", level=1).inner_text().startswith("Rollout")
    copy_for_readme(shot(admin, screenshots, "rollout"), "dashboard-rollout.png")
    admin.clean()
    admin.page.context.close()
