"""Redis for stream tests: the real server on 127.0.0.1:6379, a unique key prefix per
test (deleted afterwards), and a workspace with deployments to consume for.

Unreachable Redis skips the tests with the reason, except under ``CI``, where
they fail: CI must run them.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import redis
import redis.asyncio as aioredis

from shipyard import Client
from shipyard.config import ServerSettings, StoreSettings
from shipyard.deploy.policy import ServingConfig
from tests.server.models import Explodes, Threshold

REDIS_URL = os.environ.get("SHIPYARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
#: Fast store polling and flushing, so tests see routing changes and logs quickly.
FAST = ServerSettings(poll_interval_s=0.05, stats_flush_s=0.2, prediction_log_flush_s=0.1)


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        reason = f"Redis at {REDIS_URL} is unreachable: {exc}"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set, so Redis tests must run, but {reason}")
        pytest.skip(reason)
    return REDIS_URL


@dataclass
class Keys:
    """Stream names under one test's own prefix."""

    prefix: str

    @property
    def stream(self) -> str:
        return f"{self.prefix}:in"

    @property
    def out(self) -> str:
        return f"{self.stream}:out"

    @property
    def dead(self) -> str:
        return f"{self.stream}:dead"


@pytest.fixture
def keys(redis_url: str) -> Iterator[Keys]:
    prefix = f"shipyard-test:{uuid.uuid4().hex[:12]}"
    yield Keys(prefix)
    sync = redis.Redis.from_url(redis_url)
    found = list(sync.scan_iter(match=f"{prefix}*", count=1000))
    if found:
        sync.delete(*found)
    sync.close()


@pytest.fixture
async def r(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def workspace(tmp_path: Path, fitted_pipeline, breast_cancer) -> Iterator[Client]:
    """``cancer`` (alias champion -> v1; v2 is a weaker model), ``explodes`` (raises
    for x == 13) and ``slow`` (each model call takes 0.3 s)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = breast_cancer
    client = Client(settings=StoreSettings(home=tmp_path / "ws", user="tester"))
    client.register_model(fitted_pipeline, name="cancer", sample_input=X[:50])
    weak = make_pipeline(StandardScaler(), LogisticRegression(C=0.001)).fit(X, y)
    client.register_model(weak, name="cancer", sample_input=X[:50])
    client.set_alias("cancer", "champion", 1)
    client.create_deployment("cancer", "cancer@champion")
    x = pd.DataFrame({"x": [1.0, 2.0]})
    client.register_model(Explodes(), name="explodes", sample_input=x)
    client.create_deployment("explodes", "explodes/1", serving=ServingConfig(max_wait_ms=20))
    client.register_model(Threshold(0.5, delay_s=0.3), name="slow", sample_input=x)
    client.create_deployment("slow", "slow/1")
    yield client
    client.close()


async def wait_for_length(r: aioredis.Redis, key: str, n: int, timeout_s: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while await r.xlen(key) < n:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{key} has {await r.xlen(key)} entries, expected {n}")
        await asyncio.sleep(0.02)


def decoded(entries: list) -> list[tuple[str, dict[str, str]]]:
    return [(i.decode(), {k.decode(): v.decode() for k, v in f.items()}) for i, f in entries]
