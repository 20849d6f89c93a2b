"""Stream scoring: ``shipyard stream consume`` against a hand-rolled redis-py loop.

    .venv/bin/python benchmarks/stream.py            # ~3 minutes
    .venv/bin/python benchmarks/stream.py --quick

The model is the logistic pipeline (StandardScaler + LogisticRegression on
breast cancer, 30 float features), registered and deployed in a temporary
workspace; the consumer is started the way users start it (the CLI, in its own
process, prediction log on, no special environment). Redis: 127.0.0.1:6379.

(a) sustained throughput: N messages (one row each) enqueued first, then one
    consumer with ``--batch 100``; messages/s from its first result to its last.
    Target >= 2,000 messages/s.
(b) latency: a paced producer adds 500 messages/s (one XADD each) for a while;
    a reader follows the output stream with XREAD BLOCK. Enqueue-to-result is
    the result's arrival time minus the input's enqueue time, which Redis wrote
    into the message id (milliseconds, the same clock). Target p99 <= 250 ms.

No anchor ships a Redis Streams consumer to run beside it (MLServer's Kafka
server has no consumer group; Seldon Core 2 and KServe need Kafka/Knative).
The side-by-side baseline is the loop people write by hand: XREADGROUP 100,
``predict_proba`` on the float matrix, XADD results and XACK in one pipeline;
no signature validation, no prediction log, no ownership check, no dead
letters. The ratio says what those cost. Medians of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import joblib
import redis
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from shipyard import Client

REDIS_URL = "redis://127.0.0.1:6379/0"
SHIPYARD = str(Path(sys.executable).parent / "shipyard")
THROUGHPUT_TARGET = 2_000.0
#: Starts a consumer of (stream, messages it will see) in its own process.
Start = Callable[[str, int], subprocess.Popen[bytes]]
P99_TARGET_MS = 250.0

HAND_ROLLED = r"""
import sys, warnings, joblib, numpy as np, redis
warnings.filterwarnings("ignore", message="X does not have valid feature names")
model_path, url, stream, group, n = sys.argv[1:6]
model = joblib.load(model_path)
columns = [c.encode() for c in model.feature_names_in_]
r = redis.Redis.from_url(url, socket_timeout=None)
try:
    r.xgroup_create(stream, group, id="0", mkstream=True)
except redis.ResponseError:
    pass
done = 0
while done < int(n):
    reply = r.xreadgroup(group, "hand", {stream: ">"}, count=100, block=1000)
    if not reply:
        continue
    entries = reply[0][1]
    matrix = np.array([[float(f[c]) for c in columns] for _, f in entries])
    proba = model.predict_proba(matrix)
    pipe = r.pipeline(transaction=True)
    for (message_id, _), p in zip(entries, proba):
        pipe.xadd(stream + ":out", {"id": message_id, "probabilities": repr(p.tolist())})
    pipe.xack(stream, group, *[i for i, _ in entries])
    pipe.execute()
    done += len(entries)
