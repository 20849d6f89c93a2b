"""Batch scoring from a Parquet file: Shipyard's CLI (1 worker, 2 workers, a 2-worker
Dask cluster) against in-memory ``predict_proba`` and ``mlflow models predict``,
side by side in one run.

Data: ``--rows`` (default 1,000,000) rows x 20 float features from numpy (fixed
seed), one Parquet file with 100k-row row groups; the same rows as CSV for MLflow,
which does not read Parquet. Model: ``HistGradientBoostingClassifier(max_iter=50)``
trained on a 100k-row sample and registered in a temporary Shipyard store
(SQLite + folder, default settings).

(a) in-memory: ``model.predict_proba(df)`` on the rows already in a DataFrame, in a
    fresh process with default threads, as in a notebook (the read is not timed);
    (a1) the same held to one thread (threadpoolctl);
(b) ``shipyard batch predict models:/hgb/1 --input F --output D`` as users run it
    (no thread variables): wall time from process start to exit; the job's own
    rows/s (``shipyard batch jobs --json``: reading, model load, validation,
    scoring and writing, not the interpreter start-up) beside it; (b1) with
    ``--model-threads 1``. Targets: (b) >= 0.9x (a), (b1) >= 0.9x (a1);
(c) the same with ``--workers 2`` and (d) ``--scheduler`` of a
    ``distributed.LocalCluster(n_workers=2, threads_per_worker=1)`` started here
    (not timed): each >= 1.6x (b1), one worker on one core (a default worker
    already uses both cores of this machine);
(e) ``mlflow models predict -m DIR -i F.csv -o OUT -t csv --env-manager local`` on
    a ``mlflow.sklearn.save_model`` copy of the model (pyfunc = ``predict_proba``),
    from ``.bench/mlflow-serve-venv`` (made as benchmarks/serving does it).

Peak memory: /proc polled every 0.1 s over the command's process tree (Dask: plus
the worker processes), summed; RSS counts pages shared by forked workers once per
process, PSS splits them. Outputs are checked against (a) once. Medians over
``--repeats`` alternating runs.

    python benchmarks/batch.py [--rows 1000000] [--repeats 3] [--configs a,b,c,d,e]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent / "serving"))
from peers import ensure_mlflow_venv, user_env

SEED = 20240613
FEATURES = 20
ROW_GROUP = 100_000
TRAIN_ROWS = 100_000
MODEL = "hgb"
SHIPYARD = str(Path(sys.executable).parent / "shipyard")
LABELS = {
    "a": "(a) in-memory predict_proba",
    "a1": "(a1) in-memory predict_proba, 1 thread",
    "b": "(b) shipyard, 1 worker",
    "b1": "(b1) shipyard, 1 worker, --model-threads 1",
    "c": "(c) shipyard --workers 2",
    "d": "(d) shipyard --scheduler (Dask 2x1)",
    "e": "(e) mlflow models predict (CSV)",
}
DEFAULT_CONFIGS = ("a", "a1", "b", "b1", "c", "d", "e")
#: (config, baseline, target ratio) on the job's own rows/s (scoring, not the interpreter
#: start-up the wall column includes). One worker against in-memory predict_proba with
#: the same threads: (b) and (a) both use the cores, (b1) and (a1) one thread. Two
#: workers against one worker that holds one core: on 2 cores, a default worker already
#: runs the model on both, so "2 workers >= 1.6x one worker" only has room to mean that.
TARGETS = (("b", "a", 0.9), ("b1", "a1", 0.9), ("c", "b1", 1.6), ("d", "b1", 1.6))
#: Not targets, shown for the record.
DIAGNOSTICS = (("c", "b"), ("d", "b"), ("b1", "b"))


# -- data and model ----------------------------------------------------------------------
@dataclass(frozen=True)
class Inputs:
    parquet: Path
    csv: Path
    model: Path  # joblib of the fitted estimator
    home: Path  # Shipyard store


def _prepare(folder: Path, rows: int) -> Inputs:
    import joblib
    import pandas as pd
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq
    from sklearn.ensemble import HistGradientBoostingClassifier

    from shipyard import Client
    from shipyard.config import StoreSettings

    rng = np.random.default_rng(SEED)
    X = rng.standard_normal((rows, FEATURES))
    columns = [f"f{i}" for i in range(FEATURES)]
    table = pa.table({c: X[:, i] for i, c in enumerate(columns)})
    inputs = Inputs(folder / "rows.parquet", folder / "rows.csv", folder / "model.joblib", folder)
    pq.write_table(table, inputs.parquet, row_group_size=ROW_GROUP)
    pacsv.write_csv(table, inputs.csv)
    n = min(rows, TRAIN_ROWS)
    logits = X[:n, 0] + X[:n, 1] * X[:n, 2] - 0.5 * X[:n, 3] ** 2 + rng.normal(0, 0.5, n)
    frame = pd.DataFrame(X[:n], columns=columns)
    model = HistGradientBoostingClassifier(max_iter=50, random_state=0).fit(frame, logits > 0)
    joblib.dump(model, inputs.model)
    with Client(settings=StoreSettings(home=inputs.home / "shipyard")) as client:
        client.register_model(model, name=MODEL, sample_input=frame[:50])
    return inputs


# -- memory ------------------------------------------------------------------------------
def _memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) bytes of one process from smaps_rollup; zeros once it is gone."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return rss, pss


class PeakMemory:
    """Peak of the summed RSS and PSS over a process tree (and extra pids), polled."""

    def __init__(self, extra: list[int] | None = None, interval: float = 0.1) -> None:
        self.extra, self.interval = list(extra or []), interval
        self.root: int | None = None
        self.rss = self.pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _pids(self) -> list[int]:
        import psutil

        pids = list(self.extra)
        if self.root is not None:
            pids.append(self.root)
            with suppress(psutil.NoSuchProcess):
                pids += [p.pid for p in psutil.Process(self.root).children(recursive=True)]
        return pids

    def _poll(self) -> None:
        while not self._stop.is_set():
            sample = [_memory(pid) for pid in self._pids()]
            self.rss = max(self.rss, sum(s[0] for s in sample))
            self.pss = max(self.pss, sum(s[1] for s in sample))
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Measured:
    seconds: float  # wall time of the command (a: of predict_proba alone)
    rss: int
    pss: int
    job_rows_per_s: float | None = None
    worker_rss: int = 0  # Dask workers, apart from the command's own tree
    worker_pss: int = 0
    stdout: str = ""


def _timed(argv: list[str], env: dict[str, str], extra_pids: list[int] | None = None) -> Measured:
    """Run ``argv`` to its end; wall time from the spawn to the exit, peak memory."""
    with PeakMemory() as tree, PeakMemory(extra_pids) as workers:
        started = time.perf_counter()
        process = subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        tree.root = process.pid
        out, err = process.communicate()
        seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {process.returncode}:\n{err[-3000:]}")
    measured = Measured(seconds, tree.rss, tree.pss, stdout=out)
    if extra_pids:
        measured.worker_rss, measured.worker_pss = workers.rss, workers.pss
    return measured


# -- the configurations -------------------------------------------------------------------
IN_MEMORY = """
import contextlib, json, sys, time
import joblib, numpy as np, pandas as pd
from threadpoolctl import threadpool_limits
frame = pd.read_parquet(sys.argv[1])
model = joblib.load(sys.argv[2])
threads = int(sys.argv[3])
with threadpool_limits(threads) if threads else contextlib.nullcontext():
    started = time.perf_counter()
    probabilities = model.predict_proba(frame)
    seconds = time.perf_counter() - started
