"""Tracking and registry over HTTP: the stock MLflow client against ``mlflow server``
and against ``shipyard serve``, and Shipyard's own remote SDK against ``shipyard serve``.

    .venv/bin/python benchmarks/tracking_server.py             # full run
    .venv/bin/python benchmarks/tracking_server.py --quick     # smoke run
    .venv/bin/python benchmarks/tracking_server.py --repeat 3  # median of 3

Three configurations, side by side in one run, each server started the way its
users start it, in a fresh temporary folder:

- ``mlflow``: ``mlflow server --backend-store-uri sqlite:///... --serve-artifacts
  --artifacts-destination ... --host 127.0.0.1 --port P`` (default workers), the
  MLflow client with ``MLFLOW_TRACKING_URI``.
- ``mlflow-shipyard``: ``shipyard --home H serve --port P`` (auth on, its default)
  and the same MLflow client code with ``MLFLOW_TRACKING_URI`` and
  ``MLFLOW_TRACKING_TOKEN`` (a scientist token from ``shipyard tokens create``).
  Skipped, with a line saying so, when the server has no MLflow REST API.
- ``shipyard``: the same ``shipyard serve``, Shipyard's SDK with ``SHIPYARD_URL`` and
  ``SHIPYARD_TOKEN`` only (no store settings).

Every workload runs in its own client process (MLflow's in the ``.bench`` MLflow
venv, with this interpreter's scikit-learn/numpy/pandas versions; Shipyard's in
this interpreter) and is timed inside it after an untimed warm-up, so imports
and model fitting are not counted. Before the timed repetitions, every
configuration runs each workload once at a tiny size (untimed), so all server
workers have served every route (MLflow's server starts 4 of them). The workloads:

- (a) ``runs`` x (start run, ``params`` x log_param, ``metrics`` x log_metric, end run),
  one call at a time. Shipyard's ``run.log_param``/``run.log_metric`` buffer on the
  client and write at ``run.end()`` (its design); MLflow's make one request each.
- (b) ``points`` metric points into one run: a ``log_metric`` loop (what users write),
  and MLflow's own faster path, ``MlflowClient.log_batch`` in chunks of 1000
  (Shipyard: ``run.log_batch``). Timed until written (the run is ended).
- (c) ``versions`` times: start a run, log a small fitted scikit-learn pipeline and
  register it as a new version, then point an alias at it. MLflow:
  ``mlflow.sklearn.log_model(model, name="model", registered_model_name=...)`` +
  ``MlflowClient().set_registered_model_alias``; Shipyard:
  ``run.register_model(model, name=..., sample_input=...)`` + ``Client().set_alias``.
  The alias is ``candidate``: ``champion`` is protected and a scientist may not move it.

Ratios are MLflow-server time / the other configuration's time on the same
workload in this run; targets: >= 3x for the MLflow client on ``shipyard serve``,
>= 10x for Shipyard's SDK (for (b), against MLflow's faster variant). Raw samples
go to ``.bench/tracking-server-results.json``. The top of this module imports only
the standard library: the MLflow client side runs it in the MLflow venv.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BENCH_DIR = ROOT / ".bench"
RESULT_MARKER = "@@result "
PROGRESS_MARKER = "@@progress "
MODEL = "bench-model"
ALIAS = "candidate"
CHUNK = 1000  # MLflow's log_batch accepts at most 1000 metrics per call
CONFIGS = ("mlflow", "mlflow-shipyard", "shipyard")
LABELS = {
    "mlflow": "MLflow client -> mlflow server",
    "mlflow-shipyard": "MLflow client -> shipyard serve",
    "shipyard": "Shipyard SDK -> shipyard serve",
}
WORKLOADS = ("runs", "points", "register")
#: MLflow 3 sends usage telemetry from a background thread; there is no network here,
#: and users who care set these. They can only make MLflow faster.
QUIET_MLFLOW_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


@dataclass
class Plan:
    """Sizes of the workloads; ``--quick`` shrinks them."""

    runs: int = 200
    params: int = 10
    metrics: int = 5
    points: int = 10_000
    versions: int = 20

    @classmethod
    def quick(cls) -> Plan:
        return cls(runs=20, points=1_000, versions=3)


# -- the client side (runs in either interpreter) ------------------------------------------
def progress(text: str) -> None:
    sys.stderr.write(PROGRESS_MARKER + text + "\n")
    sys.stderr.flush()


def fitted_models(count: int) -> tuple[Any, list[Any]]:
    """Breast-cancer features and ``count`` small fitted pipelines (distinct bytes each)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(as_frame=True, return_X_y=True)
    models = [
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, C=1.0 + i / 100)).fit(X, y)
        for i in range(count)
    ]
    return X, models


