"""Shipyard's tracking and registry side by side with MLflow (default SQLite backend).

One command measures both libraries with the same harness and prints medians
and the MLflow/Shipyard ratio next to the targets::

    .venv/bin/python benchmarks/tracking.py            # full run, ~6-8 minutes
    .venv/bin/python benchmarks/tracking.py --quick    # smoke run, ~2 minutes

MLflow is not a dependency of Shipyard: the first run creates its own virtual
environment in ``.bench/mlflow-venv`` (git-ignored) and installs ``mlflow`` there,
with the scikit-learn and pandas versions of this interpreter so both sides
fit and call the same model code. Each side runs in its own fresh process
(``benchmarks/tracking.py --side NAME --out json``): Shipyard with this
interpreter, MLflow with the venv's. If the MLflow environment cannot be made,
the reason is printed and Shipyard's numbers are still reported, judged
against the reference MLflow numbers measured earlier on this machine.

Every measurement runs in fresh temporary workspaces (a new SQLite file and
artifact folder), after an untimed warm-up and a ``gc.collect()``, repeated;
the table shows medians. Raw samples go to ``.bench/tracking-results.json``.
This module imports only the standard library at the top, because the MLflow
side runs it under an interpreter that has neither Shipyard nor Rich.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import pickle
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / ".bench"
MLFLOW_VENV = BENCH_DIR / "mlflow-venv"
MLFLOW_SPEC = "mlflow>=3,<4"
RESULT_MARKER = "@@result "
PROGRESS_MARKER = "@@progress "

EXPERIMENT = "exp"
MODEL = "bench"
ONNX_MODEL = "bench-onnx"  # the champion's estimator, optimized (shipyard optimize)
ALIAS = "champion"
SEARCH_FILTER = "metrics.m0 > 0.5 and params.p0 = 'v'"
#: MLflow writes telemetry in a background thread by default; there is no network here.
QUIET_MLFLOW_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


# -- what is measured ------------------------------------------------------------------
@dataclass
class Plan:
    """Sizes and repeat counts; ``--quick`` shrinks them for a smoke run."""

    runs: int = 200
    params: int = 10
    metrics: int = 5
    points: int = 10_000
    versions: int = 50
    repeats: int = 3  # fresh workspaces for (a), (b), (d)
    searches: int = 20  # searches per timed sample
    search_repeats: int = 7
    cold_loads: int = 5
    call_repeats: int = 15  # samples of the per-call overhead loops
    call_sample_s: float = 0.2  # aim for samples this long
    info_versions: int = 3  # MLflow log_model + register, slow

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            runs=40,
            points=1_000,
            versions=10,
            repeats=1,
            searches=5,
            search_repeats=3,
            cold_loads=2,
            call_repeats=5,
            call_sample_s=0.05,
            info_versions=1,
        )


@dataclass(frozen=True)
class Row:
    """One line of the final table. Sides report seconds; ``scale`` converts to ``unit``."""

    key: str
    label: str
    unit: str
    scale: float
    reference: float | None = None  # the CEO's MLflow number on this machine, in ``unit``
    min_ratio: float | None = None  # target: MLflow / Shipyard at least this
    max_value: float | None = None  # target: Shipyard at most this, in ``unit``
    info: bool = False


def table_rows(plan: Plan) -> list[Row]:
    n, p, m, k, v = plan.runs, plan.params, plan.metrics, plan.points, plan.versions
    return [
        Row(
            "a_run",
            f"(a) {n} runs x ({p} params + {m} metrics), 1 call each: per run",
            "ms",
            1e3,
            42,
            min_ratio=10,
        ),
        Row(
            "b_call", f"(b) {k:,} metric points, 1 call each: per call", "ms", 1e3, 3, min_ratio=10
        ),
        Row(
            "b_batch",
            f"(b) {k:,} metric points, one batch (until written)",
            "s",
            1,
            0.8,
            min_ratio=10,
        ),
        Row(
            "b_store",
            f"(b) {k:,} points, Shipyard internal store.log_batch (info)",
            "s",
            1,
            info=True,
        ),
        Row("c_search", f"(c) search {n} runs: {SEARCH_FILTER}", "ms", 1e3, 25, min_ratio=3),
        Row(
            "d_register",
            f"(d) register {v} versions of a logged model + set alias: per version",
            "ms",
            1e3,
            14,
            min_ratio=3,
        ),
        Row(
            "d_full",
            "(d) MLflow log_model+register vs Shipyard run.register_model (info)",
            "ms",
            1e3,
            info=True,
        ),
        Row(
            "e_cold",
            "(e) fresh process: import, load @champion, first predict_proba",
            "s",
            1,
            4.1,
            min_ratio=3,
        ),
        Row(
            "e_cold_onnx",
            "(e) same, Shipyard's optimized ONNX version @champion vs MLflow pyfunc",
            "s",
            1,
            4.1,
            min_ratio=3,
        ),
        Row(
            "e_cold_sklearn",
            "(e) same, MLflow via mlflow.sklearn.load_model (info)",
            "s",
            1,
            info=True,
        ),
        Row(
            "e_floor",
            "(e) floor: fresh python, import pandas, pickle.loads, predict (info)",
            "s",
            1,
            info=True,
        ),
        Row("f_1", "(f) loaded-model overhead per call, 1 row", "ms", 1e3, 1.3, max_value=0.1),
        Row("f_100", "(f) loaded-model overhead per call, 100 rows", "ms", 1e3, max_value=0.1),
    ]


# -- progress ------------------------------------------------------------------------
class Events:
    """Progress as JSON lines on stderr; the parent turns them into Rich progress bars."""

    def start(self, label: str, total: int) -> None:
        self._emit({"start": label, "total": total})

    def advance(self, n: int = 1) -> None:
        self._emit({"advance": n})

    def _emit(self, event: dict[str, Any]) -> None:
        sys.stderr.write(PROGRESS_MARKER + json.dumps(event) + "\n")
        sys.stderr.flush()


# -- the data every side logs ------------------------------------------------------------
def run_values(i: int, plan: Plan) -> tuple[dict[str, str], dict[str, float]]:
    """Deterministic params and metrics of run ``i``: half the runs have p0 = 'v'."""
    rng = random.Random(i)
    params = {"p0": "v" if i % 2 == 0 else "w"}
    params.update({f"p{j}": f"value-{j}-{i}" for j in range(1, plan.params)})
    metrics = {f"m{j}": rng.random() for j in range(plan.metrics)}
    return params, metrics


def point_values(n: int) -> list[float]:
    return [1.0 / (1 + step) for step in range(n)]


def dataset_and_models(count: int) -> tuple[Any, list[Any]]:
    """The breast-cancer frame and ``count`` fitted pipelines (distinct bytes each)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(as_frame=True, return_X_y=True)
    models = [
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, C=1.0 + i / 100)).fit(
            X, y
        )
        for i in range(count)
    ]
    return X, models


