"""``shipyard stream consume`` processes, as users start them, killed at random points."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import redis

from shipyard import Client
from shipyard.serving.stream.config import as_text
from tests.server.models import Threshold
from tests.stream.conftest import Keys

SHIPYARD = str(Path(sys.executable).parent / "shipyard")
MESSAGES = 10_000
KILLS = 20
PRODUCE_S = 40.0  # about as long as the kills take


@dataclass
class Running:
    name: str
    process: subprocess.Popen[bytes]
    since: float

    @classmethod
    def start(cls, home: Path, redis_url: str, keys: Keys, number: int) -> Running:
        name = f"c{number}"
        return cls(name, start_consumer(home, redis_url, keys, name), time.monotonic())


def wait_for_joined(
    sync: redis.Redis, keys: Keys, alive: list[Running], at_least: int
) -> list[Running]:
    """Consumers that have read from the group (a consumer joins at its first read)."""
    deadline = time.monotonic() + 60
    while True:
        joined = {as_text(c["name"]) for c in sync.xinfo_consumers(keys.stream, "g")}
        ready = [c for c in alive if c.name in joined]
        if len(ready) >= at_least:
            return ready
        assert time.monotonic() < deadline, "consumers did not start in 60 s"
        time.sleep(0.05)


def start_consumer(home: Path, redis_url: str, keys: Keys, name: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            SHIPYARD, "--home", str(home), "stream", "consume", "e2e",
            "--redis", redis_url, "--stream", keys.stream, "--group", "g",
            "--consumer", name, "--batch", "50", "--min-idle", "1s", "--max-deliveries", "10",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip


def produce(redis_url: str, keys: Keys, rows: list[dict[str, str]], seconds: float) -> list[str]:
    """``rows`` paced over ``seconds``, the way a producer keeps adding work."""
    client = redis.Redis.from_url(redis_url)
    ids: list[str] = []
    chunk = 250
    pause = seconds / (len(rows) / chunk)
    for start in range(0, len(rows), chunk):
        pipe = client.pipeline(transaction=False)
        for fields in rows[start : start + chunk]:
            pipe.xadd(keys.stream, fields)  # type: ignore[arg-type]
        ids.extend(i.decode() for i in pipe.execute())
        time.sleep(pause)
    client.close()
    return ids


@pytest.mark.slow
def test_consumers_killed_at_random_lose_nothing_and_answer_each_id_once(
    workspace: Client, keys: Keys, redis_url: str
) -> None:
    # Each model call takes 0.1 s, so a consumer holds its batches long enough for
    # kills to land mid-batch (a fast model answers before any kill arrives).
    workspace.register_model(
        Threshold(0.5, delay_s=0.1), name="e2e", sample_input=pd.DataFrame({"x": [0.0, 1.0]})
    )
    workspace.create_deployment("e2e", "e2e/1")
    rows = [{"x": str(i % 100 / 100)} for i in range(MESSAGES)]
    planted = {7: {"inputs": "{not json"}, 4321: {"y": "1"}, 9876: {"inputs": "[]"}}
    for index, fields in planted.items():
        rows[index] = fields
    home = Path(workspace.settings.home)
    rng = random.Random(13)
    produced: list[str] = []
    producer = threading.Thread(
        target=lambda: produced.extend(produce(redis_url, keys, rows, seconds=PRODUCE_S)),
        daemon=True,
    )
    sync = redis.Redis.from_url(redis_url)
    sync.xgroup_create(keys.stream, "g", id="0", mkstream=True)
    alive = [Running.start(home, redis_url, keys, n) for n in range(3)]
    stranded = 0  # messages killed consumers held unacknowledged: the survivors' to reclaim
    try:
        producer.start()
        for kill in range(KILLS):
            time.sleep(rng.uniform(1.0, 2.5))
            # Starting takes seconds (imports, model load) on a busy 2-core machine: kill a
            # consumer that has joined the group, at a random moment of its work.
            victim = rng.choice(wait_for_joined(sync, keys, alive, at_least=1))
            alive.remove(victim)
            victim.process.send_signal(signal.SIGKILL)
            victim.process.wait()
            owners = sync.xpending(keys.stream, "g")["consumers"]
            stranded += sum(c["pending"] for c in owners if c["name"] == victim.name.encode())
            alive.append(Running.start(home, redis_url, keys, 3 + kill))
        producer.join()

        deadline = time.monotonic() + 60
        while sync.xlen(keys.out) + sync.xlen(keys.dead) < MESSAGES and time.monotonic() < deadline:
            time.sleep(0.2)
        wait_for_joined(sync, keys, alive, at_least=len(alive))  # then SIGTERM is handled
        for consumer in alive:  # survivors stop gracefully
            consumer.process.send_signal(signal.SIGTERM)
        codes = [c.process.wait(timeout=30) for c in alive]
        errors = [c.process.stderr.read().decode() for c in alive if c.process.stderr is not None]
        assert codes == [0] * len(alive), errors
    finally:  # a failure must not leave consumers or the producer writing to Redis
        for consumer in alive:
            if consumer.process.poll() is None:
                consumer.process.kill()
                consumer.process.wait()
        producer.join()

    answered = Counter(f[b"id"].decode() for _, f in sync.xrange(keys.out))
    dead = {f[b"id"].decode(): f[b"reason"].decode() for _, f in sync.xrange(keys.dead)}
    sync.close()
    assert len(produced) == MESSAGES
    assert stranded > 0, "no kill left work behind: the test did not exercise recovery"
    print(f"{stranded} messages stranded by kills were reclaimed")
    planted_ids = {produced[i] for i in planted}
    assert [i for i, n in answered.items() if n > 1] == []  # each id answered once
    missing = set(produced) - planted_ids - set(answered)
    assert not missing, f"{len(missing)} unanswered; dead letters: {Counter(dead.values())}"
    assert dead == {produced[7]: "malformed", produced[4321]: "invalid", produced[9876]: "invalid"}