def param_value(i: int, j: int) -> str:
    return f"value-{j}-{i}"


def metric_value(i: int, j: int) -> float:
    return (i * 31 + j * 7) % 97 / 97


def points(n: int) -> list[float]:
    return [1.0 / (1 + step) for step in range(n)]


def mlflow_workload(workload: str, plan: Plan, tag: str) -> dict[str, float]:
    """The MLflow client, as its docs write it; MLFLOW_TRACKING_URI names the server."""
    import mlflow
    import mlflow.sklearn
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient()
    if workload == "runs":
        mlflow.set_experiment(f"runs-{tag}")
        with mlflow.start_run():  # warm-up: connection, experiment lookup
            mlflow.log_param("warm", 1)
        start = time.perf_counter()
        for i in range(plan.runs):
            mlflow.start_run()
            for j in range(plan.params):
                mlflow.log_param(f"p{j}", param_value(i, j))
            for j in range(plan.metrics):
                mlflow.log_metric(f"m{j}", metric_value(i, j))
            mlflow.end_run()
            if i % 50 == 49:
                progress(f"runs {i + 1}/{plan.runs}")
        return {"runs": time.perf_counter() - start}
    if workload == "points":
        values = points(plan.points)
        experiment = mlflow.set_experiment(f"points-{tag}")
        with mlflow.start_run():
            mlflow.log_metric("warm", 1.0)
        start = time.perf_counter()
        with mlflow.start_run() as run:
            for step, value in enumerate(values):
                mlflow.log_metric("loss", value, step=step)
                if step % 2000 == 1999:
                    progress(f"log_metric loop {step + 1}/{plan.points}")
        loop = time.perf_counter() - start
        check_points(len(client.get_metric_history(run.info.run_id, "loss")), plan)
        now = int(time.time() * 1000)
        metrics = [Metric("loss", value, now, step) for step, value in enumerate(values)]
        start = time.perf_counter()
        batch_run = client.create_run(experiment.experiment_id)
        batch_id = batch_run.info.run_id
        for first in range(0, len(metrics), CHUNK):
            client.log_batch(batch_id, metrics=metrics[first : first + CHUNK])
        client.set_terminated(batch_id)
        batch = time.perf_counter() - start
        check_points(len(client.get_metric_history(batch_id, "loss")), plan)
        return {"points_loop": loop, "points_batch": batch}
    if workload == "register":
        _, models = fitted_models(plan.versions + 1)
        mlflow.set_experiment(f"register-{tag}")
        name = f"{MODEL}-{tag}"
        with mlflow.start_run():  # warm-up: first log_model imports and caches a lot
            mlflow.sklearn.log_model(models[-1], name="model", registered_model_name=f"warm-{tag}")
        start = time.perf_counter()
        version = "0"
        for index, model in enumerate(models[:-1]):
            with mlflow.start_run():
                info = mlflow.sklearn.log_model(model, name="model", registered_model_name=name)
            version = str(info.registered_model_version)
            client.set_registered_model_alias(name, ALIAS, version)
            progress(f"version {index + 1}/{plan.versions}")
        elapsed = time.perf_counter() - start
        got = client.get_model_version_by_alias(name, ALIAS).version
        if str(got) != str(plan.versions):
            raise RuntimeError(f"{name}@{ALIAS} is version {got}, expected {plan.versions}")
        return {"register": elapsed}
    raise ValueError(workload)


