"""Shipyard's model server side by side with MLflow, MLServer and a bare FastAPI app.

One command trains two scikit-learn models on the breast-cancer data, serves
them from every server, checks that all servers return the same
probabilities, then drives each with wrk (single-row requests, closed loop)
and prints req/s, p50/p99 latency and server CPU per request::

    .venv/bin/python benchmarks/serving/run.py            # full run, ~12 minutes
    .venv/bin/python benchmarks/serving/run.py --quick    # smoke run, ~3 minutes
    .venv/bin/python benchmarks/serving/run.py --servers shipyard,bare --concurrency 1

MLflow and MLServer run from their own venvs under ``.bench/`` (made on first
use with this interpreter's scikit-learn/numpy/pandas versions, so every server
unpickles the same fitted objects). Results go to ``.bench/serving-results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen
import models as bench_models
import peers

RESULTS = peers.BENCH_DIR / "serving-results.json"
QUICK_RESULTS = peers.BENCH_DIR / "serving-results-quick.json"
QUICK_SERVERS = ("shipyard", "shipyard-onnx", "mlflow", "mlserver-batch", "bare")
PEERS = ("mlflow", "mlserver", "mlserver-batch", "bare")
#: req/s at concurrency 64, one worker, measured on this machine before this benchmark existed.
REFERENCE_RPS = {
    "mlflow": {"lr": 710, "hgb": 150},
    "mlserver": {"lr": 1045, "hgb": 377},
    "mlserver-batch": {"lr": 1575, "hgb": 1461},
    "bare": {"lr": 2000, "hgb": 530},
}
CAVEAT = (
    "wrk is closed-loop: each connection waits for its answer before sending again, so "
    "percentiles understate what an open-loop client would see when a server stalls "
    "(coordinated omission); wrk2 is not packaged by Debian, so none was used. wrk runs "
    "on the same 2 cores as the server (one wrk thread)."
)
RTOL = 1e-6
#: The optimized versions passed ``shipyard optimize``'s parity gate at this max |Δp|.
ONNX_GATE = 1e-5


@dataclass
class Measurement:
    """One measured wrk run against one server and model."""

    server: str
    label: str
    model: str
    concurrency: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    errors: int
    duration_s: float
    cpu_s: float
    cpu_us_per_req: float
    retries: int


class Aborted(Exception):
    """A check failed; the run stops with this message."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run, fewer configs")
    parser.add_argument(
        "--servers",
        help=f"comma-separated subset of {','.join(peers.ALL_SERVERS)} (default: all but "
        f"{','.join(peers.EXTRA_SERVERS)}; --quick: {','.join(QUICK_SERVERS)})",
    )
    parser.add_argument("--models", default="lr,hgb", help="comma-separated: lr,hgb")
    parser.add_argument("--concurrency", help="comma-separated wrk connections (default 1,8,64)")
    parser.add_argument("--duration", type=float, help="seconds per measured run (default 10)")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up per run (default 2)")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--out", type=Path, help=f"results JSON (default {RESULTS})")
    parser.add_argument(
        "--wait-for",
        default="benchmarks/tracking.py",
        help="never measure while a process matching this (pgrep -f) runs; '' to not wait",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    args = parser.parse_args(argv)
    args.servers = _split(args.servers) or list(
        QUICK_SERVERS if args.quick else peers.DEFAULT_SERVERS
    )
    unknown = [s for s in args.servers if s not in peers.ALL_SERVERS]
    if unknown:
        parser.error(f"unknown server(s) {unknown}; use {','.join(peers.ALL_SERVERS)}")
    args.servers = [s for s in peers.ALL_SERVERS if s in args.servers]  # table order
    args.models = _split(args.models)
    bad = [m for m in args.models if m not in bench_models.MODEL_NAMES]
    if bad or not args.models:
        parser.error(f"unknown model(s) {bad}; use {','.join(bench_models.MODEL_NAMES)}")
    default_conc = "1,64" if args.quick else "1,8,64"
    args.concurrency = [int(c) for c in _split(args.concurrency or default_conc)]
    args.duration = args.duration or (3.0 if args.quick else 10.0)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 2.0)
    args.out = args.out or (QUICK_RESULTS if args.quick else RESULTS)
    return args


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


