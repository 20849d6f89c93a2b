"""The web dashboard at scale: Shipyard's ``/ui`` pages beside MLflow's UI, in one run.

Workspaces (made once, cached under ``.bench/dashboard-ws/<size>/``, reused while
their ``meta.json`` says they are complete), the SAME content on both sides:

- one experiment ``bench`` with 1,000 runs x 50 metrics x 100 points
  and 10 params each; one registered model ``bench-model`` with 100 versions of a
  tiny scikit-learn model (the versions share one model file; version ``i`` points
  at run ``i``).
- Shipyard only: a deployment ``bench-model`` serving the last version, and 1M
  logged predictions for it spread over the last 24 hours, written through the
  prediction log's own writer (``PredictionLogger.flush``: Parquet segments of
  5,000 rows, as the serving process writes them), not over HTTP.

Shipyard is written in-process through its store's batch API
(``store.tracking.log_batch``, one transaction per run; ``register_package`` per
version); MLflow by the MLflow venv's interpreter with its own ``SqlAlchemyStore``
on SQLite (``log_batch`` per run with the params and each metric's last step, the
earlier steps inserted with MLflow's own ``SqlMetric`` model on the store's engine:
``log_batch`` alone would take over half an hour here; ``create_registered_model`` /
``create_model_version``). How long each took is kept in ``meta.json`` and printed.
Results and their discussion: ``benchmarks/dashboard.md``.

Both servers are started as their users start them, in the same run:
``shipyard --home WS serve --port P`` (tokens required; an admin token is made
with the Client beforehand) and ``mlflow server --backend-store-uri sqlite:///...
--port Q`` from the MLflow venv of ``benchmarks/serving`` (``ensure_mlflow_venv``).

For each page in ``PAGES``:

(a) server time: the median of ``--repeats`` sequential HTTP requests, after one
    warm-up: for Shipyard the page's HTML (bearer token); for MLflow the REST calls
    its UI page makes for that data, listed in ``PAGES`` (the sum of their medians;
    the UI's HTML shell is a static file and is not counted);
(b) headless chromium (``/usr/bin/chromium``), signed in through ``/ui/login``
    (Shipyard): time to DOMContentLoaded (Navigation Timing) and time until the
    page's data is visible (a selector naming a run, a version), from navigation
    start; the median of ``--repeats`` loads after one warm-up load (HTTP cache warm
    on both sides, as for a user who has opened the UI before). Each load starts
    from ``about:blank`` so the single-page MLflow UI really loads again.

A Shipyard page that answers 404 is reported as "missing" (pages still being
written), not measured. Targets: server <= 150 ms, DOM ready <= 300 ms.

    nice -n 10 .venv/bin/python benchmarks/dashboard.py            # full size
    nice -n 10 .venv/bin/python benchmarks/dashboard.py --quick    # 100 runs, 10 versions, 100k
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent / "serving"))
import peers
from peers import BENCH_DIR, ensure_mlflow_venv, free_port, snapshot_shipyard, user_env

HOST = "127.0.0.1"
EXPERIMENT = "bench"
MODEL = "bench-model"
DEPLOYMENT = "bench-model"
FEATURES = 5
SERVER_TARGET_MS = 150.0
DOM_TARGET_MS = 300.0
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MLFLOW_API = "/ajax-api/2.0/mlflow"
PROGRESS = "@@progress "
RESULT = "@@result "
RESULTS = BENCH_DIR / "dashboard-results.json"


# -- the pages -------------------------------------------------------------------------
@dataclass(frozen=True)
class MlflowCall:
    """One REST call an MLflow UI page makes for its data (replayed for the server time)."""

    method: str
    path: str  # under /ajax-api/2.0/mlflow, with {placeholders}
    body: dict[str, Any] | None = None


@dataclass(frozen=True)
class Page:
    """A page pair. Paths, selectors and bodies take ``{placeholders}`` from ``Ids``;
    a selector list means "any of these" (the first one that shows up)."""

    key: str
    label: str
    path: str
    selectors: tuple[str, ...]
    mlflow_route: str | None = None  # the UI's hash route, None: no MLflow equivalent
    mlflow_selectors: tuple[str, ...] = ()
    mlflow_calls: tuple[MlflowCall, ...] = ()


RUN_NAME = r"text=/run-\d{4}/"
EXPERIMENT_GET = MlflowCall("GET", "/experiments/get?experiment_id={mlflow_experiment}")
#: The MLflow calls are the ones its UI (3.x) makes for the data each page shows, as seen
#: in the browser (printed after the table). Also made but not counted: server-info,
#: users/current, assistant/*, gateway-proxy; on the runs list experiments/search-datasets,
#: logged-models/search and a second runs/search (max_results 50); on the run page the
#: same 50-run search, its child runs and prompt versions; on compare, artifacts/list.
#: The run page asks GraphQL (GetRun, GetExperiment); their REST twins are timed.
PAGES: tuple[Page, ...] = (
    Page(
        "runs",
        "Runs list",
        "/ui/runs",
        (RUN_NAME,),
        "#/experiments/{mlflow_experiment}/runs",
        (RUN_NAME,),
        (
            EXPERIMENT_GET,
            MlflowCall(
                "POST",
                "/runs/search",
                {
                    "experiment_ids": ["{mlflow_experiment}"],
                    "run_view_type": "ACTIVE_ONLY",
                    "max_results": 100,
                    "order_by": ["attributes.start_time DESC"],
                },
            ),
        ),
    ),
    Page(
        "compare",
        "Run compare (3 runs)",
        "/ui/runs/compare?ids={compare_ids}",
        ("text={compare_last_name}",),
        '#/compare-runs?runs=["{mlflow_compare_ids_quoted}"]&experiments=["{mlflow_experiment}"]',
        ("text={compare_last_name}",),
        (
            EXPERIMENT_GET,
            MlflowCall(
                "POST",
                "/runs/search",
                {
                    "experiment_ids": ["{mlflow_experiment}"],
                    "filter": "run_id IN ({mlflow_compare_in})",
                    "run_view_type": "ALL",
                    "max_results": 3,
                },
            ),
        ),
    ),
    Page(
        "model",
        "Model ({versions} versions)",
        "/ui/models/{model}",
        ('a[href$="/versions/{versions}"]', "text=/\\bv{versions}\\b/"),
        "#/models/{model}",
        ("text=Version {versions}",),
        (
            MlflowCall("GET", "/registered-models/get?name={model}"),
            MlflowCall(
                "GET",
                "/model-versions/search?filter=name%3D%27{model}%27&max_results=25"
                "&order_by=creation_timestamp+DESC",
            ),
        ),
    ),
    Page(
        "run",
        "Run detail",
        "/ui/runs/{run_id}",
        ("text={run_name}",),
        "#/experiments/{mlflow_experiment}/runs/{mlflow_run_id}",
        ("text={run_name}",),
        (
            MlflowCall("GET", "/runs/get?run_id={mlflow_run_id}"),
            EXPERIMENT_GET,
            MlflowCall("GET", "/model-versions/search?filter=run_id%3D%27{mlflow_run_id}%27"),
        ),
    ),
    Page("overview", "Overview", "/ui", ("text={deployment}",)),
    Page(
        "deployment",
        "Deployment ({predictions} logged predictions)",
        "/ui/deployments/{deployment}",
        ("h1",),
    ),
    Page("monitoring", "Monitoring", "/ui/monitoring/{deployment}", ("h1",)),
    Page(
        "models",
        "Models list",
        "/ui/models",
        ("text={model}",),
        "#/models",
        ("text={model}",),
        (MlflowCall("GET", "/registered-models/search?max_results=25&order_by=name+ASC"),),
    ),
    Page(
        "version",
        "Model version (lineage, card)",
        "/ui/models/{model}/versions/{versions}",
        ("h1",),
        "#/models/{model}/versions/{versions}",
        ("text=Version {versions}",),
        (
            MlflowCall("GET", "/registered-models/get?name={model}"),
            MlflowCall("GET", "/model-versions/get?name={model}&version={versions}"),
        ),
    ),
    Page("monitoring-list", "Monitoring list", "/ui/monitoring", ("h1",)),
    Page("datasets", "Datasets", "/ui/datasets", ("h1",)),
    Page("pipelines", "Pipelines", "/ui/pipelines", ("h1",)),
    Page("audit", "Audit (every write of the build)", "/ui/audit", ("h1",)),
)


# -- sizes -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    runs: int = 1000
    metrics: int = 50
    points: int = 100
    params: int = 10
    versions: int = 100
    predictions: int = 1_000_000

    @classmethod
    def quick(cls) -> Plan:
        return cls(runs=100, versions=10, predictions=100_000)

    @property
    def name(self) -> str:
        return "full" if self == Plan() else "quick" if self == Plan.quick() else "custom"


def run_name(i: int) -> str:
    return f"run-{i:04d}"


def run_params(i: int, plan: Plan) -> dict[str, str]:
    params = {"p0": "a" if i % 2 == 0 else "b", "p1": str(i % 7)}
    params.update({f"p{j}": f"value-{j}-{i % 13}" for j in range(2, plan.params)})
    return params


def metric_value(i: int, m: int, step: int) -> float:
    """Deterministic, cheap, different per run, metric and step (both sides log these)."""
    return ((i * 7919 + m * 104729 + step * 31) % 10007) / 10007.0


# -- the model ---------------------------------------------------------------------------
def tiny_model() -> tuple[Any, Any]:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(18)
    X = pd.DataFrame(
        rng.standard_normal((500, FEATURES)), columns=[f"f{i}" for i in range(FEATURES)]
    )
    y = (X["f0"] + 0.5 * X["f1"] > 0).astype(int)
    return LogisticRegression().fit(X, y), X


# -- Shipyard workspace --------------------------------------------------------------------
Advance = Callable[[int], None]


def build_shipyard(
    home: Path, plan: Plan, advance: Advance, stage: Callable[[str, int], None]
) -> dict[str, Any]:
    """Runs, versions, deployment and the prediction log, in-process through the store."""
    from shipyard import Client
    from shipyard.config import StoreSettings
    from shipyard.entities import MetricPoint
    from shipyard.registry import service as registry

    timings: dict[str, float] = {}
    started = time.perf_counter()
    run_ids: list[str] = []
    with Client(settings=StoreSettings(home=home, user="bench")) as client:
        stage("Shipyard: runs", plan.runs)
        base = int(time.time() * 1000) - plan.runs * 60_000
        for i in range(plan.runs):
            created = client.create_run(EXPERIMENT, name=run_name(i), params=run_params(i, plan))
            points = [
                MetricPoint(f"m{m:02d}", metric_value(i, m, step), step, base + i * 60_000 + step)
                for m in range(plan.metrics)
                for step in range(plan.points)
            ]
            client.store.tracking.log_batch(created.id, metrics=points)
            client.end_run(created.id)
            run_ids.append(created.id)
            advance(1)
        timings["runs_s"] = time.perf_counter() - started

        began = time.perf_counter()
        stage("Shipyard: model versions", plan.versions)
        model, frame = tiny_model()
        packaged = registry.package_model(client.store, model, sample_input=frame[:50])
        for v in range(plan.versions):
            client.register_package(packaged.sha256, name=MODEL, run_id=run_ids[v % len(run_ids)])
            advance(1)
        client.create_deployment(DEPLOYMENT, f"{MODEL}/{plan.versions}")
        timings["versions_s"] = time.perf_counter() - began

        began = time.perf_counter()
        stage("Shipyard: logged predictions", plan.predictions)
        write_predictions(client.store.artifacts, model, plan, advance)
        timings["predictions_s"] = time.perf_counter() - began
    return {"run_ids": run_ids, "timings": timings}


def write_predictions(artifacts: Any, model: Any, plan: Plan, advance: Advance) -> None:
    """``plan.predictions`` single-row requests over the last 24 h, through the log's writer.

    The records are the tuples ``PredictionLogger.log`` queues (with the request time
    set over a day instead of now), drained by its ``flush``: the writer thread's path.
    """
    import numpy as np

    from shipyard.monitoring.predlog import PredictionLogger

    logger = PredictionLogger(artifacts, process_id="bench-dashboard")
    rng = np.random.default_rng(1)
    columns = tuple(f"f{i}" for i in range(FEATURES))
    arm = f"{MODEL}/{plan.versions}"
    now_ms = int(time.time() * 1000)
    span_ms = 24 * 3_600_000
    chunk = 50_000
    for start in range(0, plan.predictions, chunk):
        n = min(chunk, plan.predictions - start)
        X = rng.standard_normal((n, FEATURES)) + np.linspace(0, 0.5, n)[:, None] * (
            start / plan.predictions
        )
        with warnings.catch_warnings():  # numpy rows, as the data plane passes them
            warnings.simplefilter("ignore", UserWarning)
            proba = model.predict_proba(X)
        labels = np.where(proba[:, 1] > 0.5, 1, 0)
        at = now_ms - span_ms + (np.arange(start, start + n) * span_ms) // plan.predictions
        latency = rng.gamma(2.0, 0.002, n)
        for j in range(n):
            logger._queue.append(
                (
                    DEPLOYMENT,
                    plan.versions,
                    arm,
                    f"req-{start + j:07d}",
                    int(at[j]),
                    float(latency[j]) * 1000,
                    columns,
                    X[j : j + 1],
                    labels[j : j + 1],
                    proba[j : j + 1],
                    None,
                )
            )
        logger.flush()
        advance(n)
    if logger.counters.logged != plan.predictions:
        raise RuntimeError(f"prediction log wrote {logger.counters} instead of {plan.predictions}")


# -- MLflow workspace (runs in the MLflow venv) ----------------------------------------------
MLFLOW_BUILD = r"""
import json, sys, time
plan = json.loads(sys.argv[1]); folder = sys.argv[2]
import mlflow, mlflow.sklearn
from mlflow.entities import Metric, Param, RunTag, RunStatus
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
from mlflow.store.tracking.dbmodels.models import SqlMetric
import sqlalchemy
import numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression

