"""The stream consumer in-process against the real Redis: what it writes, what it
dead-letters, how it recovers others' work, and how it follows the deployment."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
import orjson
import pytest
import redis.asyncio as aioredis

from shipyard import Client
from shipyard.errors import DeploymentNotFound
from shipyard.serving.stream import StreamConsumer, StreamNotFound, StreamUnavailable
from tests.stream.conftest import FAST, Keys, decoded, wait_for_length


def consumer_for(
    client: Client, keys: Keys, redis_url: str, deployment: str = "cancer", **options: Any
) -> StreamConsumer:
    options = {"consumer": "c1", "block_ms": 100, "settings": FAST, **options}
    return client.stream_consumer(
        deployment, redis_url=redis_url, stream=keys.stream, group="g", **options
    )


def as_fields(record: dict[str, Any]) -> dict[str, str]:
    return {k: repr(float(v)) for k, v in record.items()}


async def run_until(consumer: StreamConsumer, r: aioredis.Redis, key: str, n: int) -> None:
    task = asyncio.create_task(consumer.serve())
    try:
        await wait_for_length(r, key, n)
    finally:
        consumer.stop()
        await task


async def test_rows_and_json_inputs_are_scored_like_the_model(
    workspace: Client, keys: Keys, redis_url: str, r: aioredis.Redis, breast_cancer, fitted_pipeline
) -> None:
    X, _ = breast_cancer
    rows = X[:8]
    ids = [await r.xadd(keys.stream, as_fields(rec)) for rec in rows[:5].to_dict("records")]
    inputs = orjson.dumps(rows[5:].to_dict("records"))
    ids.append(await r.xadd(keys.stream, {"inputs": inputs}))
    ids = [i.decode() for i in ids]

    consumer = consumer_for(workspace, keys, redis_url)
    counts = await asyncio.wait_for(consumer.serve(messages=6), 30)

    assert (counts.read, counts.scored, counts.dead_lettered) == (6, 6, 0)
    results = {f["id"]: f for _, f in decoded(await r.xrange(keys.out))}
    assert sorted(results) == sorted(ids)
    expected = fitted_pipeline.predict_proba(rows)
    for index, message_id in enumerate(ids[:5]):
        result = results[message_id]
        assert json.loads(result["predictions"]) == [
            int(fitted_pipeline.predict(rows[index : index + 1])[0])
        ]
        np.testing.assert_allclose(json.loads(result["probabilities"]), expected[index : index + 1])
        assert json.loads(result["classes"]) == [0, 1]
        assert (result["model"], result["version"]) == ("cancer", "1")
        assert result["request_id"] == f"{keys.stream}/{message_id}"
    several = results[ids[5]]
    np.testing.assert_allclose(json.loads(several["probabilities"]), expected[5:])
    assert await r.xpending(keys.stream, "g") == {
        "pending": 0,
        "min": None,
        "max": None,
        "consumers": [],
    }

    logged = workspace.predictions("cancer")
    request_ids = list(logged["request_id"])
    assert sorted(set(request_ids)) == sorted(f"{keys.stream}/{i}" for i in ids)
    assert len(request_ids) == 8  # the JSON message's three rows share its request id


async def test_bad_messages_are_dead_lettered_while_the_rest_flows(
    workspace: Client, keys: Keys, redis_url: str, r: aioredis.Redis, breast_cancer
) -> None:
    good = as_fields(breast_cancer[0].iloc[0].to_dict())
    missing = dict(list(good.items())[1:])
    wrong = {**good, "mean radius": "large"}
    plan = [
        (good, None),
        ({"inputs": "{not json"}, "malformed"),
        (missing, "invalid"),
        (wrong, "invalid"),
        ({b"mean radius": b"\xff\xfe"}, "malformed"),
        ({"inputs": "[1, 2]"}, "invalid"),
        (good, None),
    ]
    ids = [(await r.xadd(keys.stream, fields)).decode() for fields, _ in plan]

    counts = await asyncio.wait_for(consumer_for(workspace, keys, redis_url).serve(messages=7), 30)

    assert (counts.scored, counts.dead_lettered) == (2, 5)
    assert sorted(f["id"] for _, f in decoded(await r.xrange(keys.out))) == sorted([ids[0], ids[6]])
    dead = {f["id"]: f for _, f in decoded(await r.xrange(keys.dead))}
    for message_id, (_, reason) in zip(ids, plan, strict=True):
        if reason is None:
            continue
        assert dead[message_id]["reason"] == reason
        assert (dead[message_id]["deliveries"], dead[message_id]["consumer"]) == ("1", "c1")
    assert "'mean radius'" in dead[ids[2]]["error"] and "missing" in dead[ids[2]]["error"]
    assert "expected a number" in dead[ids[3]]["error"]
    assert json.loads(dead[ids[3]]["fields"])["mean radius"] == "large"
    assert (await r.xpending(keys.stream, "g"))["pending"] == 0


async def test_a_model_error_dead_letters_only_its_message(
    workspace: Client, keys: Keys, redis_url: str, r: aioredis.Redis
) -> None:
    ids = [(await r.xadd(keys.stream, {"x": str(x)})).decode() for x in (1, 13, 2, 3)]
    consumer = consumer_for(workspace, keys, redis_url, deployment="explodes")
    counts = await asyncio.wait_for(consumer.serve(messages=4), 30)
    assert (counts.scored, counts.dead_lettered) == (3, 1)
    results = {f["id"]: json.loads(f["predictions"]) for _, f in decoded(await r.xrange(keys.out))}
    assert results == {ids[0]: [2.0], ids[2]: [4.0], ids[3]: [6.0]}
    [(_, dead)] = decoded(await r.xrange(keys.dead))
    assert (dead["id"], dead["reason"]) == (ids[1], "model_error")
    assert "unlucky input" in dead["error"]


async def test_a_message_delivered_too_often_is_dead_lettered_unscored(
    workspace: Client, keys: Keys, redis_url: str, r: aioredis.Redis, breast_cancer
) -> None:
    await r.xgroup_create(keys.stream, "g", id="0", mkstream=True)
    poison = (await r.xadd(keys.stream, as_fields(breast_cancer[0].iloc[0].to_dict()))).decode()
    await r.xreadgroup("g", "c1", {keys.stream: ">"}, count=10)
    for _ in range(5):  # each re-read of the PEL is a delivery (as each crash would be)
        await r.xreadgroup("g", "c1", {keys.stream: "0"}, count=10)
    fine = (await r.xadd(keys.stream, {"x": "1"})).decode()  # wrong columns: invalid, once

    consumer = consumer_for(workspace, keys, redis_url, max_deliveries=5)
    counts = await asyncio.wait_for(consumer.serve(messages=2), 30)

    assert counts.dead_lettered == 2 and counts.scored == 0
    dead = {f["id"]: f for _, f in decoded(await r.xrange(keys.dead))}
    assert dead[poison]["reason"] == "max_deliveries"
    assert dead[poison]["deliveries"] == "7"  # 6 before, 1 more for the restarted consumer
    assert dead[fine]["reason"] == "invalid"
    assert await r.xlen(keys.out) == 0


async def test_a_dead_consumers_pending_messages_are_reclaimed_once(
    workspace: Client, keys: Keys, redis_url: str, r: aioredis.Redis, breast_cancer
) -> None:
    await r.xgroup_create(keys.stream, "g", id="0", mkstream=True)
    records = breast_cancer[0][:30].to_dict("records")
    ids = [(await r.xadd(keys.stream, as_fields(rec))).decode() for rec in records]
    await r.xreadgroup("g", "dead", {keys.stream: ">"}, count=25)  # reads, then "dies"
    await r.xtrim(keys.stream, minid=ids[2], approximate=False)  # two pending entries trimmed

    consumer = consumer_for(workspace, keys, redis_url, consumer="b", min_idle_s=0.2, batch=10)
    await run_until(consumer, r, keys.out, 28)
    await wait_for_length(r, keys.dead, 2)

    out = [f["id"] for _, f in decoded(await r.xrange(keys.out))]
    assert sorted(out) == sorted(ids[2:]) and len(out) == 28
    dead = decoded(await r.xrange(keys.dead))
    assert sorted((f["id"], f["reason"]) for _, f in dead) == [
        (ids[0], "payload_lost"),
        (ids[1], "payload_lost"),
    ]
    assert consumer.counts.reclaimed == 23
    assert (await r.xpending(keys.stream, "g"))["pending"] == 0


async def test_two_consumers_in_a_group_split_the_work(
    workspace: Client, keys: Keys, redis_url: str, r: aioredis.Redis, breast_cancer
) -> None:
    records = breast_cancer[0].to_dict("records")
    a = consumer_for(workspace, keys, redis_url, consumer="a", batch=10)
    b = consumer_for(workspace, keys, redis_url, consumer="b", batch=10)
    tasks = [asyncio.create_task(c.serve()) for c in (a, b)]
    try:
        await asyncio.sleep(0.5)  # both loaded and reading
        async with r.pipeline(transaction=False) as pipe:
            for record in records * 2:
                pipe.xadd(keys.stream, as_fields(record))
            ids = [i.decode() for i in await pipe.execute()]
        await wait_for_length(r, keys.out, len(ids), timeout_s=60)
    finally:
        a.stop()
        b.stop()
        await asyncio.gather(*tasks)
    out = [f["id"] for _, f in decoded(await r.xrange(keys.out))]
    assert sorted(out) == sorted(ids)
    assert a.counts.scored > 0 and b.counts.scored > 0
    assert a.counts.scored + b.counts.scored == len(ids)


async def test_stop_finishes_and_acks_the_batch_in_hand(
    workspace: Client, keys: Keys, redis_url: str, r: aioredis.Redis
) -> None:
    for x in range(50):
        await r.xadd(keys.stream, {"x": str(x)})
    consumer = consumer_for(workspace, keys, redis_url, deployment="slow", batch=5)
    task = asyncio.create_task(consumer.serve())
    while consumer.counts.read == 0:
        await asyncio.sleep(0.005)
    consumer.stop()  # a model call (0.3 s) is under way
    counts = await asyncio.wait_for(task, 10)

    assert 0 < counts.read < 50
    assert counts.scored == counts.read == await r.xlen(keys.out)
    assert (await r.xpending(keys.stream, "g"))["pending"] == 0
    [group] = await r.xinfo_groups(keys.stream)
    assert group["lag"] == 50 - counts.read


async def test_an_alias_move_switches_the_version_for_new_messages(
    workspace: Client, keys: Keys, redis_url: str, r: aioredis.Redis, breast_cancer
) -> None:
    record = as_fields(breast_cancer[0].iloc[0].to_dict())
    consumer = consumer_for(workspace, keys, redis_url)
    task = asyncio.create_task(consumer.serve())
    try:
        await r.xadd(keys.stream, record)
        await wait_for_length(r, keys.out, 1)
        workspace.set_alias("cancer", "champion", 2)
        for _ in range(200):
            if consumer.core.dataplane.model("cancer").version.version == 2:
                break
            await asyncio.sleep(0.05)
        await r.xadd(keys.stream, record)
        await wait_for_length(r, keys.out, 2)
    finally:
        consumer.stop()
        await task
    versions = [f["version"] for _, f in decoded(await r.xrange(keys.out))]
    assert versions == ["1", "2"]


async def test_a_missing_deployment_or_redis_is_a_clear_error(
    workspace: Client, keys: Keys, redis_url: str
) -> None:
    with pytest.raises(DeploymentNotFound, match="'nope' does not exist"):
        await consumer_for(workspace, keys, redis_url, deployment="nope").serve()
    unreachable = "redis://user:s3cret@127.0.0.1:1/0"
    with pytest.raises(StreamUnavailable) as caught:
        await consumer_for(workspace, keys, unreachable).serve()
    assert "s3cret" not in str(caught.value) and "***@127.0.0.1:1" in str(caught.value)


async def test_status_shows_length_lag_pending_and_consumers(
    workspace: Client, keys: Keys, redis_url: str, r: aioredis.Redis
) -> None:
    with pytest.raises(StreamNotFound):
        workspace.stream_status(redis_url, keys.stream, "g")
    for x in (1, 13, 2):
        await r.xadd(keys.stream, {"x": str(x)})
    consumer = consumer_for(workspace, keys, redis_url, deployment="explodes")
    await asyncio.wait_for(consumer.serve(messages=3), 30)
    await r.xadd(keys.stream, {"x": "4"})

    status = workspace.stream_status(redis_url, keys.stream, "g")
    assert (status.length, status.out_length, status.dead_length) == (4, 2, 1)
    [group] = status.groups
    assert (group.name, group.lag, group.pending) == ("g", 1, 0)
    assert [(c.name, c.pending) for c in group.consumers] == [("c1", 0)]
    with pytest.raises(StreamNotFound, match="group 'other'"):
        workspace.stream_status(redis_url, keys.stream, "other")


async def test_a_commit_writes_only_what_this_consumer_still_owns(
    keys: Keys, r: aioredis.Redis
) -> None:
    from shipyard.serving.stream.commit import DEAD, OUTPUT, Committer, Entry

    await r.xgroup_create(keys.stream, "g", id="0", mkstream=True)
    first, second = [(await r.xadd(keys.stream, {"x": str(x)})).decode() for x in (1, 2)]
    await r.xreadgroup("g", "slow", {keys.stream: ">"}, count=2)
    await r.xclaim(keys.stream, "g", "fast", 0, [first])  # reclaimed while "slow" works

    def committer(name: str) -> Committer:
        return Committer(
            r,
            stream=keys.stream,
            group="g",
            consumer=name,
            results=keys.out,
            dead_letters=keys.dead,
        )

    entries = [Entry(first, OUTPUT, {"id": first}), Entry(second, DEAD, {"id": second})]
    assert await committer("slow").commit(entries) == [first]
    assert await committer("fast").commit(entries[:1]) == []
    assert await committer("fast").commit(entries[:1]) == [first]  # answered: not again
    assert await committer("slow").commit([]) == []
    assert [f["id"] for _, f in decoded(await r.xrange(keys.out))] == [first]
    assert [f["id"] for _, f in decoded(await r.xrange(keys.dead))] == [second]
    assert (await r.xpending(keys.stream, "g"))["pending"] == 0


async def test_a_consumer_reports_its_presence_until_it_stops(
    workspace: Client, keys: Keys, redis_url: str, r: aioredis.Redis
) -> None:
    for x in (1, 2, 3):
        await r.xadd(keys.stream, {"x": str(x)})
    consumer = consumer_for(workspace, keys, redis_url, deployment="explodes", consumer="seen")
    await asyncio.wait_for(consumer.serve(messages=3), 30)

    [record] = [c for c in workspace.stream_consumers() if c.stream == keys.stream]
    assert (record.group, record.consumer, record.deployment) == ("g", "seen", "explodes")
    assert (record.scored, record.dead_lettered) == (3, 0)
    assert record.stopped_at is not None and record.state(record.seen_at, 1000) == "stopped"
    assert (record.lag, record.pending) == (0, 0), "read after its last acknowledgements"
    assert "@" not in record.redis or ":***@" in record.redis, "no password in the row"


def test_listing_consumers_checks_its_bounds(workspace: Client) -> None:
    from shipyard.errors import InvalidInput

    with pytest.raises(InvalidInput, match="within_s"):
        workspace.stream_consumers(within_s=1e300)
    with pytest.raises(InvalidInput, match="limit"):
        workspace.stream_consumers(limit=0)
