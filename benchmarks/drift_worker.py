"""One measured drift run in a fresh process, for ``benchmarks/drift.py``.

Run as ``python benchmarks/drift_worker.py --side SIDE --data DIR --out FILE``
with the interpreter of the side being measured: Shipyard's and the naive
scipy baseline under the project's venv, Evidently's under
``.bench/evidently-venv``. This module imports only the standard library at the
top, so it loads under either interpreter; each side imports its own libraries
inside its function, before the clock starts.

What is timed (``seconds``): from the start of reading the Parquet files (or
the stored profile) to having a ``{column: drifted}`` dict of verdicts.
Interpreter start-up and library imports are not in it (``import_seconds``
reports them). Peak memory is the process's high-water RSS (``VmHWM``), which
the parent cross-checks against ``os.wait4``'s ``ru_maxrss`` for this process.

Sides:

- ``shipyard``: read reference + current, ``profile_frame(reference)``,
  ``dataset_drift(profiles, current)``;
- ``shipyard-stored``: read the stored reference profile (JSON written once by
  the parent) + current, ``dataset_drift``;
- ``evidently``: read reference + current, ``Report([DataDriftPreset()])`` with
  default preset settings, verdicts from the per-column ``ValueDrift`` tests;
- ``scipy``: read reference + current, ``ks_2samp`` per numeric column and
  ``chi2_contingency`` per categorical column, drift when p < 0.05.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Verdicts = dict[str, bool]
Timings = dict[str, float]


def vm_status(field: str) -> float:
    """A ``/proc/self/status`` memory field (``VmHWM``, ``VmRSS``) in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_shipyard(data: Path) -> tuple[Verdicts, Timings, dict[str, Any]]:
    """Profile the reference, then drift of current against it."""
    import pandas as pd

    from shipyard.monitoring.drift import dataset_drift
    from shipyard.monitoring.profile import profile_frame

    # Shipyard's workflow: the reference is profiled once and only the profile is kept
    # (that is what a registered version or dataset stores), so the raw reference is
    # released before the current window is read.
    t0 = time.perf_counter()
    reference = pd.read_parquet(data / "reference.parquet")
    t1 = time.perf_counter()
    profiles = profile_frame(reference)
    del reference
    t2 = time.perf_counter()
    current = pd.read_parquet(data / "current.parquet")
    t3 = time.perf_counter()
    result = dataset_drift(profiles, current)
    verdicts = {r.column: bool(r.drifted) for r in result.columns}
    t4 = time.perf_counter()
    methods = {r.column: r.method for r in result.columns}
    timings = {"read": (t1 - t0) + (t3 - t2), "profile": t2 - t1, "drift": t4 - t3}
    return verdicts, timings, methods


def run_shipyard_stored(data: Path) -> tuple[Verdicts, Timings, dict[str, Any]]:
    """Drift of current against the reference profile stored as JSON."""
    import pandas as pd

    from shipyard.monitoring.drift import dataset_drift
    from shipyard.monitoring.profile import profile_from_dict

    t0 = time.perf_counter()
    stored = json.loads((data / "profile.json").read_text())
    profiles = {name: profile_from_dict(p) for name, p in stored.items()}
    current = pd.read_parquet(data / "current.parquet")
    t1 = time.perf_counter()
    result = dataset_drift(profiles, current)
    verdicts = {r.column: bool(r.drifted) for r in result.columns}
    t2 = time.perf_counter()
    methods = {r.column: r.method for r in result.columns}
    return verdicts, {"read": t1 - t0, "drift": t2 - t1}, methods


def run_evidently(data: Path) -> tuple[Verdicts, Timings, dict[str, Any]]:
    """Evidently's DataDriftPreset (default settings) over every column."""
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    t0 = time.perf_counter()
    reference = pd.read_parquet(data / "reference.parquet")
    current = pd.read_parquet(data / "current.parquet")
    t1 = time.perf_counter()
    # The schema is given, not inferred: the same split Shipyard sees (numbers vs categories).
    definition = DataDefinition(
        numerical_columns=[c for c in reference.columns if not _is_categorical(reference[c])],
        categorical_columns=[c for c in reference.columns if _is_categorical(reference[c])],
    )
    # include_tests only surfaces the per-column verdict Evidently computes anyway.
    report = Report([DataDriftPreset()], include_tests=True)
    snapshot = report.run(
        current_data=Dataset.from_pandas(current, data_definition=definition),
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
    )
    t2 = time.perf_counter()
    snap = snapshot.dict()
    prefix = "Value Drift for column "
    verdicts = {
        test["name"][len(prefix) :]: str(getattr(test["status"], "value", test["status"])) == "FAIL"
        for test in snap["tests"]
        if test["name"].startswith(prefix)
    }
    t3 = time.perf_counter()
    methods: dict[str, Any] = {}
    scores: dict[str, float] = {}
    for metric in snap["metrics"]:
        config = metric["config"]
        if config.get("type", "").endswith("ValueDrift"):
            methods[config["column"]] = config.get("method")
            scores[config["column"]] = float(metric["value"])
    timings = {"read": t1 - t0, "report": t2 - t1, "extract": t3 - t2}
    return verdicts, timings, {"methods": methods, "scores": scores}