def emit(kind, value):
    print(kind + json.dumps(value), flush=True)

uri = "sqlite:///" + folder + "/mlflow.db"
started = time.perf_counter()
store = SqlAlchemyStore(uri, folder + "/mlartifacts")
exp = store.create_experiment("bench", artifact_location=folder + "/mlartifacts/bench")
base = int(time.time() * 1000) - plan["runs"] * 60_000
run_ids = []
emit("@@stage ", ["MLflow: runs", plan["runs"]])
for i in range(plan["runs"]):
    name = "run-%04d" % i
    run = store.create_run(exp, "bench", base + i * 60_000, [RunTag("mlflow.runName", name)], name)
    rid = run.info.run_id
    params = {"p0": "a" if i % 2 == 0 else "b", "p1": str(i % 7)}
    params.update({"p%d" % j: "value-%d-%d" % (j, i % 13) for j in range(2, plan["params"])})
    # MLflow's log_batch takes at most 1,000 metrics + params + tags per call and costs
    # ~0.4 ms per point in its ORM (half an hour for 5M points on this machine): the
    # last step of each metric goes through log_batch (which also keeps latest_metrics),
    # the earlier steps are inserted with MLflow's own SqlMetric model on the store's
    # engine, in one transaction per run. The tables end up as log_batch leaves them.
    last = plan["points"] - 1
    store.log_batch(rid, [
        Metric("m%02d" % m, ((i * 7919 + m * 104729 + last * 31) % 10007) / 10007.0,
               base + i * 60_000 + last, last)
        for m in range(plan["metrics"])
    ], [Param(a, b) for a, b in params.items()], [])
    rows = [
        {"key": "m%02d" % m, "value": ((i * 7919 + m * 104729 + s * 31) % 10007) / 10007.0,
         "timestamp": base + i * 60_000 + s, "step": s, "is_nan": False, "run_uuid": rid}
        for m in range(plan["metrics"]) for s in range(last)
    ]
    with store.ManagedSessionMaker() as session:
        session.execute(sqlalchemy.insert(SqlMetric), rows)
    store.update_run_info(rid, RunStatus.FINISHED, base + i * 60_000 + 1000, name)
    run_ids.append(rid)
    emit("@@progress ", 1)