# -- running -----------------------------------------------------------------------------
class Bench:
    """Holds the run's state: models, environments, specs and measurements."""

    def __init__(self, args: argparse.Namespace, console: Console) -> None:
        self.args = args
        self.console = console
        self.work = Path(tempfile.mkdtemp(prefix="shipyard-serving-bench-"))
        self.logs = peers.BENCH_DIR / "serving-logs"
        self.envs = peers.Environments()
        self.results: list[Measurement] = []
        self.servers: dict[str, dict[str, Any]] = {}
        self.skipped: dict[str, str] = {}
        self.models: bench_models.Models | None = None
        self.shipyard_digest = ""
        self.optimized: dict[str, Any] = {}
        self.git_at_snapshot: dict[str, Any] = {}

    def log(self, message: str) -> None:
        self.console.log(message, highlight=False)

    # -- setup ------------------------------------------------------------------------------
    def setup(self) -> None:
        loadgen.wrk_path()
        loadgen.wait_until_quiet(self.args.wait_for, self.log)  # training loads both cores
        if self.logs.exists():
            shutil.rmtree(self.logs)
        self.logs.mkdir(parents=True)
        self.log(f"training the models in {self.work}")
        self.models = bench_models.train(self.work / "models")
        families = {peers.FAMILY[s] for s in self.args.servers}
        if "mlflow" in families:
            self._environment("mlflow", peers.ensure_mlflow_venv)
        if "mlserver" in families:
            self._environment("mlserver", peers.ensure_mlserver_venv)
        if "shipyard" in families:
            snapshot = self.work / "shipyard-src"
            self.git_at_snapshot = git_state()
            self.shipyard_digest = peers.snapshot_shipyard(snapshot, self.log)
            sys.path.insert(0, str(snapshot))
            kept = peers.BENCH_DIR / "serving-shipyard-src"
            shutil.rmtree(kept, ignore_errors=True)
            shutil.copytree(snapshot, kept)
            self.log(
                f"Shipyard source snapshot {self.shipyard_digest} (src/ as of now; "
                f"a copy is kept in {kept.relative_to(peers.ROOT)})"
            )
            self.log("registering the models and creating deployments in a fresh Shipyard home")
            peers.prepare_shipyard(self.models, self.work / "shipyard-home")
            if "shipyard-onnx" in self.args.servers:
                self.log("optimizing both models to ONNX in a second Shipyard home")
                self.optimized = peers.prepare_shipyard_onnx(
                    self.models, self.work / peers.ONNX_HOME
                )
                for name, report in self.optimized.items():
                    self.log(
                        f"{name}: {report['input_dtype']} inputs, max |Δp| "
                        f"{report['parity']['max_diff']:.2g} on {report['parity']['rows']} rows; "
                        f"1 row {report['latency']['source_1_row_ms']:.3f} -> "
                        f"{report['latency']['onnx_1_row_ms']:.3f} ms in-process"
                    )
        self.args.servers = [s for s in self.args.servers if s not in self.skipped]

    def _environment(self, family: str, ensure: Any) -> None:
        try:
            venv, versions = ensure(self.log)
        except Exception as exc:  # a peer that cannot be installed is reported, not fatal
            for key, fam in peers.FAMILY.items():
                if fam == family:
                    self.skipped[key] = f"no environment: {exc}"
            self.envs.problems[family] = str(exc)
            self.log(f"[yellow]skipping {family}: {exc}")
            return
        setattr(self.envs, family, venv)
        self.envs.versions[family] = versions
        self.log(f"{family}: {venv.relative_to(peers.ROOT)} {versions}")

    def specs(self, key: str) -> list[peers.ServerSpec]:
        assert self.models is not None
        return peers.specs_for(key, self.models, self.args.models, self.work, self.envs, self.logs)

    # -- checking -----------------------------------------------------------------------------
    def verify_all(self) -> None:
        """Start each server once and compare its probabilities with the estimator's."""
        assert self.models is not None
        rows = self.models.pool[: bench_models.CHECK_ROWS]
        for key in self.args.servers:
            for spec in self.specs(key):
                loadgen.wait_until_quiet(self.args.wait_for, self.log)
                try:
                    spec.start()
                    ready_s = spec.wait_ready()
                    self._check(spec, rows)
                    info = self.servers.setdefault(key, {"label": spec.label})
                    info.setdefault("ready_s", {}).update(
                        {m: round(ready_s, 2) for m in spec.models}
                    )
                    self.log(f"{spec.label}: ready in {ready_s:.1f}s, probabilities match")
                finally:
                    spec.stop()

    def _check(self, spec: peers.ServerSpec, rows: list[list[float]]) -> None:
        assert self.models is not None
        for model in spec.models:
            expected = self.models.expected(model, rows)
            got = spec.predict(model, rows, self.models.columns)
            if spec.key == "shipyard-onnx":  # the version was registered on this gate
                close = got.shape == expected.shape and np.abs(got - expected).max() <= ONNX_GATE
            else:
                close = got.shape == expected.shape and np.allclose(got, expected, rtol=RTOL)
            if not close:
                raise Aborted(
                    f"{spec.label} returns different probabilities for {model} than the "
                    f"estimator (rtol {RTOL}):\nexpected {expected.tolist()}\n"
                    f"got      {got.tolist()}"
                )

    # -- measuring ---------------------------------------------------------------------------
    def measure_all(self) -> None:
        runs = sum(len(self.args.concurrency) for _ in self.args.servers for _ in self.args.models)
        per_run = self.args.duration + self.args.warmup
        self.log(
            f"{runs} measured runs of {self.args.duration:g}s after {self.args.warmup:g}s "
            f"warm-up each: about {runs * per_run / 60 + len(self.args.servers) * 0.2:.0f} min"
        )
        progress = Progress(
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
        )
        with progress:
            task = progress.add_task("measuring", total=runs)
            for key in self.args.servers:
                for spec in self.specs(key):
                    loadgen.wait_until_quiet(self.args.wait_for, self.log)
                    try:
                        spec.start()
                        spec.wait_ready()
                        self._check(spec, self.models.pool[:2] if self.models else [])
                        self._idle(spec)
                        for model in spec.models:
                            for connections in self.args.concurrency:
                                progress.update(
                                    task, description=f"{spec.label} {model} c={connections}"
                                )
                                self.results.append(self._measure(spec, model, connections))
                                self._report(self.results[-1])
                                progress.advance(task)
                    finally:
                        spec.stop()

    def _idle(self, spec: peers.ServerSpec, seconds: float = 2.0) -> None:
        """Server CPU while nobody sends anything (pollers, timers)."""
        before = loadgen.tree_cpu_seconds(spec.pid)
        time.sleep(seconds)
        used = loadgen.tree_cpu_seconds(spec.pid) - before
        info = self.servers.setdefault(spec.key, {"label": spec.label})
        info.setdefault("idle_cpu_ms_per_s", {}).update(
            {m: round(used * 1000 / seconds, 1) for m in spec.models}
        )

    def _measure(self, spec: peers.ServerSpec, model: str, connections: int) -> Measurement:
        assert self.models is not None
        protocol = spec.protocol
        bodies = [protocol.body(model, row, self.models.columns) for row in self.models.pool]
        script = loadgen.write_script(
            self.work / f"{spec.key}-{model}.lua", protocol.path(model), bodies, protocol.headers
        )
        url = spec.base_url + protocol.path(model)
        wrk_log = self.logs / "wrk.log"
        retries = 0
        while True:
            loadgen.wait_until_quiet(self.args.wait_for, self.log)
            if self.args.warmup > 0:
                loadgen.run_wrk(
                    url,
                    script,
                    connections=connections,
                    duration_s=self.args.warmup,
                    threads=self.args.wrk_threads,
                )
            cpu_before = loadgen.tree_cpu_seconds(spec.pid)
            result = loadgen.run_wrk(
                url,
                script,
                connections=connections,
                duration_s=self.args.duration,
                threads=self.args.wrk_threads,
                log=wrk_log,
            )
            cpu = loadgen.tree_cpu_seconds(spec.pid) - cpu_before
            if not (self.args.wait_for and loadgen.others_running(self.args.wait_for)):
                break
            retries += 1
            self.log("[yellow]another benchmark started during the run; measuring again")
        ok = max(1, result.requests - result.status_errors)
        return Measurement(
            server=spec.key,
            label=spec.label,
            model=model,
            concurrency=connections,
            rps=round(result.rps, 1),
            p50_ms=result.p50_us / 1000,
            p90_ms=result.p90_us / 1000,
            p99_ms=result.p99_us / 1000,
            max_ms=result.max_us / 1000,
            requests=result.requests,
            errors=result.errors,
            duration_s=round(result.duration_s, 3),
            cpu_s=round(cpu, 3),
            cpu_us_per_req=round(cpu * 1e6 / ok, 1),
            retries=retries,
        )

    def _report(self, m: Measurement) -> None:
        errors = f", [red]{m.errors} errors" if m.errors else ""
        self.log(
            f"{m.label:<30} {m.model:<3} c={m.concurrency:<3} {m.rps:>8,.0f} req/s  "
            f"p50 {m.p50_ms:6.2f} ms  p99 {m.p99_ms:7.2f} ms  {m.cpu_us_per_req:7.0f} µs CPU/req"
            f"{errors}"
        )