# -- the two sides -----------------------------------------------------------------------
class Side:
    """One library behind the operations the harness times. Subclasses use its public API."""

    name = ""

    def versions(self) -> dict[str, str]:
        raise NotImplementedError

    def open(self, folder: Path) -> None:
        """Start using a fresh workspace in ``folder`` (schema created, warmed up)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def log_run(self, params: dict[str, str], metrics: dict[str, float]) -> None:
        raise NotImplementedError

    def points_per_call(self, values: list[float], events: Events) -> tuple[float, str]:
        """Seconds to log ``values`` one call at a time until written; returns the run id too."""
        raise NotImplementedError

    def points_batch(self, values: list[float]) -> tuple[float, str]:
        raise NotImplementedError

    def points_store(self, values: list[float]) -> tuple[float, str] | None:
        return None

    def history_length(self, run_id: str) -> int:
        raise NotImplementedError

    def search(self) -> int:
        raise NotImplementedError

    def prepare_registry(self, model: Any, sample: Any) -> None:
        """Untimed set-up before the registrations (MLflow logs its model once here)."""

    def register(self, model: Any, sample: Any) -> int:
        raise NotImplementedError

    def set_alias(self, version: int) -> None:
        raise NotImplementedError

    def register_full(self, model: Any, sample: Any) -> float:
        """Seconds to store a model with its files and register it as a version."""
        raise NotImplementedError

    def cold_load_programs(self) -> dict[str, str]:
        """Python source for each cold-load variant: load @champion, predict one row."""
        raise NotImplementedError

    def cold_load_env(self) -> dict[str, str]:
        raise NotImplementedError

    def loaded_callables(self) -> tuple[Callable[[Any], Any], Callable[[Any], Any], str]:
        """(loaded model call, the same call on the raw estimator, what is measured)."""
        raise NotImplementedError


class ShipyardSide(Side):
    name = "shipyard"

    def __init__(self) -> None:
        import shipyard

        self._shipyard = shipyard
        self.client: Any = None
        self.folder = Path()

    def versions(self) -> dict[str, str]:
        return {"shipyard": self._shipyard.__version__, **_common_versions()}

    def open(self, folder: Path) -> None:
        self.folder = folder
        self.client = self._shipyard.Client(home=folder / "shipyard")
        with self.client.start_run("warmup", params={"p": 1}) as run:
            run.log_metric("m", 1.0)

    def close(self) -> None:
        self.client.close()

    def log_run(self, params: dict[str, str], metrics: dict[str, float]) -> None:
        with self.client.start_run(EXPERIMENT) as run:
            for key, value in params.items():
                run.log_param(key, value)
            for key, number in metrics.items():
                run.log_metric(key, number)

    def points_per_call(self, values: list[float], events: Events) -> tuple[float, str]:
        run = self.client.start_run("points")
        chunk = max(1, len(values) // 10)
        start = time.perf_counter()
        for step, number in enumerate(values):
            run.log_metric("loss", number, step=step)
            if step % chunk == chunk - 1:
                events.advance(chunk)
        run.end()
        return time.perf_counter() - start, run.id

    def points_batch(self, values: list[float]) -> tuple[float, str]:
        # The public one-call path (run.log_batch), like MLflow's log_batch: the points
        # are built before timing on both sides, and the call returns once written.
        run = self.client.start_run("points")
        points = [("loss", number, step) for step, number in enumerate(values)]
        start = time.perf_counter()
        run.log_batch(points)
        elapsed = time.perf_counter() - start
        run.end()
        return elapsed, run.id

    def points_store(self, values: list[float]) -> tuple[float, str]:
        from shipyard.entities import MetricPoint

        run = self.client.start_run("points")
        now = int(time.time() * 1000)
        points = [MetricPoint("loss", number, step, now) for step, number in enumerate(values)]
        start = time.perf_counter()
        self.client.store.tracking.log_batch(run.id, metrics=points)
        run.end()
        return time.perf_counter() - start, run.id

    def history_length(self, run_id: str) -> int:
        return len(self.client.get_metric_history(run_id, "loss"))

    def search(self) -> int:
        return len(self.client.search_runs(EXPERIMENT, filter=SEARCH_FILTER, max_results=1000))

    def prepare_registry(self, model: Any, sample: Any) -> None:
        # Like the MLflow side: the model is logged with a run once (run.log_model), and
        # each registration adds a version of that logged model without saving it again.
        with self.client.start_run("full") as run:
            self.model_uri = run.log_model(model, "model", sample_input=sample)
        self.client.register_model(self.model_uri, name="warmup")
        # The same estimator as an optimized ONNX version, by alias (e_cold_onnx).
        frame, _ = dataset_and_models(0)
        self.client.register_model(
            model, name=ONNX_MODEL, sample_input=sample, reference_data=frame
        )
        optimized = self.client.optimize(f"models:/{ONNX_MODEL}/1").version
        self.client.set_alias(ONNX_MODEL, ALIAS, optimized.version)
        # The champion pickled, for the (e) floor: what any loader must at least spend.
        (self.folder / "champion.pkl").write_bytes(pickle.dumps(model))

    def register(self, model: Any, sample: Any) -> int:
        return int(self.client.register_model(self.model_uri, name=MODEL).version)

    def set_alias(self, version: int) -> None:
        self.client.set_alias(MODEL, ALIAS, version)

    def register_full(self, model: Any, sample: Any) -> float:
        with self.client.start_run("full") as run:
            start = time.perf_counter()
            run.register_model(model, name="bench-full", sample_input=sample)
            return time.perf_counter() - start

    def cold_load_programs(self) -> dict[str, str]:
        return {
            "e_cold": (
                "import json, sys\n"
                "import pandas as pd\n"
                "import shipyard\n"
                f"model = shipyard.load_model('models:/{MODEL}@{ALIAS}')\n"
                "print(model.predict_proba(pd.DataFrame([json.loads(sys.argv[1])])))\n"
            ),
            "e_cold_onnx": (
                "import json, sys\n"
                "import pandas as pd\n"
                "import shipyard\n"
                f"model = shipyard.load_model('models:/{ONNX_MODEL}@{ALIAS}')\n"
                "print(model.predict_proba(pd.DataFrame([json.loads(sys.argv[1])])))\n"
                "print('sklearn imported:', 'sklearn' in sys.modules)\n"
            ),
            "e_floor": (
                "import json, pickle, sys\n"
                "import pandas as pd\n"
                f"model = pickle.loads(open({str(self.folder / 'champion.pkl')!r}, 'rb').read())\n"
                "print(model.predict_proba(pd.DataFrame([json.loads(sys.argv[1])])))\n"
            ),
        }

    def cold_load_env(self) -> dict[str, str]:
        return {"SHIPYARD_HOME": str(self.folder / "shipyard")}

    def loaded_callables(self) -> tuple[Callable[[Any], Any], Callable[[Any], Any], str]:
        loaded = self.client.load_model(f"models:/{MODEL}@{ALIAS}")
        return (
            loaded.predict_proba,
            loaded.raw.predict_proba,
            "LoadedModel.predict_proba - raw.predict_proba",
        )


class MlflowSide(Side):
    name = "mlflow"

    def __init__(self) -> None:
        os.environ.update(QUIET_MLFLOW_ENV)
        import mlflow
        import mlflow.pyfunc
        import mlflow.sklearn
        from mlflow.entities import Metric

        self._mlflow = mlflow
        self._metric = Metric
        self.client: Any = None
        self.folder = Path()
        self.uri = ""
        self.experiment_id = ""
        self.model_uri = ""

    def versions(self) -> dict[str, str]:
        return {"mlflow": self._mlflow.__version__, **_common_versions()}

    def _experiment(self, name: str) -> str:
        location = (self.folder / "mlartifacts" / name).as_uri()
        experiment_id = self._mlflow.create_experiment(name, artifact_location=location)
        self._mlflow.set_experiment(name)
        return str(experiment_id)

    def open(self, folder: Path) -> None:
        mlflow = self._mlflow
        self.folder = folder
        self.uri = f"sqlite:///{folder / 'mlflow.db'}"
        mlflow.set_tracking_uri(self.uri)
        mlflow.set_registry_uri(self.uri)
        self.client = mlflow.MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        for name in ("warmup", "points", "full"):
            self._experiment(name)
        self._mlflow.set_experiment("warmup")
        with mlflow.start_run():
            mlflow.log_param("p", 1)
            mlflow.log_metric("m", 1.0)
        self.experiment_id = self._experiment(EXPERIMENT)

    def close(self) -> None:
        if self._mlflow.active_run() is not None:
            self._mlflow.end_run()

    def log_run(self, params: dict[str, str], metrics: dict[str, float]) -> None:
        mlflow = self._mlflow
        with mlflow.start_run(experiment_id=self.experiment_id):
            for key, value in params.items():
                mlflow.log_param(key, value)
            for key, number in metrics.items():
                mlflow.log_metric(key, number)

    def _start_points_run(self) -> str:
        self._mlflow.set_experiment("points")
        return str(self._mlflow.start_run().info.run_id)

    def points_per_call(self, values: list[float], events: Events) -> tuple[float, str]:
        mlflow = self._mlflow
        run_id = self._start_points_run()
        chunk = max(1, len(values) // 10)
        start = time.perf_counter()
        for step, number in enumerate(values):
            mlflow.log_metric("loss", number, step=step)
            if step % chunk == chunk - 1:
                events.advance(chunk)
        mlflow.end_run()
        return time.perf_counter() - start, run_id

    def points_batch(self, values: list[float]) -> tuple[float, str]:
        run_id = self._start_points_run()
        now = int(time.time() * 1000)
        points = [self._metric("loss", number, now, step) for step, number in enumerate(values)]
        start = time.perf_counter()
        self.client.log_batch(run_id, metrics=points)
        elapsed = time.perf_counter() - start
        self._mlflow.end_run()
        return elapsed, run_id

    def history_length(self, run_id: str) -> int:
        return len(self.client.get_metric_history(run_id, "loss"))

    def search(self) -> int:
        runs = self.client.search_runs(
            [self.experiment_id], filter_string=SEARCH_FILTER, max_results=1000
        )
        return len(runs)

    def _log_model(self, model: Any, sample: Any) -> str:
        info = self._mlflow.sklearn.log_model(
            model, name="model", input_example=sample, pyfunc_predict_fn="predict_proba"
        )
        return str(info.model_uri)

    def prepare_registry(self, model: Any, sample: Any) -> None:
        self._mlflow.set_experiment("full")
        with self._mlflow.start_run():
            self.model_uri = self._log_model(model, sample)
        self._mlflow.register_model(self.model_uri, "warmup")

    def register(self, model: Any, sample: Any) -> int:
        # The model was logged once in prepare_registry: this only adds a registry row.
        return int(self._mlflow.register_model(self.model_uri, MODEL).version)

    def set_alias(self, version: int) -> None:
        self.client.set_registered_model_alias(MODEL, ALIAS, str(version))

    def register_full(self, model: Any, sample: Any) -> float:
        self._mlflow.set_experiment("full")
        with self._mlflow.start_run():
            start = time.perf_counter()
            uri = self._log_model(model, sample)
            self._mlflow.register_model(uri, "bench-full")
            return time.perf_counter() - start

    def cold_load_programs(self) -> dict[str, str]:
        head = "import json, sys\nimport pandas as pd\n"
        row = "pd.DataFrame([json.loads(sys.argv[1])])"
        return {
            # Logged with pyfunc_predict_fn="predict_proba": pyfunc predict returns probabilities.
            "e_cold": head + "import mlflow.pyfunc\n"
            f"model = mlflow.pyfunc.load_model('models:/{MODEL}@{ALIAS}')\n"
            f"print(model.predict({row}))\n",
            "e_cold_sklearn": head + "import mlflow.sklearn\n"
            f"model = mlflow.sklearn.load_model('models:/{MODEL}@{ALIAS}')\n"
            f"print(model.predict_proba({row}))\n",
        }

    def cold_load_env(self) -> dict[str, str]:
        return {"MLFLOW_TRACKING_URI": self.uri, **QUIET_MLFLOW_ENV}

    def loaded_callables(self) -> tuple[Callable[[Any], Any], Callable[[Any], Any], str]:
        loaded = self._mlflow.pyfunc.load_model(f"models:/{MODEL}@{ALIAS}")
        raw = loaded.get_raw_model()
        return (
            loaded.predict,
            raw.predict_proba,
            "pyfunc predict (predict_fn=predict_proba) - raw.predict_proba",
        )


def _common_versions() -> dict[str, str]:
    import pandas
    import sklearn

    return {
        "python": sys.version.split()[0],
        "scikit-learn": sklearn.__version__,
        "pandas": pandas.__version__,
    }


# -- the harness (identical for both sides) ---------------------------------------------------
@dataclass
class SideResult:
    side: str
    versions: dict[str, str] = field(default_factory=dict)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)
    load_average: list[float] = field(default_factory=list)  # 1-min, at start and end

    def record(self, key: str, samples: list[float], **extra: Any) -> None:
        self.results[key] = {"value": statistics.median(samples), "samples": samples, **extra}


def settle() -> None:
    """Collect garbage before a timed section, so a full collection triggered by earlier,
    untimed allocations does not land in it. The collector stays on while timing."""
    gc.collect()


@contextlib.contextmanager
def workspace(side: Side, name: str) -> Iterator[Path]:
    """A fresh temporary folder opened as the side's workspace, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=f"bench-{side.name}-{name}-"))
    try:
        side.open(folder)
        try:
            yield folder
        finally:
            side.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def stage(result: SideResult, *keys: str) -> Iterator[None]:
    """Record an exception against ``keys`` and carry on with the next measurement."""
    try:
        yield
    except Exception as exc:
        last = traceback.extract_tb(exc.__traceback__)[-1]
        message = f"{type(exc).__name__}: {exc} ({Path(last.filename).name}:{last.lineno})"
        for key in keys:
            result.errors.setdefault(key, message)
        traceback.print_exc(file=sys.stderr)