def _is_categorical(series: Any) -> bool:
    import pandas as pd

    return isinstance(series.dtype, pd.CategoricalDtype) or series.dtype.kind not in "iuf"


def run_scipy(data: Path) -> tuple[Verdicts, Timings, dict[str, Any]]:
    """Naive baseline: a two-sample test per column on the raw data, p < 0.05."""
    import numpy as np
    import pandas as pd
    from scipy import stats

    t0 = time.perf_counter()
    reference = pd.read_parquet(data / "reference.parquet")
    current = pd.read_parquet(data / "current.parquet")
    t1 = time.perf_counter()
    verdicts: Verdicts = {}
    p_values: dict[str, float] = {}
    for column in reference.columns:
        ref, cur = reference[column], current[column]
        if _is_categorical(ref):
            table = pd.concat(
                [ref.value_counts(), cur.value_counts()], axis=1, keys=["r", "c"]
            ).fillna(0)
            table = table[table.sum(axis=1) > 0]
            p = float(stats.chi2_contingency(table.to_numpy().T, correction=False).pvalue)
        else:
            a = ref.to_numpy(dtype="float64")
            b = cur.to_numpy(dtype="float64")
            p = float(stats.ks_2samp(a[np.isfinite(a)], b[np.isfinite(b)]).pvalue)
        verdicts[str(column)] = p < 0.05
        p_values[str(column)] = p
    t2 = time.perf_counter()
    return verdicts, {"read": t1 - t0, "tests": t2 - t1}, {"p_values": p_values}


SIDES: dict[str, Callable[[Path], tuple[Verdicts, Timings, dict[str, Any]]]] = {
    "shipyard": run_shipyard,
    "shipyard-stored": run_shipyard_stored,
    "evidently": run_evidently,
    "scipy": run_scipy,
}
#: What each side imports before its clock starts (loaded up front so import time is separate).
IMPORTS: dict[str, list[str]] = {
    "shipyard": ["pandas", "pyarrow", "shipyard.monitoring.drift"],
    "shipyard-stored": ["pandas", "pyarrow", "shipyard.monitoring.drift"],
    "evidently": ["pandas", "pyarrow", "evidently", "evidently.presets"],
    "scipy": ["pandas", "pyarrow", "scipy.stats"],
}


def main(argv: list[str] | None = None) -> int:
    """Run one side once and write its result JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", choices=sorted(SIDES), required=True)
    parser.add_argument("--data", type=Path, required=True, help="folder with the Parquet files")
    parser.add_argument("--out", type=Path, required=True, help="result JSON to write")
    parser.add_argument("--cprofile", type=Path, help="write cProfile stats of the run here")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    import importlib

    for module in IMPORTS[args.side]:
        importlib.import_module(module)
    import_seconds = time.perf_counter() - started
    rss_after_imports = vm_status("VmRSS")

    side = SIDES[args.side]
    if args.cprofile:
        import cProfile

        profiler = cProfile.Profile()
        t0 = time.perf_counter()
        verdicts, timings, extra = profiler.runcall(side, args.data)
        seconds = time.perf_counter() - t0
        profiler.dump_stats(str(args.cprofile))
    else:
        t0 = time.perf_counter()
        verdicts, timings, extra = side(args.data)
        seconds = time.perf_counter() - t0

    versions = {}
    for name in ("pandas", "numpy", "scipy", "pyarrow", "evidently"):
        module = sys.modules.get(name)
        if module is not None:
            versions[name] = getattr(module, "__version__", "?")
    result = {
        "side": args.side,
        "seconds": seconds,
        "timings": timings,
        "verdicts": verdicts,
        "extra": extra,
        "import_seconds": import_seconds,
        "rss_after_imports_mb": rss_after_imports,
        "vmhwm_mb": vm_status("VmHWM"),
        "python": sys.version.split()[0],
        "versions": versions,
    }
    args.out.write_text(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