def shipyard_workload(workload: str, plan: Plan, tag: str) -> dict[str, float]:
    """Shipyard's SDK, as its README writes it; SHIPYARD_URL/SHIPYARD_TOKEN name the server."""
    import shipyard

    client = shipyard.Client()
    if client.url is None:
        raise RuntimeError("SHIPYARD_URL is not set: this must measure the remote SDK")
    if workload == "runs":
        experiment = f"runs-{tag}"
        with shipyard.start_run(experiment) as run:  # warm-up
            run.log_param("warm", 1)
        start = time.perf_counter()
        for i in range(plan.runs):
            run = shipyard.start_run(experiment)
            for j in range(plan.params):
                run.log_param(f"p{j}", param_value(i, j))
            for j in range(plan.metrics):
                run.log_metric(f"m{j}", metric_value(i, j))
            run.end()
            if i % 50 == 49:
                progress(f"runs {i + 1}/{plan.runs}")
        return {"runs": time.perf_counter() - start}
    if workload == "points":
        values = points(plan.points)
        experiment = f"points-{tag}"
        with shipyard.start_run(experiment) as run:
            run.log_metric("warm", 1.0)
        start = time.perf_counter()
        with shipyard.start_run(experiment) as run:
            for step, value in enumerate(values):
                run.log_metric("loss", value, step=step)
        loop = time.perf_counter() - start
        check_points(len(client.get_metric_history(run.id, "loss")), plan)
        batch_points = [("loss", value, step) for step, value in enumerate(values)]
        start = time.perf_counter()
        with shipyard.start_run(experiment) as run:
            run.log_batch(batch_points)
        batch = time.perf_counter() - start
        check_points(len(client.get_metric_history(run.id, "loss")), plan)
        return {"points_loop": loop, "points_batch": batch}
    if workload == "register":
        X, models = fitted_models(plan.versions + 1)
        sample = X.head(5)
        name = f"{MODEL}-{tag}"
        experiment = f"register-{tag}"
        with shipyard.start_run(experiment) as run:  # warm-up
            run.register_model(models[-1], name=f"warm-{tag}", sample_input=sample)
        start = time.perf_counter()
        for index, model in enumerate(models[:-1]):
            with shipyard.start_run(experiment) as run:
                version = run.register_model(model, name=name, sample_input=sample).version
            client.set_alias(name, ALIAS, version)
            progress(f"version {index + 1}/{plan.versions}")
        elapsed = time.perf_counter() - start
        got = client.get_model_version_by_alias(name, ALIAS).version
        if int(got) != plan.versions:
            raise RuntimeError(f"{name}@{ALIAS} is version {got}, expected {plan.versions}")
        return {"register": elapsed}
    raise ValueError(workload)


def check_points(count: int, plan: Plan) -> None:
    if count != plan.points:
        raise RuntimeError(f"the run holds {count} points of 'loss', expected {plan.points}")


def run_child(client: str, workload: str, plan: Plan, tag: str) -> None:
    run = mlflow_workload if client == "mlflow" else shipyard_workload
    print(RESULT_MARKER + json.dumps(run(workload, plan, tag)), flush=True)


# -- servers ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited ({process.returncode}); see {log}:\n{tail(log)}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{url}/health", timeout=2) as answer,
        ):
            if answer.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} not healthy after {timeout:.0f} s; see {log}:\n{tail(log)}")


def tail(path: Path, lines: int = 15) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