def measure_side(side: Side, plan: Plan, events: Events) -> SideResult:
    result = SideResult(side=side.name, versions=side.versions())
    result.load_average.append(os.getloadavg()[0])
    X, models = dataset_and_models(plan.versions)
    sample = X.iloc[:50]

    # (a) and (c): runs logged one call at a time, then searched in the last workspace.
    with stage(result, "a_run", "c_search"):
        samples = []
        for repeat in range(plan.repeats):
            with workspace(side, "runs"):
                events.start(f"{side.name}: (a) {plan.runs} runs, repeat {repeat + 1}", plan.runs)
                settle()
                start = time.perf_counter()
                for i in range(plan.runs):
                    side.log_run(*run_values(i, plan))
                    if i % 10 == 9:
                        events.advance(10)
                samples.append((time.perf_counter() - start) / plan.runs)
                if repeat == plan.repeats - 1:
                    with stage(result, "c_search"):
                        measure_search(side, plan, events, result)
        result.record("a_run", samples)

    # (b): one run of N points, per call and as one batch, until written.
    with stage(result, "b_call", "b_batch", "b_store"):
        per_call, batch, store = [], [], []
        for repeat in range(plan.repeats):
            with workspace(side, "points"):
                values = point_values(plan.points)
                events.start(f"{side.name}: (b) points, repeat {repeat + 1}", plan.points)
                settle()
                elapsed, run_id = side.points_per_call(values, events)
                per_call.append(elapsed / plan.points)
                result.checks["b_call_points_written"] = side.history_length(run_id)
                settle()
                elapsed, run_id = side.points_batch(values)
                batch.append(elapsed)
                result.checks["b_batch_points_written"] = side.history_length(run_id)
                settle()
                timed = side.points_store(values)
                if timed is not None:
                    store.append(timed[0])
                    result.checks["b_store_points_written"] = side.history_length(timed[1])
        result.record("b_call", per_call)
        result.record("b_batch", batch)
        if store:
            result.record("b_store", store)

    # (d), then (e) and (f) on the last registry workspace.
    with stage(
        result,
        "d_register",
        "d_full",
        "e_cold",
        "e_cold_onnx",
        "e_cold_sklearn",
        "e_floor",
        "f_1",
        "f_100",
    ):
        samples = []
        for repeat in range(plan.repeats):
            with workspace(side, "registry"):
                side.prepare_registry(models[-1], sample)
                events.start(f"{side.name}: (d) register, repeat {repeat + 1}", plan.versions)
                settle()
                start = time.perf_counter()
                for model in models:
                    version = side.register(model, sample)
                    events.advance()
                side.set_alias(version)
                samples.append((time.perf_counter() - start) / plan.versions)
                result.checks["d_last_version"] = version
                if repeat == plan.repeats - 1:
                    with stage(result, "e_cold", "e_cold_onnx", "e_cold_sklearn", "e_floor"):
                        measure_cold_load(side, plan, events, result, X.iloc[0])
                    with stage(result, "f_1", "f_100"):
                        measure_overhead(side, plan, events, result, X)
                    with stage(result, "d_full"):
                        events.start(f"{side.name}: (d) store + register", plan.info_versions)
                        full = []
                        for i in range(plan.info_versions):
                            settle()
                            full.append(side.register_full(models[i], sample))
                            events.advance()
                        result.record("d_full", full)
        result.record("d_register", samples)
    result.load_average.append(os.getloadavg()[0])
    return result