# -- reporting ----------------------------------------------------------------------------
def find(results: list[Measurement], server: str, model: str, conc: int) -> Measurement | None:
    return next(
        (r for r in results if r.server == server and r.model == model and r.concurrency == conc),
        None,
    )


def tables(results: list[Measurement], models: list[str]) -> list[Table]:
    """One table per model; the last column is Shipyard (1 worker) req/s ÷ the row's req/s."""
    out = []
    for model in models:
        table = Table(
            title=f"{model}: {bench_models.MODEL_TITLES[model]}",
            title_justify="left",
            caption="Shipyard÷row = Shipyard (1 worker) req/s ÷ this row's req/s, same concurrency "
            "(>1: Shipyard is faster)",
            caption_justify="left",
        )
        for name, justify in (
            ("server / config", "left"),
            ("conc", "right"),
            ("req/s", "right"),
            ("p50 ms", "right"),
            ("p99 ms", "right"),
            ("CPU µs/req", "right"),
            ("Shipyard÷row", "right"),
            ("errors", "right"),
        ):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        rows = [r for r in results if r.model == model]
        for r in rows:
            ship = find(results, "shipyard", model, r.concurrency)
            ratio = f"{ship.rps / r.rps:.2f}" if ship and r.rps else "—"
            table.add_row(
                r.label,
                str(r.concurrency),
                f"{r.rps:,.0f}",
                f"{r.p50_ms:.2f}",
                f"{r.p99_ms:.2f}",
                f"{r.cpu_us_per_req:,.0f}",
                ratio,
                str(r.errors) if r.errors else "",
            )
        out.append(table)
    return out