"""


def setup(folder: Path) -> tuple[Path, Path, list[dict[str, str]]]:
    """A workspace with deployment ``bench`` (the fitted pipeline), its joblib file, rows."""
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    home = folder / "ws"
    with Client(home) as client:
        client.register_model(model, name="bench", sample_input=X[:50])
        client.create_deployment("bench", "bench/1")
    path = folder / "model.joblib"
    joblib.dump(model, path)
    rows = [{k: repr(float(v)) for k, v in rec.items()} for rec in X.to_dict("records")]
    return home, path, rows


def enqueue(r: redis.Redis, stream: str, rows: list[dict[str, str]], n: int) -> None:
    for start in range(0, n, 1000):
        pipe = r.pipeline(transaction=False)
        for i in range(start, min(n, start + 1000)):
            pipe.xadd(stream, rows[i % len(rows)])  # type: ignore[arg-type]
        pipe.execute()


def start_shipyard(home: Path, stream: str, consumer: str) -> subprocess.Popen[bytes]:
    command = [SHIPYARD, "--home", str(home), "stream", "consume", "bench", "--redis", REDIS_URL]
    command += ["--stream", stream, "--group", "g", "--consumer", consumer, "--batch", "100"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_hand_rolled(model: Path, stream: str, n: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", HAND_ROLLED, str(model), REDIS_URL, stream, "g", str(n)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def cleanup(r: redis.Redis, stream: str) -> None:
    r.delete(stream, f"{stream}:out", f"{stream}:dead")


def throughput(r: redis.Redis, start: Start, n: int,
               rows: list[dict[str, str]]) -> float:  # fmt: skip
    """Messages/s from the first result to the n-th."""
    stream = f"bench-stream:{uuid.uuid4().hex[:8]}"
    enqueue(r, stream, rows, n)
    process = start(stream, n)
    try:
        out = f"{stream}:out"
        deadline = time.monotonic() + 300
        while r.xlen(out) == 0:
            assert process.poll() is None and time.monotonic() < deadline, "consumer failed"
            time.sleep(0.005)
        first, t0 = r.xlen(out), time.perf_counter()
        while (done := r.xlen(out)) < n:
            assert process.poll() is None and time.monotonic() < deadline, "consumer failed"
            time.sleep(0.005)
        return (done - first) / (time.perf_counter() - t0)
    finally:
        stop(process)
        cleanup(r, stream)


def latency(r: redis.Redis, start: Start, rate: float,
            seconds: float, rows: list[dict[str, str]]) -> tuple[float, float]:  # fmt: skip
    """(p50, p99) enqueue-to-result in ms at ``rate`` messages/s, the first second excluded."""
    stream = f"bench-stream:{uuid.uuid4().hex[:8]}"
    r.xgroup_create(stream, "g", id="0", mkstream=True)
    n = int(rate * seconds)
    process = start(stream, n + 1)
    try:
        deadline = time.monotonic() + 120 + seconds
        r.xadd(stream, rows[0])  # type: ignore[arg-type]
        while not r.xlen(f"{stream}:out"):  # ready: it answered a first message
            assert process.poll() is None and time.monotonic() < deadline, "consumer failed"
            time.sleep(0.05)
        producer = threading.Thread(target=paced, args=(stream, rows, rate, n))
        producer.start()
        samples: list[float] = []
        last = r.xrange(f"{stream}:out")[0][0]
        reader = redis.Redis.from_url(REDIS_URL, socket_timeout=None)
        while len(samples) < n:
            reply = reader.xread({f"{stream}:out": last}, count=1000, block=500)
            if not reply:  # the hand-rolled loop exits once it has seen n
                assert process.poll() is None and time.monotonic() < deadline, "consumer failed"
            arrived_ms = time.time() * 1000
            for entry_id, fields in reply[0][1] if reply else []:
                last = entry_id
                samples.append(arrived_ms - int(fields[b"id"].split(b"-")[0]))
        producer.join()
        reader.close()
        steady = sorted(samples[int(rate) :])
        return steady[len(steady) // 2], steady[int(len(steady) * 0.99)]
    finally:
        stop(process)
        cleanup(r, stream)


def paced(stream: str, rows: list[dict[str, str]], rate: float, n: int) -> None:
    """One XADD every 1/rate seconds, on schedule (a late one does not shift the rest)."""
    r = redis.Redis.from_url(REDIS_URL)
    begin = time.perf_counter()
    for i in range(n):
        wait = begin + i / rate - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        r.xadd(stream, rows[i % len(rows)])  # type: ignore[arg-type]
    r.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="10k messages, 8 s, 1 repeat")
    args = parser.parse_args()
    if args.quick:
        args.messages, args.seconds, args.repeats = 10_000, 8.0, 1
    r = redis.Redis.from_url(REDIS_URL)
    r.ping()
    with tempfile.TemporaryDirectory() as tmp:
        home, model_path, rows = setup(Path(tmp))
        sides: dict[str, Start] = {
            "shipyard stream consume": lambda stream, n: start_shipyard(home, stream, "bench"),
            "hand-rolled redis-py loop": lambda stream, n: start_hand_rolled(model_path, stream, n),
        }
        rates: dict[str, list[float]] = {name: [] for name in sides}
        p50s: dict[str, list[float]] = {name: [] for name in sides}
        p99s: dict[str, list[float]] = {name: [] for name in sides}
        for repeat in range(args.repeats):
            for name, start in sides.items():
                rates[name].append(throughput(r, start, args.messages, rows))
                p50, p99 = latency(r, start, args.rate, args.seconds, rows)
                p50s[name].append(p50)
                p99s[name].append(p99)
                print(
                    f"  run {repeat + 1} {name:<27} {rates[name][-1]:8,.0f} msg/s   "
                    f"p50 {p50:5.1f} ms  p99 {p99:5.1f} ms",
                    flush=True,
                )
    r.close()
    print(
        f"\nlogistic pipeline, 30 features; median of {args.repeats}: (a) {args.messages:,} "
        f"pre-enqueued messages, --batch 100; (b) {args.rate:.0f} msg/s offered for "
        f"{args.seconds:.0f} s"
    )
    from redis.utils import HIREDIS_AVAILABLE

    parser_name = "hiredis" if HIREDIS_AVAILABLE else "pure Python (pip install hiredis: ~2.5x)"
    print(f"redis-py {redis.__version__}, reply parser: {parser_name}")
    ours = "shipyard stream consume"
    for name in sides:
        rate = statistics.median(rates[name])
        print(
            f"{name:<27} {rate:8,.0f} msg/s   p50 {statistics.median(p50s[name]):5.1f} ms   "
            f"p99 {statistics.median(p99s[name]):5.1f} ms"
        )
    rate, p99 = statistics.median(rates[ours]), statistics.median(p99s[ours])
    hand = statistics.median(rates["hand-rolled redis-py loop"])
    print(f"throughput ratio shipyard / hand-rolled: {rate / hand:.2f}x")
    verdict = "PASS" if rate >= THROUGHPUT_TARGET else "FAIL"
    print(f"(a) {verdict}: {rate:,.0f} msg/s (target >= {THROUGHPUT_TARGET:,.0f})")
    verdict = "PASS" if p99 <= P99_TARGET_MS else "FAIL"
    print(
        f"(b) {verdict}: p99 {p99:.1f} ms at {args.rate:.0f} msg/s (target <= {P99_TARGET_MS:.0f})"
    )
    print(
        "no anchor ships a Redis Streams consumer to compare with (MLServer's Kafka server "
        "has no consumer group; Seldon Core 2 and KServe stream through Kafka/Knative)"
    )


if __name__ == "__main__":
    main()