def measure_search(side: Side, plan: Plan, events: Events, result: SideResult) -> None:
    result.checks["c_runs_found"] = side.search()  # also the warm-up
    events.start(f"{side.name}: (c) search", plan.search_repeats)
    samples = []
    for _ in range(plan.search_repeats):
        settle()
        start = time.perf_counter()
        for _ in range(plan.searches):
            side.search()
        samples.append((time.perf_counter() - start) / plan.searches)
        events.advance()
    result.record("c_search", samples)


def measure_cold_load(side: Side, plan: Plan, events: Events, result: SideResult, row: Any) -> None:
    """Wall-clock of a whole new interpreter that loads @champion and predicts one row."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIPYARD_", "MLFLOW_"))}
    env.update(side.cold_load_env())
    argument = json.dumps({str(k): float(v) for k, v in row.items()})
    for key, program in side.cold_load_programs().items():
        with stage(result, key):
            events.start(f"{side.name}: {key} cold loads", plan.cold_loads + 1)
            samples = []
            for attempt in range(plan.cold_loads + 1):  # the first one warms the disk cache
                start = time.perf_counter()
                done = subprocess.run(
                    [sys.executable, "-c", program, argument],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=600,
                    check=False,
                )
                elapsed = time.perf_counter() - start
                if done.returncode != 0:
                    raise RuntimeError(f"cold load failed: {done.stderr.strip()[-800:]}")
                if attempt:
                    samples.append(elapsed)
                events.advance()
            result.record(key, samples, output=done.stdout.strip()[-200:])


def measure_overhead(side: Side, plan: Plan, events: Events, result: SideResult, X: Any) -> None:
    """Median time of loaded-model calls minus raw-estimator calls, on the same frame."""
    loaded, raw, what = side.loaded_callables()
    import numpy as np

    for key, frame in (("f_1", X.iloc[:1]), ("f_100", X.iloc[:100])):
        if not np.allclose(np.asarray(loaded(frame)), np.asarray(raw(frame))):
            raise RuntimeError("the loaded model and the raw estimator disagree")
        start = time.perf_counter()
        for _ in range(10):
            loaded(frame)
        per_call = (time.perf_counter() - start) / 10
        iterations = max(20, int(plan.call_sample_s / per_call))
        events.start(f"{side.name}: {key} per-call overhead", plan.call_repeats)
        loaded_samples, raw_samples = [], []
        for _ in range(plan.call_repeats):  # interleaved so drift hits both alike
            loaded_samples.append(_per_call(loaded, frame, iterations))
            raw_samples.append(_per_call(raw, frame, iterations))
            events.advance()
        loaded_s, raw_s = statistics.median(loaded_samples), statistics.median(raw_samples)
        result.results[key] = {
            "value": loaded_s - raw_s,
            "samples": [a - b for a, b in zip(loaded_samples, raw_samples, strict=True)],
            "loaded_s": loaded_s,
            "raw_s": raw_s,
            "iterations": iterations,
            "measured": what,
        }


def _per_call(call: Callable[[Any], Any], frame: Any, iterations: int) -> float:
    """Seconds per call, with the garbage collector off as timeit does."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(iterations):
            call(frame)
        return (time.perf_counter() - start) / iterations
    finally:
        if enabled:
            gc.enable()


