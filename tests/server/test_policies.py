"""Traffic policies through the in-process server: canary, A/B, shadow, blue-green."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from shipyard import Client, InvalidInput
from shipyard.config import ServerSettings
from shipyard.deploy.policy import (
    ABPolicy,
    Arm,
    BlueGreenPolicy,
    CanaryPolicy,
    ShadowPolicy,
    parse_weights,
    single,
)
from shipyard.errors import Conflict, ModelNotFound
from shipyard.registry.uri import ModelRef
from shipyard.server.app import create_app
from shipyard.serving.stats import PairStats, VersionStats
from shipyard.serving.traffic import ab_bucket
from tests.conftest import bearer
from tests.server.models import Threshold


def _wait_until(check, timeout: float = 2.0) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if check():
            return time.perf_counter() - started
        time.sleep(0.01)
    raise AssertionError(f"condition not met within {timeout} s")


def _version(server: TestClient, records, **headers) -> int:
    response = server.post(
        "/v1/deployments/cancer/predict", json={"inputs": records[:1]}, headers=headers
    )
    assert response.status_code == 200, response.text
    return int(response.json()["version"])


def test_canary_weights_split_traffic(server: TestClient, workspace: Client, records) -> None:
    workspace.set_policy("cancer", CanaryPolicy(parse_weights("cancer/1=70,cancer/2=30")))
    _wait_until(lambda: _version(server, records) == 2 or _version(server, records) == 2)
    counts = Counter(_version(server, records) for _ in range(1000))
    assert abs(counts[2] / 1000 - 0.30) < 0.06  # 4.1 standard deviations at n=1000


def test_ab_assignment_is_sticky_and_split_as_weighted(
    server: TestClient, workspace: Client, records
) -> None:
    workspace.set_policy("cancer", ABPolicy(parse_weights("cancer/1=50,cancer/2=50")))
    _wait_until(
        lambda: (
            server.post("/v1/deployments/cancer/predict", json={"inputs": records[:1]}).status_code
            == 400
        )
    )
    arms = {
        key: _version(server, records, **{"X-Shipyard-Key": key})
        for key in (f"user-{i}" for i in range(40))
    }
    for _ in range(25):  # 1,000 more requests: every key keeps its arm
        for key, arm in arms.items():
            response = server.post(
                "/v1/deployments/cancer/predict",
                json={"inputs": records[:1]},
                headers={"X-Shipyard-Key": key},
            )
            assert response.json()["version"] == arm
            assert response.json()["arm"] == f"cancer/{arm}"
    split = Counter(ab_bucket(f"customer-{i}") < 50 for i in range(10_000))
    assert abs(split[True] / 10_000 - 0.5) <= 0.03


def test_ab_arms_survive_a_restart(workspace: Client, records) -> None:
    workspace.set_policy("cancer", ABPolicy(parse_weights("cancer/1=20,cancer/2=80")))
    keys = [f"k{i}" for i in range(30)]
    seen = []
    for _ in range(2):  # two server lifetimes on the same store
        with TestClient(
            create_app(ServerSettings(), client=workspace), headers=bearer(workspace)
        ) as server:
            seen.append([_version(server, records, **{"X-Shipyard-Key": k}) for k in keys])
    assert seen[0] == seen[1] and set(seen[0]) == {1, 2}


def test_ab_without_a_key_is_a_clear_error(server: TestClient, workspace: Client, records) -> None:
    workspace.set_policy("cancer", ABPolicy(parse_weights("cancer/1=50,cancer/2=50")))
    _wait_until(
        lambda: (
            server.post("/v1/deployments/cancer/predict", json={"inputs": records[:1]}).status_code
            == 400
        )
    )
    message = server.post("/v1/deployments/cancer/predict", json={"inputs": records[:1]}).json()[
        "error"
    ]["message"]
    assert "'x-shipyard-key' header" in message


def test_ab_by_input_field(workspace: Client) -> None:
    sample = pd.DataFrame({"x": [0.5, 2.0]})
    workspace.register_model(Threshold(1.0), name="th", sample_input=sample)
    workspace.register_model(Threshold(0.0), name="th", sample_input=sample)
    workspace.create_deployment("th", "th/1")
    workspace.set_policy("th", ABPolicy(parse_weights("th/1=50,th/2=50"), key="field:x"))
    with TestClient(
        create_app(ServerSettings(), client=workspace), headers=bearer(workspace)
    ) as server:
        for x in (0.25, 0.5, 3.0):
            first = server.post("/v1/deployments/th/predict", json={"inputs": [{"x": x}]})
            again = server.post("/v1/deployments/th/predict", json={"inputs": [{"x": x}]})
            assert first.json()["version"] == again.json()["version"]
            expected = 1 if ab_bucket(str(x)) < 50 else 2
            assert first.json()["version"] == expected


@pytest.fixture
def thresholds(workspace: Client) -> Iterator[Client]:
    sample = pd.DataFrame({"x": [0.5, 2.0]})
    workspace.register_model(Threshold(1.0), name="th", sample_input=sample)  # v1 primary
    workspace.register_model(Threshold(2.0), name="th", sample_input=sample)  # v2 shadow
    workspace.register_model(
        Threshold(2.0, delay_s=0.2),
        name="th",  # v3 slow
        sample_input=sample,
    )
    workspace.create_deployment("th", "th/1")
    yield workspace


def test_shadow_statistics_on_a_constructed_case(thresholds: Client) -> None:
    client = thresholds
    client.set_policy("th", ShadowPolicy(ModelRef("th", version=1), (ModelRef("th", version=2),)))
    xs = [0.5, 1.5, 2.5, 1.2, 3.0, 0.0, 1.9, 2.1]  # v1: x>1, v2: x>2
    settings = ServerSettings(stats_flush_s=0.05)
    with TestClient(create_app(settings, client=client), headers=bearer(client)) as server:
        for x in xs:
            answer = server.post("/v1/deployments/th/predict", json={"inputs": [{"x": x}]})
            assert answer.json()["version"] == 1  # the primary answers
            assert answer.json()["predictions"] == [int(x > 1)]
        time.sleep(0.3)
    pair = PairStats.merged(client.store.stats.read("th", "pair", "2~1", 0))
    assert pair.compared == len(xs)
    agree = sum(int(x > 1) == int(x > 2) for x in xs)
    assert pair.agreed == agree and pair.agreement == agree / len(xs)
    # confusion[shadow label][primary label]
    assert pair.confusion == {"0": {"0": 2, "1": 3}, "1": {"1": 3}}
    # Scores are 0.1/0.9: each disagreement moves both class scores by 0.8.
    assert pair.mean_abs_diff == pytest.approx(0.8 * (len(xs) - agree) / len(xs))
    shadow = VersionStats.merged(client.store.stats.read("th", "version", "2", 0))
    assert shadow.requests == len(xs) and shadow.classes == {"1": 3, "0": 5}


def test_a_slow_shadow_is_dropped_and_counted_not_waited_for(thresholds: Client) -> None:
    client = thresholds
    client.set_policy(
        "th", ShadowPolicy(ModelRef("th", version=1), (ModelRef("th", version=3),), timeout_ms=20)
    )
    with TestClient(
        create_app(ServerSettings(stats_flush_s=0.05), client=client), headers=bearer(client)
    ) as server:
        for x in (0.5, 1.5, 2.5):
            response = server.post("/v1/deployments/th/predict", json={"inputs": [{"x": x}]})
            assert response.status_code == 200 and response.json()["version"] == 1
        time.sleep(0.5)
    pair = PairStats.merged(client.store.stats.read("th", "pair", "3~1", 0))
    assert pair.dropped == 3 and pair.compared == 0


def test_blue_green_switch_and_back_take_effect_in_under_a_second(
    server: TestClient, workspace: Client, records
) -> None:
    workspace.set_policy(
        "cancer", BlueGreenPolicy(ModelRef("cancer", version=1), ModelRef("cancer", version=2))
    )
    _wait_until(
        lambda: (
            server.get("/api/deployments/cancer").json()["policy"]["kind"] == "blue-green"
            and _version(server, records) == 1
        )
    )
    workspace.switch_deployment("cancer")
    assert _wait_until(lambda: _version(server, records) == 2, timeout=1.0) < 1.0
    workspace.switch_deployment("cancer")
    assert _wait_until(lambda: _version(server, records) == 1, timeout=1.0) < 1.0


@pytest.mark.parametrize(
    ("make", "error", "fragment"),
    [
        (
            lambda: CanaryPolicy(parse_weights("cancer/1=90,cancer/2=20")),
            InvalidInput,
            "sum to 100, got 110",
        ),
        (
            lambda: CanaryPolicy((Arm(ModelRef("cancer", version=1), 100),)),
            InvalidInput,
            "at least two",
        ),
        (lambda: parse_weights("cancer/1:90"), InvalidInput, "MODEL=WEIGHT"),
        (
            lambda: CanaryPolicy(parse_weights("cancer/1=nan,cancer/2=nan")),
            InvalidInput,
            "weights must be numbers",
        ),
        (
            lambda: ABPolicy(parse_weights("cancer/1=50,cancer/2=50"), key="cookie"),
            InvalidInput,
            "header:<name>",
        ),
        (
            lambda: BlueGreenPolicy(ModelRef("cancer", version=1), ModelRef("cancer", version=1)),
            InvalidInput,
            "different",
        ),
    ],
)
def test_bad_policies_are_refused(make, error, fragment) -> None:
    with pytest.raises(error, match=fragment):
        make()


def test_policies_naming_unknown_versions_are_refused(workspace: Client) -> None:
    with pytest.raises(ModelNotFound, match="has no version 9"):
        workspace.set_policy("cancer", CanaryPolicy(parse_weights("cancer/1=50,cancer/9=50")))
    with pytest.raises(Conflict, match="not blue-green"):
        workspace.switch_deployment("cancer")
    assert workspace.get_deployment("cancer").policy == single("cancer@champion").to_dict()