@contextlib.contextmanager
def server(command: list[str], env: dict[str, str], log: Path) -> Iterator[str]:
    """Start ``command`` (it gets ``--port``/``--host`` already) in its own process group;
    yield its URL once /health answers; stop the whole group whatever happens."""
    port = command[command.index("--port") + 1]
    with log.open("w") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, log, timeout=180)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def user_env(extra: dict[str, str] | None = None, venv: Path | None = None) -> dict[str, str]:
    """A user's shell: none of this process's Shipyard/MLflow settings or venv."""
    drop = ("SHIPYARD_", "MLFLOW_", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    if venv is not None:
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(venv)
    env.update(extra or {})
    return env


def shipyard_cli(home: Path, *args: str) -> str:
    command = [str(Path(sys.executable).parent / "shipyard"), "--home", str(home), *args]
    done = subprocess.run(command, env=user_env(), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def shipyard_token(home: Path) -> str:
    """A scientist's token, made the way an admin makes one on the server's machine."""
    shipyard_cli(home, "users", "add", "bench", "--role", "scientist")
    out = shipyard_cli(
        home, "tokens", "create", "--user", "bench", "--name", "bench", "--role", "scientist",
        "--json",
    )  # fmt: skip
    return str(json.loads(out)["token"])


def has_mlflow_api(url: str, token: str) -> tuple[bool, str]:
    """Whether ``shipyard serve`` speaks MLflow's REST API (the route answers, even 404
    RESOURCE_DOES_NOT_EXIST), and why not."""
    request = urllib.request.Request(
        f"{url}/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default",
        headers={"Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10):
            return True, ""
    except urllib.error.HTTPError as error:
        body = error.read().decode(errors="replace")[:300]
        if error.code == 404 and "RESOURCE_DOES_NOT_EXIST" in body:
            return True, ""
        return False, f"GET /api/2.0/mlflow/experiments/get-by-name answered {error.code} {body}"
    except OSError as error:
        return False, f"GET /api/2.0/mlflow/experiments/get-by-name failed: {error}"


# -- the parent ---------------------------------------------------------------------------
def say(text: str) -> None:
    print(text, flush=True)


def time_workload(
    python: Path, client: str, workload: str, plan: Plan, tag: str, env: dict[str, str], log: Path
) -> dict[str, float]:
    """One workload in a fresh client process; relays its progress lines."""
    command = [
        str(python), str(Path(__file__).resolve()), "--child", client, "--workload", workload,
        "--tag", tag, "--plan", json.dumps(asdict(plan)),
    ]  # fmt: skip
    result: dict[str, float] | None = None
    with log.open("a") as out:
        out.write(f"\n== {client} {workload} {tag}\n")
        process = subprocess.Popen(
            command, env=env, cwd=tempfile.gettempdir(), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith(PROGRESS_MARKER):
                say(f"      {line[len(PROGRESS_MARKER) :].strip()}")
            elif line.startswith(RESULT_MARKER):
                result = json.loads(line[len(RESULT_MARKER) :])
            else:
                out.write(line)
        process.wait()
    if process.returncode != 0 or result is None:
        raise RuntimeError(f"{client} {workload} failed ({process.returncode}); see {log}")
    return result


def mlflow_venv() -> tuple[Path, dict[str, Any]]:
    """The cached MLflow venv of the serving benchmark (same scikit-learn/numpy pins)."""
    sys.path.insert(0, str(HERE / "serving"))
    from peers import ensure_mlflow_venv

    return ensure_mlflow_venv(lambda text: say(f"  {text}"))


def measure(plan: Plan, repeat: int, configs: list[str], work: Path) -> dict[str, Any]:
    """Start the servers, run every (configuration, workload) ``repeat`` times."""
    venv, versions = mlflow_venv()
    say(f"MLflow venv {venv.relative_to(ROOT)}: {versions}")
    logs = BENCH_DIR / "tracking-server-logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    samples: dict[str, dict[str, list[float]]] = {c: {} for c in configs}
    skipped: dict[str, str] = {}
    failed: dict[str, str] = {}
    envs: dict[str, tuple[Path, dict[str, str]]] = {}
    with contextlib.ExitStack() as stack:
        if "mlflow" in configs:
            port = free_port()
            command = [
                str(venv / "bin" / "mlflow"), "server",
                "--backend-store-uri", f"sqlite:///{work / 'mlflow.db'}",
                "--serve-artifacts", "--artifacts-destination", str(work / "mlflow-artifacts"),
                "--host", "127.0.0.1", "--port", str(port),
            ]  # fmt: skip
            say(f"starting: {' '.join(command)}")
            env = user_env(QUIET_MLFLOW_ENV, venv)
            url = stack.enter_context(server(command, env, logs / "mlflow-server.log"))
            envs["mlflow"] = (
                venv / "bin" / "python",
                user_env({**QUIET_MLFLOW_ENV, "MLFLOW_TRACKING_URI": url}, venv),
            )
        if "mlflow-shipyard" in configs or "shipyard" in configs:
            home = work / "shipyard"
            token = shipyard_token(home)
            port = free_port()
            command = [
                str(Path(sys.executable).parent / "shipyard"), "--home", str(home), "serve",
                "--port", str(port),
            ]  # fmt: skip
            say(f"starting: {' '.join(command)}  (auth on; a scientist token)")
            url = stack.enter_context(server(command, user_env(), logs / "shipyard-serve.log"))
            if "mlflow-shipyard" in configs:
                ok, why = has_mlflow_api(url, token)
                if ok:
                    extra = {"MLFLOW_TRACKING_URI": url, "MLFLOW_TRACKING_TOKEN": token}
                    envs["mlflow-shipyard"] = (
                        venv / "bin" / "python",
                        user_env({**QUIET_MLFLOW_ENV, **extra}, venv),
                    )
                else:
                    skipped["mlflow-shipyard"] = f"shipyard serve has no MLflow REST API ({why})"
                    say(f"SKIP {LABELS['mlflow-shipyard']}: {skipped['mlflow-shipyard']}")
            if "shipyard" in configs:
                envs["shipyard"] = (
                    Path(sys.executable),
                    user_env({"SHIPYARD_URL": url, "SHIPYARD_TOKEN": token}),
                )
        warm = Plan(runs=5, points=100, versions=1)
        for config in configs:
            if config in envs:  # every server worker and code path warm before timing
                python, env = envs[config]
                client = "shipyard" if config == "shipyard" else "mlflow"
                say(f"warming up {LABELS[config]} (untimed: {asdict(warm)})")
                for workload in WORKLOADS:
                    try:
                        time_workload(
                            python, client, workload, warm, f"{config}-warm", env,
                            logs / "warm.log",
                        )  # fmt: skip
                    except RuntimeError as error:
                        failed[f"{LABELS[config]}: {workload} (warm-up)"] = str(error)
                        say(f"    FAILED: {error}")
        for rep in range(repeat):
            for workload in WORKLOADS:
                for config in configs:
                    if config not in envs:
                        continue
                    python, env = envs[config]
                    client = "shipyard" if config == "shipyard" else "mlflow"
                    say(f"[{rep + 1}/{repeat}] {LABELS[config]}: {workload}")
                    started = time.perf_counter()
                    try:
                        result = time_workload(
                            python, client, workload, plan, f"{config}-{rep}", env,
                            logs / f"{config}.log",
                        )  # fmt: skip
                    except RuntimeError as error:  # report it and measure the rest
                        failed[f"{LABELS[config]}: {workload}"] = str(error)
                        say(f"    FAILED: {error}")
                        continue
                    for key, value in result.items():
                        samples[config].setdefault(key, []).append(value)
                    shown = ", ".join(f"{k} {v:.2f} s" for k, v in result.items())
                    say(f"    {shown}  (process {time.perf_counter() - started:.1f} s)")
    return {"samples": samples, "skipped": skipped, "failed": failed, "mlflow_versions": versions}


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    target_mlflow_shipyard: float | None
    target_sdk: float | None


def rows(plan: Plan) -> list[Row]:
    return [
        Row("runs", f"(a) {plan.runs} runs x ({plan.params} params + {plan.metrics} metrics), "
            "1 call each", 3, 10),
        Row("points_loop", f"(b) {plan.points:,} points, log_metric loop", 3, None),
        Row("points_batch", f"(b) {plan.points:,} points, MLflow log_batch x{CHUNK} "
            "/ Shipyard run.log_batch", 3, None),
        Row("points_best", f"(b) {plan.points:,} points: Shipyard's log_metric loop vs "
            "MLflow's faster variant", None, 10),
        Row("register", f"(c) {plan.versions} versions: log + register model, set alias", 3, 10),
    ]  # fmt: skip


def medians(samples: dict[str, list[float]]) -> dict[str, float]:
    return {key: statistics.median(values) for key, values in samples.items()}


def report(plan: Plan, repeat: int, data: dict[str, Any]) -> list[str]:
    """The table as lines, and the verdicts."""
    found = {config: medians(values) for config, values in data["samples"].items()}
    mlflow = found.get("mlflow", {})
    theirs_shipyard = found.get("mlflow-shipyard", {})
    ours = found.get("shipyard", {})
    if "points_loop" in mlflow:
        faster = min(("points_loop", "points_batch"), key=lambda k: mlflow[k])
        mlflow = {**mlflow, "points_best": mlflow[faster]}
        if "points_loop" in ours:
            ours = {**ours, "points_best": ours["points_loop"]}
    else:
        faster = "-"

    def cell(values: dict[str, float], key: str) -> str:
        return f"{values[key]:.2f} s" if key in values else "-"

    def ratio(key: str, other: dict[str, float], target: float | None) -> str:
        if key not in mlflow or key not in other or not other[key]:
            return "-"
        value = mlflow[key] / other[key]
        if target is None:
            return f"{value:.1f}x (info)"
        return f"{value:.1f}x {'met' if value >= target else 'NOT met'} (>= {target:g}x)"

    header = ["workload", "mlflow->mlflow", "mlflow->shipyard", "ratio", "SDK->shipyard", "ratio"]
    table = [header]
    for row in rows(plan):
        mlflow_cell = cell(mlflow, row.key)
        if row.key == "points_best" and faster != "-":
            mlflow_cell += f" ({'loop' if faster == 'points_loop' else 'log_batch'})"
        table.append(
            [
                row.label,
                mlflow_cell,
                cell(theirs_shipyard, row.key) if row.key != "points_best" else "",
                ratio(row.key, theirs_shipyard, row.target_mlflow_shipyard)
                if row.key != "points_best"
                else "",
                cell(ours, row.key),
                ratio(row.key, ours, row.target_sdk),
            ]
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = [
        f"Seconds, median of {repeat}; ratio = mlflow->mlflow time / that column's time.",
        *("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in table),
        "",
        "Shipyard's run.log_param / run.log_metric buffer on the client and are written at "
        "run.end() (its design); MLflow's make one HTTP request per call.",
        f"(b) 'log_batch': MLflow's MlflowClient.log_batch in chunks of {CHUNK}; Shipyard's "
        "run.log_batch (one call). Both timed until the run is ended.",
        f"(c) alias '{ALIAS}' (a scientist may not move 'champion'); MLflow's log_model without "
        "input_example; Shipyard's register_model with sample_input (5 rows).",
    ]
    for config, why in data["skipped"].items():
        lines.append(f"SKIPPED {LABELS[config]}: {why}")
    for what, why in data.get("failed", {}).items():
        lines.append(f"FAILED {what}: {why}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 runs, 1,000 points, 3 versions")
    parser.add_argument("--repeat", type=int, default=1, help="repetitions (median is shown)")
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"subset of {CONFIGS}")
    parser.add_argument("--child", choices=("mlflow", "shipyard"), help=argparse.SUPPRESS)
    parser.add_argument("--workload", choices=WORKLOADS, help=argparse.SUPPRESS)
    parser.add_argument("--tag", default="0", help=argparse.SUPPRESS)
    parser.add_argument("--plan", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_child(args.child, args.workload, Plan(**json.loads(args.plan)), args.tag)
        return 0
    plan = Plan.quick() if args.quick else Plan()
    configs = [c for c in args.configs.split(",") if c]
    unknown = set(configs) - set(CONFIGS)
    if unknown:
        parser.error(f"unknown configurations {sorted(unknown)}; choose from {CONFIGS}")
    BENCH_DIR.mkdir(exist_ok=True)
    say(f"plan: {asdict(plan)}, repeat {args.repeat}, configurations {configs}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="shipyard-tracking-bench-") as work:
        data = measure(plan, args.repeat, configs, Path(work))
    lines = report(plan, args.repeat, data)
    say("")
    for line in lines:
        say(line)
    say(f"total {time.perf_counter() - started:.0f} s")
    out = BENCH_DIR / "tracking-server-results.json"
    out.write_text(json.dumps({"plan": asdict(plan), "repeat": args.repeat, **data}, indent=2))
    say(f"raw samples: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