def run_side_json(side_name: str, plan: Plan) -> None:
    """Child entry point: measure one side, print its result as one marked JSON line."""
    events = Events()
    try:
        side: Side = ShipyardSide() if side_name == "shipyard" else MlflowSide()
        result = measure_side(side, plan, events)
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        result = SideResult(side=side_name, errors={"*": f"{type(exc).__name__}: {exc}"})
    sys.stdout.write(RESULT_MARKER + json.dumps(asdict(result)) + "\n")
    sys.stdout.flush()


# -- the MLflow environment ------------------------------------------------------------------
def _imports_ok(python: Path) -> bool:
    probe = "import mlflow, mlflow.sklearn, sklearn, pandas"
    env = {**os.environ, **QUIET_MLFLOW_ENV}
    done = subprocess.run(
        [str(python), "-c", probe], capture_output=True, timeout=300, env=env, check=False
    )
    return done.returncode == 0


def ensure_mlflow_python(venv: Path, say: Callable[[str], None]) -> tuple[Path | None, str]:
    """The venv's interpreter, creating the venv and installing MLflow if needed.

    Returns (python, "") or (None, why not).
    """
    from importlib.metadata import PackageNotFoundError, version

    python = venv / "bin" / "python"
    if python.exists() and _imports_ok(python):
        return python, ""
    log = BENCH_DIR / "mlflow-pip.log"
    BENCH_DIR.mkdir(exist_ok=True)
    try:
        if not python.exists():
            say(f"creating {venv.relative_to(ROOT) if venv.is_relative_to(ROOT) else venv}")
            subprocess.run(
                [sys.executable, "-m", "venv", str(venv)],
                check=True,
                capture_output=True,
                timeout=300,
            )
        pins = []
        for package in ("scikit-learn", "pandas"):
            try:
                pins.append(f"{package}=={version(package)}")
            except PackageNotFoundError:
                pins.append(package)
        unpinned = [pin.split("==")[0] for pin in pins]
        for packages in ([MLFLOW_SPEC, *pins], [MLFLOW_SPEC, *unpinned]):
            say(f"pip install {' '.join(packages)} (log: {log})")
            with log.open("a") as handle:
                done = subprocess.run(
                    [str(python), "-m", "pip", "install", "--disable-pip-version-check", *packages],
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    timeout=1800,
                    check=False,
                )
            if done.returncode == 0 and _imports_ok(python):
                return python, ""
        return None, f"pip could not install {MLFLOW_SPEC} into {venv} (see {log})"
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"could not create the MLflow environment {venv}: {exc}"