runs_s = time.perf_counter() - started

began = time.perf_counter()
emit("@@stage ", ["MLflow: model versions", plan["versions"]])
rng = np.random.default_rng(18)
X = pd.DataFrame(rng.standard_normal((500, 5)), columns=["f%d" % i for i in range(5)])
model = LogisticRegression().fit(X, (X["f0"] + 0.5 * X["f1"] > 0).astype(int))
source = folder + "/model"
mlflow.sklearn.save_model(model, source, input_example=X[:5])
registry = RegistryStore(uri)
registry.create_registered_model("bench-model")
for v in range(plan["versions"]):
    registry.create_model_version("bench-model", source, run_id=run_ids[v % len(run_ids)])
    emit("@@progress ", 1)
emit("@@result ", {"experiment_id": exp, "run_ids": run_ids, "mlflow": mlflow.__version__,
                   "timings": {"runs_s": runs_s, "versions_s": time.perf_counter() - began}})
"""


def build_mlflow(
    folder: Path, venv: Path, plan: Plan, advance: Advance, stage: Callable[[str, int], None]
) -> dict[str, Any]:
    argv = [str(venv / "bin" / "python"), "-c", MLFLOW_BUILD, json.dumps(asdict(plan)), str(folder)]
    env = user_env({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"})
    result: dict[str, Any] | None = None
    log = folder / "build.log"
    with log.open("w") as errors:
        process = subprocess.Popen(
            argv, env=env, cwd=folder, stdout=subprocess.PIPE, stderr=errors, text=True
        )
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith(PROGRESS):
                advance(int(json.loads(line[len(PROGRESS) :])))
            elif line.startswith("@@stage "):
                stage(*json.loads(line[len("@@stage ") :]))
            elif line.startswith(RESULT):
                result = json.loads(line[len(RESULT) :])
        process.wait()
    if process.returncode != 0 or result is None:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise RuntimeError(f"writing the MLflow workspace failed (see {log}):\n{tail}")
    return result


def workspaces(plan: Plan, venv: Path, console: Any) -> tuple[Path, dict[str, Any]]:
    """The cached workspaces of this size, made when missing or incomplete."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    root = BENCH_DIR / "dashboard-ws" / plan.name
    meta_path = root / "meta.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("plan") == asdict(plan) and meta.get("complete"):
            console.print(f"reusing the workspaces in {root}")
            return root, meta
    if root.exists():
        shutil.rmtree(root)
    (root / "mlflow").mkdir(parents=True)
    meta: dict[str, Any] = {"plan": asdict(plan)}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        current: list[Any] = [None]

        def stage(label: str, total: int) -> None:
            if current[0] is not None:
                task = progress.tasks[current[0]]
                progress.update(current[0], completed=task.total)
            current[0] = progress.add_task(label, total=total)

        def advance(n: int) -> None:
            progress.advance(current[0], n)

        meta["shipyard"] = build_shipyard(root / "shipyard", plan, advance, stage)
        meta["mlflow"] = build_mlflow(root / "mlflow", venv, plan, advance, stage)
    meta["complete"] = True
    meta_path.write_text(json.dumps(meta))
    return root, meta


