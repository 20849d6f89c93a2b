"""Webhooks: policy changes, promotions and rollbacks are POSTed, with retries."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer

import pytest

from shipyard import Client, InvalidInput
from shipyard.deploy.policy import CanaryPolicy, parse_weights
from shipyard.deploy.rollouts import RolloutSpec
from shipyard.deploy.webhooks import WebhookDispatcher, matches
from shipyard.server.background import free_port


class Receiver:
    """A local HTTP endpoint that fails the first ``failures`` posts, then records them."""

    def __init__(self, failures: int = 0) -> None:
        self.events: list[dict] = []
        self.attempts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver.attempts += 1
                body = self.rfile.read(int(self.headers["content-length"]))
                if receiver.attempts <= failures:
                    self.send_response(503)
                else:
                    receiver.events.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = HTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(failures=2)
    yield server
    server.close()


async def _dispatch_until(dispatcher: WebhookDispatcher, done, timeout: float = 10.0) -> None:
    dispatcher.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not done() and loop.time() < deadline:
        await asyncio.sleep(0.05)
    await dispatcher.close()


async def test_events_are_posted_with_retries(workspace: Client, receiver: Receiver) -> None:
    workspace.add_webhook(receiver.url, ["rollout.", "deployment."])
    dispatcher = WebhookDispatcher(workspace.store, "test", poll_s=0.05, first_backoff_s=0.05)
    dispatcher.cursor = workspace.store.events.last_id()
    workspace.set_policy("cancer", CanaryPolicy(parse_weights("cancer/1=90,cancer/2=10")))
    workspace.set_policy("cancer", CanaryPolicy(parse_weights("cancer/1=100,cancer/2=0")))
    workspace.update_deployment("cancer", model="cancer@champion")
    workspace.start_rollout("cancer", RolloutSpec(to="cancer/2"))
    workspace.abort_rollout("cancer")
    await _dispatch_until(dispatcher, lambda: len(receiver.events) >= 5)
    actions = sorted(e["action"] for e in receiver.events)
    assert actions == ["deployment.update"] * 3 + ["rollout.aborted", "rollout.start"]
    assert receiver.attempts == len(receiver.events) + 2  # two failures were retried
    start = next(e for e in receiver.events if e["action"] == "rollout.start")
    assert start["actor"] == "tester" and start["object_id"] == "cancer"
    assert start["details"]["from"]["kind"] == "single"  # from what
    assert start["details"]["to"]["kind"] == "canary"  # to what
    aborted = next(e for e in receiver.events if e["action"] == "rollout.aborted")
    assert aborted["details"]["reason"] == "aborted by hand"  # why


async def test_an_unreachable_hook_is_logged_not_fatal(
    workspace: Client, caplog: pytest.LogCaptureFixture
) -> None:
    workspace.add_webhook(f"http://127.0.0.1:{free_port()}/nothing-here")
    dispatcher = WebhookDispatcher(
        workspace.store, "test", poll_s=0.05, attempts=3, first_backoff_s=0.01
    )
    dispatcher.cursor = workspace.store.events.last_id()
    workspace.set_alias("cancer", "champion", 2)
    with caplog.at_level(logging.ERROR, logger="shipyard.deploy.webhooks"):
        await _dispatch_until(dispatcher, lambda: dispatcher.failed >= 1)
    assert dispatcher.failed == 1 and dispatcher.delivered == 0
    assert "not delivered after 3 attempts" in caplog.text


async def test_deliveries_in_flight_are_bounded(workspace: Client) -> None:
    concurrent = peak = 0
    lock = threading.Lock()

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            nonlocal concurrent, peak
            with lock:
                concurrent += 1
                peak = max(peak, concurrent)
            time.sleep(0.1)
            with lock:
                concurrent -= 1
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for i in range(6):
        workspace.add_webhook(f"http://127.0.0.1:{server.server_port}/hook-{i}")
    dispatcher = WebhookDispatcher(workspace.store, "test", poll_s=0.05, max_in_flight=2)
    dispatcher.cursor = workspace.store.events.last_id()
    workspace.set_alias("cancer", "champion", 2)
    workspace.set_alias("cancer", "champion", 1)
    try:
        await _dispatch_until(dispatcher, lambda: dispatcher.delivered >= 12)
    finally:
        server.shutdown()
    assert dispatcher.delivered == 12 and peak == 2


def test_filters_and_bad_urls(workspace: Client) -> None:
    assert matches("rollout.promote", ["rollout."]) and not matches("rollout.start", ["alias."])
    assert matches("alias.set", []) and not matches("run.start", ["*"])
    with pytest.raises(InvalidInput, match="http"):
        workspace.add_webhook("ftp://example/hook")


def test_webhook_lists_do_not_hand_out_the_secret_in_the_url(workspace: Client) -> None:
    secret_url = "https://hooks.example.test/services/T000/B000/s3cr3tT0ken?key=abc"
    workspace.add_webhook(secret_url)
    [(_, shown, _)] = workspace.list_webhooks()
    assert shown == "https://hooks.example.test/…"
    assert "s3cr3t" not in json.dumps(workspace.audit_events())