def verdicts(results: list[Measurement], models: list[str]) -> list[dict[str, Any]]:
    """The issue's three targets, per model: met, missed or not measured."""
    out: list[dict[str, Any]] = []
    for model in models:
        ship = find(results, "shipyard", model, 64)
        measured = [p for p in PEERS if find(results, p, model, 64)]
        line: dict[str, Any] = {"target": "throughput", "model": model}
        if ship is None or not measured:
            line.update(met=None, text="not measured (needs shipyard and a peer at c=64)")
        else:
            best = max(measured, key=lambda p: find(results, p, model, 64).rps)  # type: ignore[union-attr]
            best_rps = find(results, best, model, 64).rps  # type: ignore[union-attr]
            ratio = ship.rps / best_rps
            missing = [p for p in PEERS if p not in measured]
            ref = max(REFERENCE_RPS[p][model] for p in PEERS)
            line.update(
                met=ratio >= 2.0,
                ratio=round(ratio, 2),
                best_peer=best,
                text=f"c=64, 1 worker: Shipyard {ship.rps:,.0f} req/s vs best peer "
                f"{peers.LABELS[best]} {best_rps:,.0f} req/s = {ratio:.2f}x (target >= 2x; "
                f"best reference peer {ref:,} req/s)"
                + (f"; not measured: {', '.join(missing)}" if missing else ""),
            )
        out.append(line)

        ship1 = find(results, "shipyard", model, 1)
        bare1 = find(results, "bare", model, 1)
        line = {"target": "latency-vs-bare", "model": model}
        if ship1 is None or bare1 is None:
            line.update(met=None, text="not measured (needs shipyard and bare at c=1)")
        else:
            excess = ship1.p50_ms / bare1.p50_ms - 1
            line.update(
                met=excess <= 0.10,
                excess=round(excess, 3),
                text=f"c=1: Shipyard p50 {ship1.p50_ms:.3f} ms vs bare FastAPI "
                f"{bare1.p50_ms:.3f} ms = {excess:+.1%} (target ≤ +10%)",
            )
        out.append(line)

        out += onnx_verdicts(results, model)

        w2 = find(results, "shipyard-w2", model, 1)
        line = {"target": "latency-2-workers", "model": model}
        if w2 is None:
            line.update(met=None, text="not measured (needs shipyard-w2 at c=1)")
        else:
            line.update(
                met=w2.p50_ms < 2.0,
                text=f"--workers 2, c=1: Shipyard p50 {w2.p50_ms:.3f} ms (target < 2 ms)",
            )
        out.append(line)
    return out