# -- the parent: run both sides, show progress, print the table -------------------------------
def run_child(python: Path, side: str, plan: Plan, progress: Any) -> dict[str, Any]:
    """Run one side in a fresh process, turning its progress lines into bars."""
    command = [
        str(python),
        str(Path(__file__).resolve()),
        "--side",
        side,
        "--out",
        "json",
        "--plan",
        json.dumps(asdict(plan)),
    ]
    log_path = BENCH_DIR / f"{side}-side.log"
    BENCH_DIR.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIPYARD_", "MLFLOW_"))}
    env.update({"PYTHONUNBUFFERED": "1", **(QUIET_MLFLOW_ENV if side == "mlflow" else {})})
    task = None
    with tempfile.TemporaryFile("w+") as out, log_path.open("w") as log:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env
        )
        assert process.stderr is not None
        for line in process.stderr:
            if line.startswith(PROGRESS_MARKER):
                event = json.loads(line[len(PROGRESS_MARKER) :])
                if "start" in event:
                    if task is not None:
                        progress.update(task, completed=progress.tasks[task].total)
                    task = progress.add_task(event["start"], total=event["total"])
                elif task is not None:
                    progress.advance(task, event["advance"])
            else:
                log.write(line)
        process.wait()
        if task is not None:
            progress.update(task, completed=progress.tasks[task].total)
        out.seek(0)
        for line in out:
            if line.startswith(RESULT_MARKER):
                return dict(json.loads(line[len(RESULT_MARKER) :]))
    tail = log_path.read_text().strip().splitlines()[-15:]
    return {
        "side": side,
        "results": {},
        "checks": {},
        "versions": {},
        "errors": {"*": f"exit code {process.returncode}; " + " | ".join(tail)},
    }


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms" and abs(value) < 1:
        return f"{value * 1e3:,.1f} us"
    if abs(value) >= 100:
        return f"{value:,.0f} {unit}"
    if abs(value) >= 10:
        return f"{value:.1f} {unit}"
    return f"{value:.3g} {unit}"