if len(sys.argv) > 4:
    np.save(sys.argv[4], probabilities)
print(json.dumps({"seconds": seconds}))
"""


def _in_memory(inputs: Inputs, reference: Path | None, threads: int = 0) -> Measured:
    argv = [sys.executable, "-c", IN_MEMORY, str(inputs.parquet), str(inputs.model), str(threads)]
    measured = _timed(argv + ([str(reference)] if reference else []), user_env())
    measured.seconds = json.loads(measured.stdout.splitlines()[-1])["seconds"]
    return measured


def _shipyard(
    inputs: Inputs, output: Path, options: list[str], extra_pids: list[int] | None = None
) -> Measured:
    home = ["--home", str(inputs.home / "shipyard")]
    job = f"bench-{uuid.uuid4().hex[:8]}"
    argv = [SHIPYARD, *home, "batch", "predict", f"models:/{MODEL}/1"]
    argv += ["--input", str(inputs.parquet), "--output", str(output), "--job", job, *options]
    measured = _timed(argv, user_env(), extra_pids)
    listed = subprocess.run(
        [SHIPYARD, *home, "batch", "jobs", "--json", "--limit", "5"],
        capture_output=True,
        text=True,
        check=True,
        env=user_env(),
    )
    [record] = [r for r in json.loads(listed.stdout) if r["name"] == job]
    if record["status"] != "succeeded":
        raise RuntimeError(f"job {job}: {record}")
    measured.job_rows_per_s = record["rows_per_s"]
    return measured


@contextmanager
def _dask_cluster() -> Iterator[tuple[str, list[int]]]:
    """A fresh 2-worker LocalCluster in this process: (scheduler address, worker pids)."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster,
        Client(cluster) as client,
    ):
        pids = list(client.run(os.getpid).values())
        yield cluster.scheduler_address, pids


