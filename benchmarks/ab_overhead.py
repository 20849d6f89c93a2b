"""Predict throughput with an A/B experiment running versus without one, same server.

Starts ``shipyard serve`` as users do (no environment variables) on a workspace
with two versions of one model, and drives it with wrk: single-row requests,
each with a different ``X-Shipyard-Key`` (a user id), concurrency 64. Each
repeat measures three states of the one deployment, in a rotating order (so a
drift of the machine's load favours none):

- ``single``: it serves one version;
- ``ab-routing``: an A/B policy by hand with weights 100/0: every request's key
  is read, hashed to an arm and logged as the user, but one version answers
  all (the routing's own cost, without splitting the micro-batches);
- ``ab-policy``: the same two versions split 50/50 by the key, set by hand
  (``shipyard deployments policy --ab``), no experiment: what serving two
  versions costs by itself (each version's micro-batches are half as full);
- ``experiment``: ``shipyard ab start`` with that split, running.

The target is on what the experiment adds: experiment / ab-policy >= 0.97.
Experiment / single is printed too: it includes the cost of serving two
versions, which any A/B test pays.

    python benchmarks/ab_overhead.py [--duration 10] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from shipyard import Client
from shipyard.config import StoreSettings
from shipyard.deploy.policy import ABPolicy, parse_weights, single

sys.path.insert(0, str(Path(__file__).resolve().parent / "serving"))
from loadgen import shipyard_serve, wrk_rate_and_cpu

SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
wrk.body = {body}
local counter = 0
request = function()
  counter = counter + 1
  wrk.headers["X-Shipyard-Key"] = "user-" .. counter
  return wrk.format(nil, "/v1/deployments/d/predict")
end
"""


def _prepare(home: Path) -> tuple[Client, str, dict]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    client = Client(settings=StoreSettings(home=home))
    for c in (1.0, 0.5):  # two versions that cost the same per call
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=1000)).fit(X, y)
        client.register_model(model, name="m", sample_input=X[:50])
    client.create_deployment("d", "m/1")
    token = client.create_token("bench", "predictor").token  # the server requires one
    return client, token, {"inputs": X[:1].to_dict(orient="records")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    states = ("single", "ab-routing", "ab-policy", "experiment")
    results: dict[str, list[tuple[float, float]]] = {state: [] for state in states}
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        client, token, body = _prepare(home)
        script = home / "ab.lua"
        script.write_text(SCRIPT.format(token=token, body=json.dumps(json.dumps(body))))
        with shipyard_serve(home) as (url, pid):
            for repeat in range(args.repeats):
                order = states[repeat % 4 :] + states[: repeat % 4]
                for state in order:
                    name = f"bench-{repeat}"
                    if state == "ab-routing":
                        client.set_policy("d", ABPolicy(parse_weights("m/1=100,m/2=0")))
                    elif state == "ab-policy":
                        client.set_policy("d", ABPolicy(parse_weights("m/1=50,m/2=50")))
                    elif state == "experiment":
                        client.ab_start(
                            name, deployment="d", arms="m/1=50,m/2=50", metrics=["accuracy"]
                        )
                    time.sleep(1.5)  # the routing table polls the store every 0.5 s
                    rate, cpu_us, _ = wrk_rate_and_cpu(
                        f"{url}/v1/deployments/d/predict",
                        pid,
                        str(script),
                        args.duration,
                        args.concurrency,
                    )
                    results[state].append((rate, cpu_us))
                    if state in ("ab-routing", "ab-policy"):
                        client.set_policy("d", single("m/1"))
                    elif state == "experiment":
                        client.ab_stop(name)
            arms = client.predictions("d")["arm"].value_counts().to_dict()
    print(
        f"\nA/B experiment overhead, one worker, concurrency {args.concurrency}, median of "
        f"{args.repeats} x {args.duration} s (a new X-Shipyard-Key per request)"
    )
    rate = {s: statistics.median(r for r, _ in results[s]) for s in states}
    cpu = {s: statistics.median(c for _, c in results[s]) for s in states}
    for state in states:
        runs = [round(r) for r, _ in results[state]]
        print(f"{state:>11}: {rate[state]:7,.0f} req/s {runs}  {cpu[state]:5.0f} us CPU/req")
    print(
        f"experiment / ab-policy {rate['experiment'] / rate['ab-policy']:.3f} (target >= 0.97), "
        f"CPU/request {cpu['experiment'] / cpu['ab-policy']:.3f}"
    )
    print(
        f"ab-routing / single    {rate['ab-routing'] / rate['single']:.3f} (key, arm, user "
        f"logged; one version answers), CPU/request {cpu['ab-routing'] / cpu['single']:.3f}"
    )
    print(
        f"experiment / single    {rate['experiment'] / rate['single']:.3f} "
        f"(two versions' half-full micro-batches included), "
        f"CPU/request {cpu['experiment'] / cpu['single']:.3f}"
    )
    print(f"rows logged by arm: {arms}")


if __name__ == "__main__":
    main()