# -- servers -----------------------------------------------------------------------------
@contextlib.contextmanager
def server(
    argv: list[str], env: dict[str, str], ready: str, log: Path, cwd: Path | None = None
) -> Iterator[None]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(ready, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
                raise RuntimeError(f"{argv[0]} did not start ({' '.join(argv)}):\n{tail}")
            time.sleep(0.25)
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


# -- measuring -----------------------------------------------------------------------------
def fill(template: str, ids: dict[str, str]) -> str:
    """``{name}`` replaced by ``ids[name]`` (other braces, as in ``\\d{4}``, stay)."""
    for key, value in ids.items():
        template = template.replace("{" + key + "}", value)
    return template


def fill_body(body: Any, ids: dict[str, str]) -> Any:
    if isinstance(body, str):
        return fill(body, ids)
    if isinstance(body, list):
        return [fill_body(b, ids) for b in body]
    if isinstance(body, dict):
        return {k: fill_body(v, ids) for k, v in body.items()}
    return body


def time_requests(
    client: httpx.Client, method: str, url: str, body: Any, repeats: int
) -> tuple[float, int, int, int]:
    """(median ms, status, bytes, failed) of ``repeats`` sequential requests after one
    warm-up. A dropped connection (e.g. a server worker killed mid-request) is counted as
    failed and not timed; the next request goes on."""
    samples: list[float] = []
    failed = 0
    response: httpx.Response | None = None
    for index in range(repeats + 1):
        began = time.perf_counter()
        try:
            response = client.request(method, url, json=body)
        except httpx.TransportError:
            failed += 1
            time.sleep(1)
            continue
        if index:
            samples.append((time.perf_counter() - began) * 1000)
    if response is None or not samples:
        raise RuntimeError(f"every {method} {url} failed")
    return statistics.median(samples), response.status_code, len(response.content), failed


@dataclass
class Measured:
    server_ms: float | None = None
    dom_ms: float | None = None
    visible_ms: float | None = None
    status: str = "ok"
    detail: dict[str, Any] = field(default_factory=dict)


def condition_js(selectors: list[str]) -> str:
    """A JS predicate: any selector shows. ``text=/re/`` and ``text=abc`` test the page's
    rendered text (``innerText``: what is displayed), others are CSS selectors of an
    element with a layout box."""
    tests = []
    for selector in selectors:
        if selector.startswith("text=/"):
            pattern = selector[len("text=") :]
            tests.append(f"{pattern}.test(document.body.innerText)")
        elif selector.startswith("text="):
            text = json.dumps(selector[len("text=") :])
            tests.append(f"document.body.innerText.includes({text})")
        else:
            css = json.dumps(selector)
            tests.append(
                f"Array.from(document.querySelectorAll({css}))"
                ".some(e => e.getClientRects().length > 0)"
            )
    return "() => !!document.body && (" + " || ".join(tests) + ")"


#: Runs in every document before its own scripts: from the first animation frame on, and
#: again after each DOM change, test the page's condition; keep the first time it holds
#: (``performance.now()``: ms since navigation start), as the frame that paints it runs.
WATCH_JS = """
(() => {
  if (location.protocol === "about:") return;
  const shows = CONDITION;
  let dirty = true;
  new MutationObserver(() => { dirty = true; })
    .observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
  const frame = () => {
    if (dirty) {
      dirty = false;
      try { if (shows()) { window.__benchVisible = performance.now(); return; } } catch (e) {}
    }
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
})();
"""


def browser_loads(
    context: Any, url: str, selectors: list[str], repeats: int
) -> tuple[float, float, list[str]]:
    """Medians of (DOMContentLoaded ms, data visible ms), from navigation start, over
    ``repeats`` loads after a warm-up load, in a fresh tab of ``context`` (its cookies and
    HTTP cache); also the REST calls the page made on its last load (to check that
    ``PAGES`` names the right ones)."""
    calls: list[str] = []

    def seen(request: Any) -> None:
        if "/ajax-api/" in request.url or "/graphql" in request.url:
            body = f" {request.post_data[:400]}" if request.post_data else ""
            calls.append(f"{request.method} {request.url.split('/mlflow', 1)[-1]}{body}")

    page = context.new_page()
    page.add_init_script(WATCH_JS.replace("CONDITION", condition_js(selectors)))
    page.on("request", seen)
    doms, visibles = [], []
    try:
        for index in range(repeats + 1):
            calls.clear()
            page.goto("about:blank")
            page.goto(url, wait_until="domcontentloaded")
            page.wait_for_function("window.__benchVisible !== undefined", timeout=60_000)
            dom, visible = page.evaluate(
                "[performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,"
                " window.__benchVisible]"
            )
            if index:  # the first load warms the HTTP cache and the servers
                doms.append(float(dom))
                visibles.append(float(visible))
    finally:
        page.close()
    return statistics.median(doms), statistics.median(visibles), list(calls)


def measure(
    plan: Plan,
    root: Path,
    meta: dict[str, Any],
    venv: Path,
    repeats: int,
    pages: list[Page],
    console: Any,
) -> dict[str, dict[str, Measured]]:
    from playwright.sync_api import sync_playwright

    from shipyard import Client
    from shipyard.config import StoreSettings

    work = Path(tempfile.mkdtemp(prefix="shipyard-dashboard-"))
    logs = root / "logs"
    logs.mkdir(exist_ok=True)
    home = root / "shipyard"
    with Client(settings=StoreSettings(home=home, user="bench")) as client:
        token = client.create_token(f"dashboard-bench-{int(time.time())}", "admin").token
    ship_runs = meta["shipyard"]["run_ids"]
    ml_runs = meta["mlflow"]["run_ids"]
    pick = [len(ship_runs) - 1, len(ship_runs) // 2, 0]  # newest, middle, oldest
    ids = {
        "model": MODEL,
        "deployment": DEPLOYMENT,
        "versions": str(plan.versions),
        "run_id": ship_runs[pick[1]],
        "run_name": run_name(pick[1]),
        "compare_ids": ",".join(ship_runs[i] for i in pick),
        "compare_last_name": run_name(pick[-1]),
        "mlflow_experiment": str(meta["mlflow"]["experiment_id"]),
        "mlflow_run_id": ml_runs[pick[1]],
        "mlflow_compare_ids_quoted": '","'.join(ml_runs[i] for i in pick),
    }
    ids["mlflow_compare_in"] = ",".join(f"'{ml_runs[i]}'" for i in pick)
    results: dict[str, dict[str, Measured]] = {}
    try:
        src = work / "shipyard-src"
        snapshot_shipyard(src, console.print)
        ship_port, ml_port = free_port(), free_port()
        ship_url, ml_url = f"http://{HOST}:{ship_port}", f"http://{HOST}:{ml_port}"
        shipyard_argv = [str(Path(sys.executable).parent / "shipyard"), "--home", str(home)]
        shipyard_argv += ["serve", "--host", HOST, "--port", str(ship_port)]
        mlflow_argv = [
            str(venv / "bin" / "mlflow"),
            "server",
            "--host",
            HOST,
            "--port",
            str(ml_port),
        ]
        mlflow_argv += ["--backend-store-uri", f"sqlite:///{root / 'mlflow' / 'mlflow.db'}"]
        ml_env = user_env({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"})
        ml_env["PATH"] = f"{venv / 'bin'}{os.pathsep}{ml_env.get('PATH', '')}"
        with (
            server(
                shipyard_argv,
                user_env({"PYTHONPATH": str(src)}),
                f"{ship_url}/health",
                logs / "shipyard.log",
            ),
            server(
                mlflow_argv, ml_env, f"{ml_url}/health", logs / "mlflow.log", cwd=root / "mlflow"
            ),
            httpx.Client(
                base_url=ship_url, headers={"authorization": f"Bearer {token}"}, timeout=120
            ) as ship_http,
            httpx.Client(base_url=ml_url + MLFLOW_API, timeout=120) as ml_http,
            sync_playwright() as playwright,
        ):
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            ship_context = browser.new_context(viewport={"width": 1400, "height": 900})
            ml_context = browser.new_context(viewport={"width": 1400, "height": 900})
            signin = ship_context.new_page()  # as a user signs in: the cookie, not the token
            signin.goto(f"{ship_url}/ui/login")
            signin.fill("#token", token)
            signin.click("button[type=submit]")
            signin.wait_for_url(f"{ship_url}/ui")
            signin.close()
            for page in pages:
                label = fill(page.label, ids | {"predictions": f"{plan.predictions:,}"})
                with console.status(f"measuring {label}"):
                    results[page.key] = {
                        "shipyard": measure_shipyard(
                            page, ids, ship_http, ship_context, ship_url, repeats
                        )
                    }
                    if page.mlflow_route is not None:
                        results[page.key]["mlflow"] = measure_mlflow(
                            page, ids, ml_http, ml_context, ml_url, repeats
                        )
                console.print(
                    f"{label}: "
                    + ", ".join(f"{k} {_short(v)}" for k, v in results[page.key].items())
                )
            browser.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results


def _short(m: Measured) -> str:
    if m.status != "ok":
        return m.status
    return f"server {m.server_ms:.1f} ms, DOM {m.dom_ms:.0f} ms, data {m.visible_ms:.0f} ms"


def measure_shipyard(
    page: Page, ids: dict[str, str], http: httpx.Client, context: Any, base: str, repeats: int
) -> Measured:
    path = fill(page.path, ids)
    probe = http.get(path)
    if probe.status_code == 404:
        return Measured(status="missing")
    if probe.status_code != 200:
        return Measured(status=f"error {probe.status_code}")
    server_ms, status, size, failed = time_requests(http, "GET", path, None, repeats)
    if status != 200:
        return Measured(status=f"error {status}")
    selectors = [fill(s, ids) for s in page.selectors]
    try:
        dom, visible, _ = browser_loads(context, base + path, selectors, repeats)
    except Exception as exc:  # a selector that never shows: report, keep the server time
        return Measured(
            server_ms,
            status="ok",
            detail={"path": path, "bytes": size, "browser_error": str(exc)[:300]},
        )
    return Measured(server_ms, dom, visible, detail={"path": path, "bytes": size, "failed": failed})


def measure_mlflow(
    page: Page, ids: dict[str, str], http: httpx.Client, context: Any, base: str, repeats: int
) -> Measured:
    calls = {}
    total = 0.0
    for call in page.mlflow_calls:
        path = fill(call.path, ids)
        median, status, size, failed = time_requests(
            http, call.method, path, fill_body(call.body, ids), repeats
        )
        if status != 200:
            return Measured(status=f"error {status} on {call.method} {path}")
        calls[f"{call.method} {path}"] = {"ms": round(median, 2), "bytes": size, "failed": failed}
        total += median
    assert page.mlflow_route is not None
    url = f"{base}/{fill(page.mlflow_route, ids)}"
    selectors = [fill(s, ids) for s in page.mlflow_selectors]
    detail: dict[str, Any] = {"route": url, "calls": calls}
    try:
        dom, visible, seen = browser_loads(context, url, selectors, repeats)
    except Exception as exc:
        detail["browser_error"] = str(exc)[:300]
        return Measured(total, detail=detail)
    detail["browser_made"] = seen
    return Measured(total, dom, visible, detail=detail)


# -- report ----------------------------------------------------------------------------------
def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def _mark(value: float | None, target: float) -> str:
    if value is None:
        return ""
    return " [green]pass[/]" if value <= target else " [bold red]FAIL[/]"


def _ratio(theirs: float | None, ours: float | None) -> str:
    return "-" if theirs is None or not ours else f"{theirs / ours:,.1f}x"


def report(
    console: Any,
    plan: Plan,
    ids_label: dict[str, str],
    results: dict[str, dict[str, Measured]],
    pages: list[Page],
) -> None:
    from rich.table import Table

    table = Table(title=f"Dashboard pages, medians ({plan.name} workspace)", title_justify="left")
    columns = (
        "page",
        "Shipyard server ms",
        "Shipyard DOM ready ms",
        "Shipyard data visible ms",
        "MLflow server ms",
        "MLflow DOM ready ms",
        "MLflow data visible ms",
        "ratio server",
        "ratio data visible",
    )
    for name in columns:
        table.add_column(name, justify="left" if name == "page" else "right")
    for page in pages:
        row = results.get(page.key)
        if row is None:
            continue
        ours, theirs = row["shipyard"], row.get("mlflow")
        label = fill(page.label, ids_label)
        if ours.status != "ok":
            cells = [label, ours.status, "", ""]
        else:
            cells = [
                label,
                _ms(ours.server_ms) + _mark(ours.server_ms, SERVER_TARGET_MS),
                _ms(ours.dom_ms) + _mark(ours.dom_ms, DOM_TARGET_MS),
                _ms(ours.visible_ms),
            ]
        if theirs is None:
            cells += ["no peer", "", "", "", ""]
        elif theirs.status != "ok":
            cells += [theirs.status, "", "", "", ""]
        else:
            cells += [_ms(theirs.server_ms), _ms(theirs.dom_ms), _ms(theirs.visible_ms)]
            ok = ours.status == "ok"
            cells += [
                _ratio(theirs.server_ms, ours.server_ms if ok else None),
                _ratio(theirs.visible_ms, ours.visible_ms if ok else None),
            ]
        table.add_row(*cells)
    console.print(table)
    console.print(
        f"targets: Shipyard server <= {SERVER_TARGET_MS:.0f} ms, "
        f"DOM ready <= {DOM_TARGET_MS:.0f} ms. "
        "ratios = MLflow / Shipyard (same run). MLflow server ms = the sum of the medians of the "
        "REST calls its page makes (below); its DOM ready is the single-page app's empty shell."
    )
    for page in pages:
        row = results.get(page.key, {})
        for side, m in row.items():
            if m.detail.get("browser_error"):
                console.print(f"[yellow]{page.key} {side}: browser: {m.detail['browser_error']}[/]")
            if side == "mlflow":
                calls = ", ".join(f"{k} {v['ms']} ms" for k, v in m.detail.get("calls", {}).items())
                console.print(f"  {page.key} MLflow calls timed: {calls}")
                console.print(f"  {page.key} MLflow page made: {m.detail.get('browser_made')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="100 runs, 10 versions, 100k predictions"
    )
    parser.add_argument("--repeats", type=int, default=15, help="requests / page loads per median")
    parser.add_argument("--pages", help="comma-separated page keys (default: all)")
    parser.add_argument("--build-only", action="store_true", help="make the workspaces and stop")
    parser.add_argument(
        "--src",
        type=Path,
        help="serve the pages of another checkout's src/shipyard (e.g. a branch's worktree; "
        "copied, read only); default: this one",
    )
    args = parser.parse_args(argv)

    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        console = Console(width=170)
    plan = Plan.quick() if args.quick else Plan()
    pages = [p for p in PAGES if not args.pages or p.key in args.pages.split(",")]
    with console.status("preparing the MLflow venv (benchmarks/serving/peers.py)"):
        venv, versions = ensure_mlflow_venv(console.print)
    root, meta = workspaces(plan, venv, console)
    for side in ("shipyard", "mlflow"):
        timings = ", ".join(f"{k} {v:,.1f} s" for k, v in meta[side]["timings"].items())
        console.print(f"{side} workspace written in: {timings}")
    if args.build_only:
        return 0
    load = os.getloadavg()
    if args.src is not None:  # snapshot_shipyard copies peers.ROOT / "src" / "shipyard"
        peers.ROOT = args.src.resolve()
        console.print(f"serving the pages of {peers.ROOT / 'src' / 'shipyard'}")
    results = measure(plan, root, meta, venv, args.repeats, pages, console)
    labels = {"versions": str(plan.versions), "predictions": f"{plan.predictions:,}"}
    report(console, plan, labels, results, pages)
    console.print(
        f"mlflow {versions.get('mlflow')}, load average {load[0]:.2f} -> {os.getloadavg()[0]:.2f} "
        f"({os.cpu_count()} cpus), {args.repeats} repeats"
    )
    RESULTS.write_text(
        json.dumps(
            {
                "plan": asdict(plan),
                "repeats": args.repeats,
                "build": {s: meta[s]["timings"] for s in ("shipyard", "mlflow")},
                "results": {k: {s: asdict(m) for s, m in v.items()} for k, v in results.items()},
            },
            indent=2,
        )
    )
    console.print(f"raw results: {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