def onnx_verdicts(results: list[Measurement], model: str) -> list[dict[str, Any]]:
    """The optimization issue's targets, judged for gradient boosting only (info for lr)."""
    keys = ("shipyard-onnx", "shipyard", "bare")
    onnx1, ship1, bare1 = (find(results, k, model, 1) for k in keys)
    onnx64, ship64 = (find(results, k, model, 64) for k in ("shipyard-onnx", "shipyard"))
    judged = model == "hgb"
    out: list[dict[str, Any]] = []
    line: dict[str, Any] = {"target": "onnx-latency", "model": model}
    if onnx1 is None or ship1 is None or bare1 is None:
        line.update(met=None, text="not measured (needs shipyard-onnx, shipyard, bare at c=1)")
    else:
        vs_ship, vs_bare = onnx1.p50_ms / ship1.p50_ms, onnx1.p50_ms / bare1.p50_ms
        line.update(
            met=(vs_ship <= 1 / 3 and vs_bare <= 1 / 3) if judged else None,
            text=f"c=1: ONNX p50 {onnx1.p50_ms:.3f} ms = {vs_ship:.2f}x Shipyard scikit-learn "
            f"({ship1.p50_ms:.3f} ms), {vs_bare:.2f}x bare FastAPI ({bare1.p50_ms:.3f} ms)"
            + (" (target <= 0.33x both)" if judged else " (info)"),
        )
    out.append(line)
    line = {"target": "onnx-throughput", "model": model}
    if onnx64 is None or ship64 is None:
        line.update(met=None, text="not measured (needs shipyard-onnx and shipyard at c=64)")
    else:
        ratio = onnx64.rps / ship64.rps
        line.update(
            met=ratio >= 1.5 if judged else None,
            text=f"c=64: ONNX {onnx64.rps:,.0f} req/s = {ratio:.2f}x Shipyard scikit-learn "
            f"({ship64.rps:,.0f} req/s)" + (" (target >= 1.5x)" if judged else " (info)"),
        )
    out.append(line)
    return out


