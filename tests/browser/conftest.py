"""The dashboard in a real browser: Debian's chromium driven by Playwright for Python, over a
workspace made by ``shipyard quickstart`` and served by ``shipyard serve`` as users start it
(authentication on).

No browser is downloaded: Playwright launches ``/usr/bin/chromium`` (``.ci/run`` installs
Debian's package when missing). Without it these tests skip, except under CI, where they fail.
Screenshots go to ``SHIPYARD_SCREENSHOTS`` or ``<repo>/build/screenshots``.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipyard import Client
from shipyard.config import StoreSettings
from shipyard.deploy.rollouts import RolloutSpec
from shipyard.server.background import free_port

CHROMIUM = os.environ.get("SHIPYARD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENT = "breast-cancer"

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _need_browser() -> None:
    missing = not Path(CHROMIUM).exists()
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = True
    if missing:
        reason = f"no chromium at {CHROMIUM} or no playwright (install Debian's chromium)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def screenshots() -> Path:
    folder = Path(os.environ.get("SHIPYARD_SCREENSHOTS", ROOT / "build" / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Site:
    """A served quickstart workspace and a token per role."""

    url: str
    home: Path
    tokens: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path
    facts: dict[str, Any] = field(default_factory=dict)

    def client(self) -> Client:
        return Client(settings=StoreSettings(home=self.home, user="browser-tests"))


def _quickstart_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ``shipyard quickstart`` workspace per test run, shared by the xdist workers (the
    first to get the lock makes it; the others wait and reuse it)."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    made = shared / "browser-quickstart"
    with (shared / "browser-quickstart.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (made / "done").exists():
            shutil.rmtree(made, ignore_errors=True)
            shipyard = str(Path(sys.executable).parent / "shipyard")
            run = subprocess.run(
                [shipyard, "--home", str(made / "ws"), "quickstart"],
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
            (made / "done").touch()
    return made / "ws"


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """This worker's own copy of the quickstart's workspace, served as users serve it."""
    _need_browser()
    home = tmp_path_factory.mktemp("browser") / "ws"
    shutil.copytree(_quickstart_once(tmp_path_factory), home)
    shipyard = str(Path(sys.executable).parent / "shipyard")
    client = Client(settings=StoreSettings(home=home, user="browser-tests"))
    tokens = {
        role: client.create_token(f"browser-{role}", role).token
        for role in ("admin", "deployer", "viewer")
    }
    client.close()
    port = free_port()
    log = home.parent / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [shipyard, "--home", str(home), "serve", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "SHIPYARD_POLL_INTERVAL_S": "0.2"},
        )
    url = f"http://127.0.0.1:{port}"
    _wait_ready(url, process, log)
    yield Site(url, home, tokens, process, log)
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise AssertionError(f"server exited: {log.read_text()[-3000:]}")
        time.sleep(0.1)
    process.kill()
    raise AssertionError("server not ready in 60 s")


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[Any]:
    """Per module, not per session: Playwright's sync API keeps an event loop running in
    this thread while it lives, and the worker's next tests elsewhere call asyncio.run."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Watched:
    """A page that records console errors, uncaught exceptions and failed requests."""

    def __init__(self, page: Any, site: Site) -> None:
        self.page = page
        self.site = site
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"uncaught: {error}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)
        self.expected_statuses: set[int] = set()

    def _console(self, message: Any) -> None:
        expected = any(f"status of {code} " in message.text for code in self.expected_statuses)
        if message.type == "error" and not expected:
            where = message.location.get("url", "") if message.location else ""
            self.problems.append(f"console error: {message.text} ({where})")

    def _failed(self, request: Any) -> None:
        if request.failure == "net::ERR_ABORTED":
            return  # the page navigated away (a form was submitted) before it finished
        self.problems.append(f"request failed: {request.url} {request.failure}")

    def _response(self, response: Any) -> None:
        if response.status >= 400 and response.status not in self.expected_statuses:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def goto(self, path: str) -> Any:
        response = self.page.goto(self.site.url + path, wait_until="load")
        self.page.wait_for_load_state("networkidle")
        return response

    def clean(self) -> None:
        assert not self.problems, "\n".join(self.problems)


def signed_in(browser: Any, site: Site, role: str) -> Watched:
    """A fresh browser context signed in through the sign-in form with the role's token."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    watched = Watched(context.new_page(), site)
    watched.goto("/ui/login")
    watched.page.get_by_label("API token").fill(site.tokens[role])
    watched.page.get_by_role("button", name="Sign in").click()
    watched.page.wait_for_url(f"{site.url}/ui")
    return watched


def start_slow_rollout(site: Site) -> str:
    """A running rollout on the quickstart's deployment that stays on its first step (the
    one already running, resumed if a test paused it, or a new one to a version the
    deployment does not serve)."""
    client = site.client()
    try:
        latest = client.store.rollouts.latest_for(DEPLOYMENT)
        if latest is not None and latest.status == "paused":
            client.resume_rollout(DEPLOYMENT)
        elif latest is None or latest.status not in ("running", "paused"):
            target = client.get_deployment(DEPLOYMENT).policy["target"]
            served = client.store.registry.get_version(
                target["model"], version=target.get("version"), alias=target.get("alias")
            )
            other = next(
                v for v in client.list_model_versions(served.name) if v.version != served.version
            )
            client.start_rollout(
                DEPLOYMENT,
                RolloutSpec(
                    to=f"{other.name}/{other.version}",
                    steps=(10, 100),
                    interval_s=3600,
                    deadline_s=7200,
                ),
            )
    finally:
        client.close()
    return DEPLOYMENT


@pytest.fixture
def slow_rollout(site: Site) -> str:
    return start_slow_rollout(site)


def shot(watched: Watched, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    watched.page.screenshot(path=str(path), full_page=True)
    return path


def copy_for_readme(source: Path, name: str) -> None:
    """README images are made here, from the quickstart's workspace (SHIPYARD_README_IMAGES=1)."""
    if os.environ.get("SHIPYARD_README_IMAGES"):
        target = ROOT / "docs" / "images" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