def build_table(plan: Plan, sides: dict[str, dict[str, Any]]) -> tuple[list[list[str]], list[str]]:
    """Rows of strings for the table, and footnotes."""
    mlflow = sides.get("mlflow", {}).get("results", {})
    shipyard = sides.get("shipyard", {}).get("results", {})
    rows: list[list[str]] = []
    notes: list[str] = []
    full = Plan()
    # The reference numbers were measured at the full sizes only.
    references = (plan.runs, plan.points, plan.versions) == (full.runs, full.points, full.versions)
    for row in table_rows(plan):
        reference = row.reference if references else None
        theirs = mlflow.get(row.key, {}).get("value")
        ours = shipyard.get(row.key, {}).get("value")
        if row.key in ("d_full", "e_cold_sklearn") and ours is None:
            ours = shipyard.get(row.key.replace("_sklearn", ""), {}).get("value")
        if row.key == "e_cold_onnx" and theirs is None:  # against MLflow's pyfunc load
            theirs = mlflow.get("e_cold", {}).get("value")
        theirs_u = theirs * row.scale if theirs is not None else None
        ours_u = ours * row.scale if ours is not None else None
        baseline, from_reference = theirs_u, False
        if baseline is None and reference is not None:
            baseline, from_reference = reference, True
        ratio = baseline / ours_u if baseline is not None and ours_u else None
        ratio_text = (
            "-" if ratio is None else f"{ratio:,.1f}x" + (" (ref)" if from_reference else "")
        )
        if row.min_ratio is not None:
            target = f">= {row.min_ratio:g}x"
            met = None if ratio is None else ratio >= row.min_ratio
        elif row.max_value is not None:
            target = f"< {_fmt(row.max_value, row.unit)}"
            met = None if ours_u is None else ours_u < row.max_value
        else:
            target, met = "info", None
        met_text = "-" if met is None else ("yes" if met else "NO")
        rows.append(
            [
                row.label,
                _fmt(theirs_u, row.unit),
                _fmt(reference, row.unit),
                _fmt(ours_u, row.unit),
                ratio_text,
                target,
                met_text,
            ]
        )
    for side, data in sides.items():
        for key, message in data.get("errors", {}).items():
            notes.append(f"{side} {key} failed: {message}")
    return rows, notes