def print_report(bench: Bench, checks: list[dict[str, Any]]) -> None:
    console = bench.console
    console.print()
    for table in tables(bench.results, bench.args.models):
        console.print(table)
        console.print()
    if bench.servers:
        idle = ", ".join(
            f"{info['label']} {max(info['idle_cpu_ms_per_s'].values()):g}"
            for info in bench.servers.values()
            if "idle_cpu_ms_per_s" in info
        )
        console.print(f"idle server CPU (ms per s, no traffic): {idle}", highlight=False)
    console.print(f"[dim]{CAVEAT}", highlight=False)
    for key, why in bench.skipped.items():
        console.print(f"[yellow]not run: {peers.LABELS[key]}: {why}", highlight=False)
    console.print()
    console.print("[bold]Targets[/] (one worker unless said otherwise):")
    marks = {True: "[green]MET[/]", False: "[red]MISSED[/]", None: "[yellow]N/A[/]"}
    for check in checks:
        console.print(
            f"  {marks[check['met']]}  {check['model']}: {check['text']}", highlight=False
        )


def git_state() -> dict[str, Any]:
    """HEAD and whether src/ has uncommitted changes, now."""

    def git(*argv: str) -> str:
        done = subprocess.run(
            ["git", *argv], cwd=peers.ROOT, capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "dirty_src": bool(git("status", "-s", "src"))}


def metadata(bench: Bench) -> dict[str, Any]:
    import sklearn

    try:
        import shipyard

        shipyard_version = shipyard.__version__
    except Exception as exc:  # src/ may be mid-edit when no Shipyard server ran
        shipyard_version = f"unimportable: {exc}"

    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "git": {
            **(bench.git_at_snapshot or git_state()),
            "shipyard_snapshot_sha256_16": bench.shipyard_digest,
        },
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(bench.args).items()},
        "versions": {
            "shipyard": shipyard_version,
            "python": platform.python_version(),
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "wrk": (wrk.stdout or wrk.stderr).splitlines()[0] if (wrk.stdout or wrk.stderr) else "",
            **{f"{family} venv": v for family, v in bench.envs.versions.items()},
        },
        "config": {
            "mlserver": {
                "parallel_workers": 0,
                "debug": False,
                "batching": peers.MLSERVER_BATCH,
            },
            "threads": peers.THREAD_ENV,
            "wrk_threads": bench.args.wrk_threads,
            "pool_rows": bench_models.POOL_SIZE,
        },
        "reference_rps_c64": REFERENCE_RPS,
        "caveat": CAVEAT,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 150, log_path=False)
    bench = Bench(args, console)
    status = 0
    error: str | None = None
    try:
        bench.setup()
        if not args.servers:
            raise Aborted("no server left to run")
        bench.log(f"servers: {', '.join(args.servers)}; models: {', '.join(args.models)}")
        bench.verify_all()
        bench.measure_all()
    except Aborted as exc:
        error, status = str(exc), 2
    except KeyboardInterrupt:
        error, status = "interrupted", 130
    except Exception as exc:
        error, status = f"{type(exc).__name__}: {exc}", 1
    finally:
        if not args.keep:
            shutil.rmtree(bench.work, ignore_errors=True)
    checks = verdicts(bench.results, args.models)
    if bench.results:
        print_report(bench, checks)
    payload = {
        "meta": metadata(bench),
        "servers": bench.servers,
        "optimized": bench.optimized,
        "skipped": bench.skipped,
        "results": [asdict(r) for r in bench.results],
        "targets": checks,
        "error": error,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2))
    console.print(f"results written to {args.out}", highlight=False)
    if error:
        console.print(f"[bold red]aborted:[/] {error}", highlight=False)
    return status


if __name__ == "__main__":
    sys.exit(main())