MLFLOW_SAVE = """
import sys
import joblib, mlflow.sklearn, pandas as pd
from mlflow.models import infer_signature
model = joblib.load(sys.argv[1])
sample = pd.read_csv(sys.argv[3], nrows=50)
mlflow.sklearn.save_model(
    model, sys.argv[2], pyfunc_predict_fn="predict_proba",
    signature=infer_signature(sample, model.predict_proba(sample)),
    serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
)
"""


def _mlflow_env(venv: Path) -> dict[str, str]:
    env = user_env({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"})
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    return env


def _mlflow_model(venv: Path, inputs: Inputs) -> Path:
    target = inputs.home / "mlflow-model"
    argv = [str(venv / "bin" / "python"), "-c", MLFLOW_SAVE]
    subprocess.run(
        [*argv, str(inputs.model), str(target), str(inputs.csv)],
        check=True,
        capture_output=True,
        env=_mlflow_env(venv),
    )
    return target


def _mlflow(venv: Path, model: Path, inputs: Inputs, output: Path) -> Measured:
    argv = [str(venv / "bin" / "mlflow"), "models", "predict", "-m", str(model)]
    argv += ["-i", str(inputs.csv), "-o", str(output), "-t", "csv", "--env-manager", "local"]
    return _timed(argv, _mlflow_env(venv))


# -- checks ------------------------------------------------------------------------------
def _check_shipyard(output: Path, reference: np.ndarray, label: str) -> None:
    import pyarrow.parquet as pq

    table = pq.read_table(sorted(output.glob("part-*.parquet")))
    rows = table.column("row").to_numpy()
    probabilities = np.column_stack(
        [table.column(n).to_numpy() for n in table.column_names if n.startswith("proba_")]
    )
    if not (np.array_equal(rows, np.arange(len(reference))) and len(rows) == len(reference)):
        raise RuntimeError(f"{label}: output rows are not 0..{len(reference) - 1} in order")
    if not np.allclose(probabilities, reference, rtol=0, atol=1e-12):
        raise RuntimeError(f"{label}: probabilities differ from in-memory predict_proba")


def _check_mlflow(output: Path, reference: np.ndarray) -> None:
    predictions = np.asarray(json.loads(output.read_text())["predictions"], dtype=np.float64)
    if not np.allclose(predictions, reference, rtol=0, atol=1e-12):
        raise RuntimeError("mlflow: predictions differ from in-memory predict_proba")


# -- the run -----------------------------------------------------------------------------
def _run_once(
    key: str,
    inputs: Inputs,
    scratch: Path,
    reference: np.ndarray | None,
    mlflow: tuple[Path, Path] | None,
) -> Measured:
    output = scratch / f"out-{key}"
    shutil.rmtree(output, ignore_errors=True)
    if key in ("a", "a1"):
        return _in_memory(inputs, None, threads=1 if key == "a1" else 0)
    if key in ("b", "b1", "c"):
        options = {"b": [], "b1": ["--model-threads", "1"], "c": ["--workers", "2"]}[key]
        measured = _shipyard(inputs, output, options)
    elif key == "d":
        with _dask_cluster() as (address, pids):
            measured = _shipyard(inputs, output, ["--scheduler", address], pids)
    else:
        assert mlflow is not None
        output = scratch / "mlflow-predictions.json"
        measured = _mlflow(*mlflow, inputs, output)
    if reference is not None and key == "e":
        _check_mlflow(output, reference)
    elif reference is not None:
        _check_shipyard(output, reference, LABELS[key])
    if output.is_dir():
        shutil.rmtree(output)
    else:
        output.unlink(missing_ok=True)
    return measured


def _mb(value: float) -> str:
    return f"{value / 2**20:,.0f}"


def _report(results: dict[str, list[Measured]], rows: int, repeats: int, has_mlflow: bool) -> None:
    rate = {k: rows / statistics.median(m.seconds for m in v) for k, v in results.items()}
    print(f"\nbatch scoring, {rows:,} rows x {FEATURES} features, median of {repeats} runs")
    print(f"load average at the end (1/5/15 min): {os.getloadavg()} on {os.cpu_count()} cores")
    print("(a) times predict_proba only; (b)-(e) time the command from spawn to exit")
    header = f"{'configuration':44} {'rows/s':>11} {'job rows/s':>11} {'s':>7}"
    print(header + f" {'peak RSS MB':>12} {'peak PSS MB':>12}  ratios")
    for key, measured in results.items():
        job = [m.job_rows_per_s for m in measured if m.job_rows_per_s]
        rss = statistics.median(m.rss for m in measured)
        pss = statistics.median(m.pss for m in measured)
        memory = f"{_mb(rss):>12} {_mb(pss):>12}"
        if any(m.worker_rss for m in measured):
            w_rss = statistics.median(m.worker_rss for m in measured)
            w_pss = statistics.median(m.worker_pss for m in measured)
            memory += f"  (+ Dask workers RSS {_mb(w_rss)} / PSS {_mb(w_pss)} MB)"
        ratios = [f"{rate[key] / rate[o]:.2f}x {o}" for o in ("a", "b") if o in rate and o != key]
        print(
            f"{LABELS[key]:44} {rate[key]:>11,.0f} "
            f"{(statistics.median(job) if job else float('nan')):>11,.0f} "
            f"{statistics.median(m.seconds for m in measured):>7.2f} {memory}  " + ", ".join(ratios)
        )
    print()
    job = {
        k: statistics.median(m.job_rows_per_s for m in v if m.job_rows_per_s)
        for k, v in results.items()
        if any(m.job_rows_per_s for m in v)
    }
    scoring = {**rate, **job}  # in-memory: its own rate; Shipyard: the job's rows/s
    print("targets on scoring rows/s (Shipyard: the job's own; wall ratios in the table)")
    for key, base, target in TARGETS:
        if key in scoring and base in scoring:
            ratio = scoring[key] / scoring[base]
            verdict = "PASS" if ratio >= target else "FAIL"
            print(f"{verdict}  {LABELS[key]} / {LABELS[base]} = {ratio:.2f} (target >= {target})")
    for key, base in DIAGNOSTICS:
        if key in scoring and base in scoring:
            print(f"      {LABELS[key]} / {LABELS[base]} = {scoring[key] / scoring[base]:.2f}")
    if "e" in rate and "b" in rate:
        print(
            f"      Shipyard 1 worker (Parquet) / mlflow models predict (CSV, JSON out) = "
            f"{rate['b'] / rate['e']:.2f}"
        )
    elif not has_mlflow:
        print("(e) skipped: no usable MLflow venv")
    print("\nraw seconds:")
    for key, measured in results.items():
        print(f"    {key}: {[round(m.seconds, 2) for m in measured]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--configs",
        default=",".join(DEFAULT_CONFIGS),
        help=f"comma-separated, of {','.join(LABELS)} (b1: one worker, --model-threads 1)",
    )
    args = parser.parse_args()
    configs = [c for c in args.configs.split(",") if c]
    unknown = set(configs) - set(LABELS)
    if unknown:
        parser.error(f"unknown configurations {sorted(unknown)}")
    mlflow_venv = None
    if "e" in configs:
        try:
            mlflow_venv, versions = ensure_mlflow_venv(lambda m: print(m, flush=True))
            print(f"MLflow venv {mlflow_venv}: {versions}", flush=True)
        except (RuntimeError, subprocess.SubprocessError) as exc:
            print(f"(e) skipped: {exc}", flush=True)
            configs.remove("e")
    results: dict[str, list[Measured]] = {k: [] for k in configs}
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-batch-") as folder:
        scratch = Path(folder)
        started = time.perf_counter()
        inputs = _prepare(scratch, args.rows)
        sizes = f"{inputs.parquet.stat().st_size / 2**20:,.0f} MB Parquet"
        sizes += f", {inputs.csv.stat().st_size / 2**20:,.0f} MB CSV"
        print(f"prepared {args.rows:,} rows ({sizes}) in {time.perf_counter() - started:.1f} s")
        print(f"load average before the runs: {os.getloadavg()}", flush=True)
        reference_file = scratch / "reference.npy"
        _in_memory(inputs, reference_file)
        reference = np.load(reference_file)
        mlflow = (mlflow_venv, _mlflow_model(mlflow_venv, inputs)) if mlflow_venv else None
        for repeat in range(args.repeats):
            for key in configs:
                measured = _run_once(
                    key, inputs, scratch, reference if repeat == 0 else None, mlflow
                )
                results[key].append(measured)
                print(
                    f"  run {repeat + 1} {LABELS[key]}: {measured.seconds:.2f} s, "
                    f"{args.rows / measured.seconds:,.0f} rows/s"
                    + (f" (job {measured.job_rows_per_s:,.0f})" if measured.job_rows_per_s else ""),
                    flush=True,
                )
    print("outputs of (b)-(e) matched in-memory predict_proba (checked on the first run)")
    _report(results, args.rows, args.repeats, mlflow_venv is not None)


if __name__ == "__main__":
    main()