def print_report(console: Any, plan: Plan, sides: dict[str, dict[str, Any]]) -> None:
    from rich.table import Table

    rows, notes = build_table(plan, sides)
    table = Table(title="Shipyard vs MLflow (SQLite backend): medians", title_justify="left")
    for name, justify in (
        ("metric", "left"),
        ("MLflow", "right"),
        ("MLflow ref", "right"),
        ("Shipyard", "right"),
        ("ratio MLflow/Shipyard", "right"),
        ("target", "right"),
        ("met?", "center"),
    ):
        table.add_column(name, justify=justify, no_wrap=name != "metric")  # type: ignore[arg-type]
    for cells in rows:
        style = "dim" if cells[5] == "info" else None
        if cells[6] == "NO":
            cells[6] = "[bold red]NO[/]"
        elif cells[6] == "yes":
            cells[6] = "[green]yes[/]"
        table.add_row(*cells, style=style)
    console.print(table)
    for side, data in sides.items():
        versions = ", ".join(f"{k} {v}" for k, v in data.get("versions", {}).items())
        if versions:
            load = " -> ".join(f"{x:.2f}" for x in data.get("load_average", []))
            cpus = os.cpu_count()
            console.print(f"[bold]{side}[/]: {versions}; load average {load} ({cpus} cpus)")
        for key in ("f_1", "f_100"):
            detail = data.get("results", {}).get(key)
            if detail:
                console.print(
                    f"  {key}: {detail['measured']}: {detail['loaded_s'] * 1e6:,.1f} us - "
                    f"{detail['raw_s'] * 1e6:,.1f} us ({detail['iterations']} calls x "
                    f"{plan.call_repeats})"
                )
        if data.get("checks"):
            console.print(f"  checks: {data['checks']}")
    console.print(
        "MLflow ref = the CEO's earlier MLflow numbers on this machine; '(ref)' ratios use them "
        "when MLflow could not run. (b) batch: MLflow MlflowClient.log_batch vs Shipyard "
        "run.log_batch, each one call that returns once the points are written. (d): MLflow "
        "and Shipyard both register one already-logged model (mlflow.sklearn.log_model / "
        "run.log_model); the (info) row times saving and registering a model object. gc.collect() "
        "runs before each timed section; the collector stays on while timing, except in the "
        "(f) call loops (timeit-style)."
    )
    for note in notes:
        console.print(f"[red]{note}[/]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--side", choices=("both", "shipyard", "mlflow"), default="both")
    parser.add_argument("--out", choices=("table", "json"), default="table")
    parser.add_argument("--mlflow-python", type=Path, help="an interpreter that has mlflow")
    parser.add_argument("--mlflow-venv", type=Path, default=MLFLOW_VENV)
    parser.add_argument("--plan", help=argparse.SUPPRESS)  # JSON, from the parent
    args = parser.parse_args(argv)
    plan = Plan(**json.loads(args.plan)) if args.plan else Plan.quick() if args.quick else Plan()

    if args.out == "json" and args.side != "both":
        run_side_json(args.side, plan)
        return 0

    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    console = Console(stderr=args.out == "json")
    if not console.is_terminal:  # piped or redirected: do not squeeze the table into 80 columns
        console = Console(stderr=args.out == "json", width=150)
    sides: dict[str, dict[str, Any]] = {}
    python: Path | None = Path(sys.executable)
    wanted = ("shipyard", "mlflow") if args.side == "both" else (args.side,)
    mlflow_python: Path | None = args.mlflow_python
    if "mlflow" in wanted and mlflow_python is None:
        with console.status("preparing the MLflow environment") as status:
            mlflow_python, why = ensure_mlflow_python(
                args.mlflow_venv.resolve(), lambda text: status.update(text)
            )
        if mlflow_python is None:
            console.print(f"[yellow]MLflow side skipped: {why}[/]")
            sides["mlflow"] = {"side": "mlflow", "results": {}, "errors": {"*": why}}
    load = os.getloadavg()[0]
    if load > 0.7:
        console.print(
            f"[yellow]load average is {load:.2f} on {os.cpu_count()} cpus: other work is running, "
            "expect noisy numbers (both sides are measured under the same conditions)[/]"
        )
    started = time.perf_counter()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        for side in wanted:
            python = Path(sys.executable) if side == "shipyard" else mlflow_python
            if python is not None:
                sides[side] = run_child(python, side, plan, progress)
    console.print(f"measured in {time.perf_counter() - started:,.0f} s")
    BENCH_DIR.mkdir(exist_ok=True)
    saved = BENCH_DIR / "tracking-results.json"
    saved.write_text(json.dumps({"plan": asdict(plan), "sides": sides}, indent=2))
    if args.out == "json":
        print(json.dumps({"plan": asdict(plan), "sides": sides}))
    else:
        print_report(console, plan, sides)
        console.print(f"raw samples: {saved.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
