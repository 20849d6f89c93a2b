"""Shipyard's drift detection side by side with Evidently's DataDriftPreset.

One command generates the planted data (``tests/monitoring/planted.py``: 20
numeric and 5 categorical columns, 8 of them drifted), writes it once as
Parquet to a temporary folder, and runs every side on the same bytes, each run
in a fresh process::

    .venv/bin/python benchmarks/drift.py            # 10k, 100k, 1M rows, ~10 minutes
    .venv/bin/python benchmarks/drift.py --quick    # 10k, 100k rows, ~1-2 minutes

``--detection`` measures what the defaults detect instead of how fast
(``benchmarks/drift_detection.py``: detection and false-alarm rates over seeded
repetitions of planted drifts of known size, 1k to 1M rows; docs/drift.md)::

    nice -n 10 .venv/bin/python benchmarks/drift.py --detection

Sides (the worker, ``benchmarks/drift_worker.py``, documents each):

- Shipyard, profile + drift: read reference and current, ``profile_frame``,
  ``dataset_drift``;
- Shipyard, stored profile: read the reference profile stored as JSON (made once
  by this script, untimed) and current, ``dataset_drift``;
- Evidently: ``Report([DataDriftPreset()])`` with default preset settings, in its
  own venv ``.bench/evidently-venv`` (created on first use with
  ``EVIDENTLY_SPEC``; Evidently 0.7 does not import under pandas 3, so that venv
  pins ``pandas<3``);
- naive scipy: ``ks_2samp`` / ``chi2_contingency`` per column on the raw data.

Seconds are from the start of reading the Parquet files to having per-column
verdicts (imports and interpreter start-up excluded), the median of the
repeats. Peak memory is the peak RSS of the run's own process (``VmHWM`` of
the fresh process, read by it at the end; 1 MB = 2**20 bytes), median over the
repeats; it includes the interpreter and the imported libraries. (``ru_maxrss``
from ``os.wait4`` is kept in the JSON as a cross-check only: Linux carries the
parent's high-water RSS from before ``exec`` into the child's, so it can never
be lower than the parent's; the data is therefore generated in a separate
process too, keeping this parent small.) Before measuring, the
script waits while other benchmarks (``benchmarks/tracking.py``,
``benchmarks/serving``) run, so they do not share the 2 cores. Raw samples go to
``.bench/drift-results.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / ".bench"
WORKER = Path(__file__).resolve().parent / "drift_worker.py"
RESULTS = BENCH_DIR / "drift-results.json"
EVIDENTLY_VENV = BENCH_DIR / "evidently-venv"
EVIDENTLY_SPEC = ["evidently==0.7.23", "pandas<3", "pyarrow"]
OTHER_BENCHMARKS = "benchmarks/(tracking|serving)"
QUIET_ENV = {"DO_NOT_TRACK": "1", "EVIDENTLY_DISABLE_TELEMETRY": "1"}

FULL_SIZES = [10_000, 100_000, 1_000_000]
QUICK_SIZES = [10_000, 100_000]
BIG = 1_000_000
SPEED_TARGET = 25.0  # Evidently seconds / Shipyard seconds at 1M rows, at least
MEMORY_TARGET = 0.5  # Shipyard peak / Evidently peak at 1M rows, below
#: Measured earlier on this machine at 1M rows (context only).
REFERENCE_1M = {"evidently_s": 110.0, "evidently_mb": 2400.0, "evidently_wrong": 2, "scipy_s": 6.6}


@dataclass(frozen=True)
class Side:
    key: str
    label: str
    python: str


@dataclass
class Row:
    """Every run of one side at one size."""

    side: str
    label: str
    rows: int
    seconds: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)  # VmHWM of the run's process
    wait4_maxrss_mb: list[float] = field(default_factory=list)  # cross-check, see the docstring
    timings: list[dict[str, float]] = field(default_factory=list)
    import_seconds: list[float] = field(default_factory=list)
    verdicts: dict[str, bool] = field(default_factory=dict)
    consistent: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")

    @property
    def median_mb(self) -> float:
        return statistics.median(self.peak_mb) if self.peak_mb else float("nan")

    def wrong(self, truth: set[str]) -> list[str]:
        """Columns whose verdict disagrees with the planted truth (missing ones count)."""
        columns = sorted(set(self.verdicts) | truth) if self.verdicts else []
        return [c for c in columns if self.verdicts.get(c) != (c in truth)]


def others_running() -> list[str]:
    """Process ids of the other benchmarks, if any is running."""
    found = subprocess.run(
        ["pgrep", "-f", OTHER_BENCHMARKS], capture_output=True, text=True, check=False
    )
    return found.stdout.split()


@dataclass
class Quiet:
    """Keeps runs off the cores while other benchmarks use them (40 minutes of waiting at most)."""

    enabled: bool = True
    limit: float = 2400.0
    poll: float = 30.0
    waited: float = 0.0
    discarded: int = 0

    def wait(self, console: Console) -> None:
        """Wait, polling, until no other benchmark runs or the waiting budget is spent."""
        while self.enabled:
            found = others_running()
            if not found:
                return
            if self.waited >= self.limit:
                console.print(f"[red]other benchmarks still running ({' '.join(found)}); going on")
                return
            console.print(
                f"[yellow]other benchmarks running (pids {' '.join(found)}); "
                f"waiting ({self.waited:.0f} s so far)"
            )
            time.sleep(self.poll)
            self.waited += self.poll

    def overlapped(self) -> bool:
        """Whether another benchmark is running now (so the run just made is suspect)."""
        return self.enabled and self.waited < self.limit and bool(others_running())


def ensure_evidently(console: Console) -> tuple[str | None, str]:
    """The Evidently venv's python (made on first use), or None and the reason."""
    python = EVIDENTLY_VENV / "bin" / "python"
    check = [str(python), "-c", "import evidently; print(evidently.__version__)"]
    if python.exists():
        done = subprocess.run(check, capture_output=True, text=True, check=False)
        if done.returncode == 0:
            return str(python), done.stdout.strip()
    console.print(f"creating {EVIDENTLY_VENV} with {' '.join(EVIDENTLY_SPEC)} ...")
    log = BENCH_DIR / "evidently-pip.log"
    try:
        subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
        with log.open("a") as out:
            subprocess.run(
                [str(python), "-m", "pip", "install", *EVIDENTLY_SPEC],
                stdout=out,
                stderr=subprocess.STDOUT,
                check=True,
            )
        done = subprocess.run(check, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        return None, f"could not set up Evidently ({exc}); see {log}"
    return str(python), done.stdout.strip()


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def prepare(rows: int, seed: int, folder: Path) -> dict[str, Any]:
    """Generate and write the data in a separate process (keeps this one small)."""
    command = [sys.executable, __file__, "--prepare-into", str(folder)]
    command += ["--sizes", str(rows), "--seed", str(seed)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"preparing {rows} rows failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def write_data(rows: int, seed: int, folder: Path) -> dict[str, Any]:
    """Write reference/current Parquet and the stored Shipyard profile once (untimed)."""
    sys.path.insert(0, str(ROOT))
    from tests.monitoring.planted import drifted_columns, planted

    from shipyard.monitoring.profile import profile_frame

    folder.mkdir(parents=True, exist_ok=True)
    reference, current = planted(rows, seed)
    reference.to_parquet(folder / "reference.parquet", index=False)
    current.to_parquet(folder / "current.parquet", index=False)
    profiles = profile_frame(reference)
    stored = {name: profile.to_dict() for name, profile in profiles.items()}
    (folder / "profile.json").write_text(json.dumps(stored))
    files = {
        name: {"bytes": (folder / name).stat().st_size, "sha256": sha256(folder / name)}
        for name in ("reference.parquet", "current.parquet", "profile.json")
    }
    return {"files": files, "truth": sorted(drifted_columns())}


def run_once(
    side: Side, data: Path, out: Path, cprofile: Path | None = None
) -> tuple[dict[str, Any], float]:
    """One run of a side in a fresh process: (its result, wait4's ru_maxrss in MB)."""
    command = [side.python, str(WORKER), "--side", side.key, "--data", str(data), "--out", str(out)]
    if cprofile:
        command += ["--cprofile", str(cprofile)]
    env = {**os.environ, **QUIET_ENV}
    log = out.with_suffix(".log")
    with log.open("w") as stderr:
        process = subprocess.Popen(command, stdout=stderr, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = log.read_text()[-2000:]
        raise RuntimeError(f"{side.key} exited {process.returncode}:\n{tail}")
    return json.loads(out.read_text()), usage.ru_maxrss / 1024  # KiB on Linux


def repeats_for(rows: int, side: str, args: argparse.Namespace) -> int:
    if rows >= BIG:
        return args.big_repeats_evidently if side == "evidently" else args.big_repeats
    return args.repeats


def measure_size(
    rows: int,
    sides: list[Side],
    args: argparse.Namespace,
    workdir: Path,
    progress: Progress,
    task: Any,
    quiet: Quiet,
) -> tuple[dict[str, Row], dict[str, Any]]:
    """All repeats of all sides at one size, interleaved round-robin."""
    data = workdir / f"rows-{rows}"
    progress.update(task, description=f"{rows:>9,} rows: writing Parquet")
    prepared = prepare(rows, args.seed, data)
    results = {s.key: Row(s.key, s.label, rows) for s in sides}
    most = max(repeats_for(rows, s.key, args) for s in sides)
    for i in range(most):
        for side in sides:
            row = results[side.key]
            if i >= repeats_for(rows, side.key, args) or row.error:
                continue
            progress.update(task, description=f"{rows:>9,} rows: {side.label} #{i + 1}")
            try:
                for _attempt in range(3):
                    quiet.wait(progress.console)
                    result, peak = run_once(side, data, data / f"{side.key}-{i}.json")
                    if not quiet.overlapped():
                        break
                    quiet.discarded += 1
                    progress.console.print(
                        f"[yellow]another benchmark ran during {side.label} #{i + 1}; run again"
                    )
            except RuntimeError as exc:
                row.error = str(exc)
                progress.console.print(f"[red]{exc}")
                continue
            row.seconds.append(result["seconds"])
            row.peak_mb.append(result["vmhwm_mb"])
            row.wait4_maxrss_mb.append(peak)
            row.timings.append(result["timings"])
            row.import_seconds.append(result["import_seconds"])
            row.versions = result["versions"]
            if not row.verdicts:
                row.verdicts, row.extra = result["verdicts"], result["extra"]
            elif row.verdicts != result["verdicts"]:
                row.consistent = False
            progress.advance(task)
    return results, prepared


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("nan")


def size_table(rows: int, results: dict[str, Row], truth: set[str], args: Any) -> Table:
    """The table for one size."""
    table = Table(title=f"{rows:,} rows (reference and current each)", title_justify="left")
    for name, justify in [
        ("tool", "left"),
        ("seconds", "right"),
        ("runs", "right"),
        ("peak MB", "right"),
        ("correct", "right"),
        ("wrong columns", "left"),
        ("Evidently/this time", "right"),
        ("Evidently/this memory", "right"),
    ]:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    evidently = results.get("evidently")
    for row in results.values():
        if row.error:
            table.add_row(row.label, "error", "0", "", "", row.error.splitlines()[0], "", "")
            continue
        wrong = row.wrong(truth)
        time_ratio = mem_ratio = ""
        if evidently and not evidently.error and row.side != "evidently":
            time_ratio = f"{ratio(evidently.median_s, row.median_s):.1f}x"
            mem_ratio = f"{ratio(evidently.median_mb, row.median_mb):.1f}x"
        table.add_row(
            row.label,
            f"{row.median_s:.3f}",
            str(len(row.seconds)),
            f"{row.median_mb:.0f}",
            f"{25 - len(wrong)}/25" + ("" if row.consistent else " (varies!)"),
            ", ".join(wrong) or "-",
            time_ratio,
            mem_ratio,
        )
    return table


def breakdown(results: dict[str, Row]) -> list[str]:
    """Median phase timings per side, e.g. Shipyard's profile step on its own."""
    lines = []
    for row in results.values():
        if not row.timings:
            continue
        phases = ", ".join(
            f"{phase} {statistics.median(t[phase] for t in row.timings):.3f} s"
            for phase in row.timings[0]
        )
        imports = statistics.median(row.import_seconds)
        lines.append(f"  {row.label}: {phases} (imports, untimed: {imports:.2f} s)")
    return lines


def judge(all_results: dict[int, dict[str, Row]], truth: set[str]) -> dict[str, Any]:
    """The issue's targets, judged on Shipyard's profile + drift run (the like-for-like one)."""
    targets: dict[str, Any] = {}
    big = all_results.get(BIG)
    if big and not big["shipyard"].error and not big["evidently"].error:
        speed = ratio(big["evidently"].median_s, big["shipyard"].median_s)
        memory = ratio(big["shipyard"].median_mb, big["evidently"].median_mb)
        stored_speed = ratio(big["evidently"].median_s, big["shipyard-stored"].median_s)
        targets["speed_1m"] = {"value": speed, "target": SPEED_TARGET, "met": speed >= SPEED_TARGET}
        targets["memory_1m"] = {
            "value": memory,
            "target": MEMORY_TARGET,
            "met": memory < MEMORY_TARGET,
        }
        targets["speed_1m_stored_profile_info"] = {"value": stored_speed}
    else:
        targets["speed_1m"] = targets["memory_1m"] = {"met": None, "note": "1M rows not measured"}
    for rows, results in all_results.items():
        for key in ("shipyard", "shipyard-stored"):
            row = results[key]
            wrong = row.wrong(truth) if not row.error else ["error"]
            targets[f"verdicts_{key}_{rows}"] = {
                "wrong": wrong,
                "met": not wrong and row.consistent and not row.error,
            }
    return targets


def print_targets(console: Console, targets: dict[str, Any], sizes: list[int]) -> None:
    def mark(met: bool | None) -> str:
        return {True: "[green]MET", False: "[red]NOT MET", None: "[yellow]not evaluated"}[met]

    console.print("[bold]Targets (Shipyard = profile reference + drift, the like-for-like run)")
    speed, memory = targets["speed_1m"], targets["memory_1m"]
    if speed.get("met") is None:
        console.print(f"  1M speed / memory: {mark(None)} ({speed['note']})")
    else:
        console.print(
            f"  1M rows: Shipyard >= {SPEED_TARGET:.0f}x faster than Evidently: "
            f"{speed['value']:.1f}x  {mark(speed['met'])}"
        )
        console.print(
            f"  1M rows: Shipyard peak memory < {MEMORY_TARGET:.0%} of Evidently's: "
            f"{memory['value']:.1%}  {mark(memory['met'])}"
        )
        console.print(
            "  (info) 1M rows, drift against the stored profile: "
            f"{targets['speed_1m_stored_profile_info']['value']:.1f}x faster than Evidently"
        )
    for rows in sizes:
        verdicts = [targets[f"verdicts_{k}_{rows}"] for k in ("shipyard", "shipyard-stored")]
        met = all(v["met"] for v in verdicts)
        wrong = sorted({c for v in verdicts for c in v["wrong"]})
        detail = f" (wrong: {', '.join(wrong)})" if wrong else ""
        console.print(f"  {rows:>9,} rows: all 25 Shipyard verdicts right{detail}  {mark(met)}")
    if BIG not in sizes:
        console.print(f"  1M rows verdicts: {mark(None)} (not in this run)")


def cprofile_shipyard(rows: int, seed: int, workdir: Path) -> Path:
    """An extra run of Shipyard's profile + drift side under cProfile (not in the table)."""
    data = workdir / f"rows-{rows}"
    if not (data / "reference.parquet").exists():
        prepare(rows, seed, data)
    side = Side("shipyard", "Shipyard", sys.executable)
    stats_file = BENCH_DIR / f"drift-shipyard-{rows}.pstats"
    run_once(side, data, data / "cprofile.json", cprofile=stats_file)
    return stats_file


def print_hotspots(stats_file: Path, console: Console) -> None:
    """The top of a cProfile run, by cumulative and by own time."""
    import pstats

    console.print(f"[bold]cProfile of Shipyard's profile + drift run ({stats_file}):")
    sys.stdout.flush()
    stats = pstats.Stats(str(stats_file), stream=sys.stdout)
    stats.sort_stats("cumulative").print_stats(20)
    stats.sort_stats("tottime").print_stats(12)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k and 100k rows only")
    parser.add_argument("--sizes", type=int, nargs="+", help="row counts (overrides --quick)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per side below 1M rows")
    parser.add_argument("--big-repeats", type=int, default=3, help="runs per side at 1M rows")
    parser.add_argument(
        "--big-repeats-evidently", type=int, default=2, help="Evidently runs at 1M rows"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-wait", action="store_true", help="do not wait for other benchmarks")
    parser.add_argument("--no-evidently", action="store_true", help="skip the Evidently side")
    parser.add_argument(
        "--cprofile", action="store_true", help="also cProfile Shipyard's side at the largest size"
    )
    parser.add_argument("--out", type=Path, help=f"raw results (default {RESULTS})")
    parser.add_argument(
        "--detection", action="store_true", help="detection/false-alarm table, not speed"
    )
    parser.add_argument(
        "--detection-scale", type=float, default=1.0, help="multiply --detection's repetitions"
    )
    parser.add_argument("--prepare-into", type=Path, help=argparse.SUPPRESS)  # internal
    args = parser.parse_args(argv)
    if args.prepare_into:
        print(json.dumps(write_data(args.sizes[0], args.seed, args.prepare_into)))
        return 0
    if args.detection:
        import drift_detection

        out = args.out or drift_detection.RESULTS
        return drift_detection.main(args.sizes, args.seed, args.detection_scale, out)
    args.out = args.out or RESULTS
    sizes = args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES)
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
    BENCH_DIR.mkdir(exist_ok=True)

    sides = [
        Side("shipyard", "Shipyard profile+drift", sys.executable),
        Side("shipyard-stored", "Shipyard stored profile", sys.executable),
    ]
    evidently_version = None
    if not args.no_evidently:
        python, info = ensure_evidently(console)
        if python:
            evidently_version = info
            sides.append(Side("evidently", f"Evidently {info}", python))
        else:
            console.print(f"[red]{info}; Evidently side skipped")
    sides.append(Side("scipy", "naive scipy KS/chi2", sys.executable))

    quiet = Quiet(enabled=not args.no_wait)
    quiet.wait(console)
    truth: set[str] = set()
    total = sum(repeats_for(n, s.key, args) for n in sizes for s in sides)
    all_results: dict[int, dict[str, Row]] = {}
    files: dict[int, Any] = {}
    stats_file: Path | None = None
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="shipyard-drift-"))
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} runs"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("starting", total=total)
            for rows in sizes:
                all_results[rows], prepared = measure_size(
                    rows, sides, args, workdir, progress, task, quiet
                )
                files[rows] = prepared["files"]
                truth = set(prepared["truth"])
        wall = time.perf_counter() - started
        if args.cprofile:
            quiet.wait(console)
            stats_file = cprofile_shipyard(max(sizes), args.seed, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    console.print(
        "[bold]Drift detection: Shipyard vs Evidently DataDriftPreset (default settings)[/] "
        f"(python {platform.python_version()}, "
        f"{os.cpu_count()} cores; seconds = median, read Parquet -> per-column verdicts, imports "
        "excluded; peak MB = median VmHWM of a fresh process per run, imports included)"
    )
    console.print(f"planted truth: {', '.join(sorted(truth))} drifted; the other 17 not")
    for rows in sizes:
        console.print(size_table(rows, all_results[rows], truth, args))
        for line in breakdown(all_results[rows]):
            console.print(line)
    console.print(
        f"Reference at 1M rows, measured earlier here: Evidently ~{REFERENCE_1M['evidently_s']:.0f}"
        f" s, ~{REFERENCE_1M['evidently_mb'] / 1000:.1f} GB, "
        f"{REFERENCE_1M['evidently_wrong']}/25 wrong; naive scipy ~{REFERENCE_1M['scipy_s']} s"
    )
    targets = judge(all_results, truth)
    print_targets(console, targets, sizes)
    console.print(
        f"wall time {wall:.0f} s (waited {quiet.waited:.0f} s for other benchmarks; "
        f"{quiet.discarded} run(s) discarded because one started meanwhile)"
    )

    payload = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "evidently_version": evidently_version,
        "evidently_spec": EVIDENTLY_SPEC,
        "seed": args.seed,
        "timed": "read Parquet (or stored profile + Parquet) -> per-column verdicts; no imports",
        "memory": "VmHWM of each run's own fresh process, MiB (wait4 ru_maxrss: cross-check)",
        "truth": sorted(truth),
        "files": {str(k): v for k, v in files.items()},
        "results": {
            str(rows): {
                key: {
                    **asdict(row),
                    "median_s": row.median_s,
                    "median_peak_mb": row.median_mb,
                    "wrong": row.wrong(truth),
                }
                for key, row in results.items()
            }
            for rows, results in all_results.items()
        },
        "targets": targets,
        "reference_1m": REFERENCE_1M,
        "waited_s": quiet.waited,
        "discarded_runs": quiet.discarded,
        "wall_s": wall,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2, default=str))
    console.print(f"raw results: {args.out}")
    if stats_file:
        print_hotspots(stats_file, console)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
