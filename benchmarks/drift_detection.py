"""Detection and false-alarm rates of the drift defaults, on planted drifts of known size.

Run through the drift benchmark (it prints the table published in docs/drift.md)::

    nice -n 10 .venv/bin/python benchmarks/drift.py --detection    # ~8 minutes, 2 shared cores

Every repetition generates one frame with ``effect_frame`` (tests/monitoring/planted.py):
one column per planted effect below, plus unchanged columns of each kind (the
false alarms), 27 columns in all, like a real check over many features. The
reference is profiled (``profile_frame``) and the current window checked three
ways on the same data:

- ``new``: Shipyard's defaults (``dataset_drift`` with no configuration);
- ``old``: the previous defaults (Wasserstein / std >= 0.1 and Jensen-Shannon
  >= 0.1 above 1,000 rows, KS / chi-square p < 0.05 up to 1,000), named per column;
- ``plain``: KS and chi-square at p < 0.05 per column, no correction, no floor.

A cell is the share of repetitions in which the column was flagged: the
detection rate for a planted drift, the false-alarm rate for unchanged
columns (pooled over the unchanged columns of that kind). Repetitions are
seeded (``seed + repetition``), fewer at a million rows (see ``REPEATS``).

The calibration table shows the distance the default measures (KS distance
or total variation distance, both a share of rows) for each planted effect:
the floor must lie above what the tolerated effects produce at a million rows
(99th percentile) and below what the must-catch effects produce at 100k rows
(1st percentile).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.monitoring.planted import LOG_SIGMA, SIX_P, Effect, effect_frame  # noqa: E402

from shipyard.monitoring.drift import (  # noqa: E402
    EFFECT_FLOOR,
    FALSE_DISCOVERY_RATE,
    ColumnRule,
    DriftConfig,
    dataset_drift,
)
from shipyard.monitoring.profile import profile_frame  # noqa: E402

RESULTS = ROOT / ".bench" / "drift-detection.json"
SIZES = [1_000, 10_000, 100_000, 1_000_000]
REPEATS = {1_000: 200, 10_000: 200, 100_000: 100, 1_000_000: 20}
EFFECTS = [
    *(Effect("scale", s) for s in (0.01, 0.02, 0.05, 0.10, 0.20)),
    *(Effect("mean", s) for s in (0.01, 0.02, 0.05, 0.10, 0.25)),
    *(Effect("frequency", s) for s in (0.005, 0.01, 0.02, 0.05, 0.10)),
]
UNCHANGED_PER_KIND = 4
KINDS = ("scale", "mean", "frequency")
#: What the defaults must flag at 100k rows and above, and what they should let pass.
MUST_CATCH = [Effect("scale", 0.10), Effect("mean", 0.10), Effect("frequency", 0.05)]
TOLERATED = [Effect("scale", 0.02), Effect("mean", 0.02), Effect("frequency", 0.01)]
#: The issue's bar for the two drifts the old defaults missed (at 100k rows and above).
TARGETS = [Effect("scale", 0.10), Effect("frequency", 0.05)]
DETECTION_TARGET = 0.95
FALSE_ALARM_TARGET = 0.01
POLICIES = ("new", "old", "plain")
UNCHANGED_LABEL = {"scale": "log-normal", "mean": "normal", "frequency": "six-level"}


def column_name(effect: Effect) -> str:
    return f"{effect.kind}_{effect.size:g}"


def describe(effect: Effect) -> str:
    """The planted effect in words."""
    if effect.kind == "scale":
        return f"log-normal scale x{1 + effect.size:g}"
    if effect.kind == "mean":
        return f"normal mean +{effect.size:g} sd"
    return f"six levels, {effect.size * 100:g} points a->f"


def plan() -> dict[str, Effect]:
    """The columns of every generated frame."""
    columns = {column_name(e): e for e in EFFECTS}
    for kind in KINDS:
        for i in range(UNCHANGED_PER_KIND):
            columns[f"unchanged_{kind}_{i}"] = Effect(kind, 0.0)
    return columns


def policy_config(policy: str, columns: dict[str, Effect], rows: int) -> DriftConfig:
    """The configuration that reproduces a policy through per-column rules."""
    if policy == "new":
        return DriftConfig()
    small = rows <= 1000 or policy == "plain"

    def method(effect: Effect) -> str:
        if effect.kind == "frequency":
            return "chisquare" if small else "jensenshannon"
        return "ks" if small else "wasserstein"

    return DriftConfig(rules={name: ColumnRule(method(e)) for name, e in columns.items()})


@dataclass
class Cell:
    """Verdicts of one column (or one kind of unchanged column) at one size."""

    flagged: dict[str, int] = field(default_factory=lambda: dict.fromkeys(POLICIES, 0))
    checks: int = 0
    distances: list[float] = field(default_factory=list)

    def rate(self, policy: str) -> float:
        return self.flagged[policy] / self.checks if self.checks else float("nan")


def row_key(name: str, effect: Effect) -> str:
    return f"unchanged {effect.kind}" if effect.size == 0 else name


def run_size(rows: int, repeats: int, seed: int) -> dict[str, Cell]:
    """All repetitions at one size."""
    columns = plan()
    cells: dict[str, Cell] = {}
    for rep in range(repeats):
        reference, current = effect_frame(columns, rows, seed=seed + rep)
        profiles = profile_frame(reference)
        del reference
        verdicts = {
            policy: dataset_drift(profiles, current, policy_config(policy, columns, rows))
            for policy in POLICIES
        }
        for name, effect in columns.items():
            cell = cells.setdefault(row_key(name, effect), Cell())
            cell.checks += 1
            for policy, result in verdicts.items():
                cell.flagged[policy] += name in result.drifted_columns
        for result in verdicts["new"].columns:
            cells[row_key(result.column, columns[result.column])].distances.append(result.statistic)
    return cells


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def calibrate(results: dict[int, dict[str, Cell]]) -> dict[str, Any]:
    """The interval of floors the planted effects allow, and whether ours is in it."""
    big = max(results)
    must_at = [n for n in results if n >= 100_000]
    low = max(
        (percentile(results[big][column_name(e)].distances, 99) for e in TOLERATED),
        default=float("nan"),
    )
    high = min(
        (percentile(results[n][column_name(e)].distances, 1) for e in MUST_CATCH for n in must_at),
        default=float("nan"),
    )
    return {
        "tolerated_p99_at": big,
        "above": low,
        "below": high,
        "geometric_middle": float(np.sqrt(low * high)) if low > 0 and high > 0 else float("nan"),
        "floor": EFFECT_FLOOR,
        "met": bool(low < EFFECT_FLOOR < high),
    }


def judge(results: dict[int, dict[str, Cell]]) -> list[dict[str, Any]]:
    """The issue's bar: detection and false alarms of the new defaults at 100k rows and up."""
    verdicts = []
    for rows in (n for n in sorted(results) if n >= 100_000):
        cells = results[rows]
        for effect in TARGETS:
            detection = cells[column_name(effect)].rate("new")
            false_alarm = cells[f"unchanged {effect.kind}"].rate("new")
            verdicts.append(
                {
                    "rows": rows,
                    "effect": describe(effect),
                    "detection": detection,
                    "false_alarms": false_alarm,
                    "met": detection >= DETECTION_TARGET and false_alarm <= FALSE_ALARM_TARGET,
                }
            )
    return verdicts


def expected_distance(effect: Effect) -> float:
    """The population value of the default's distance for a planted effect."""
    from scipy.stats import norm

    if effect.kind == "scale":  # log of a log-normal is normal: a shift by log(1 + size)
        return float(2 * norm.cdf(np.log1p(effect.size) / (2 * LOG_SIGMA)) - 1)
    if effect.kind == "mean":
        return float(2 * norm.cdf(effect.size / 2) - 1)
    return effect.size if effect.size <= SIX_P[0] else float("nan")


def detection_table(results: dict[int, dict[str, Cell]], sizes: list[int]) -> Table:
    table = Table(
        title="Alarm rate: share of seeded repetitions that flagged the column "
        "(new = defaults, old = previous defaults, plain = KS/chi-square p < 0.05)",
        title_justify="left",
    )
    table.add_column("planted drift", justify="left")
    table.add_column("distance", justify="right")
    for rows in sizes:
        table.add_column(f"{rows:,} rows\nnew / old / plain", justify="right")
    rows_order = [column_name(e) for e in EFFECTS] + [f"unchanged {k}" for k in KINDS]
    effects = {column_name(e): e for e in EFFECTS}
    for key in rows_order:
        effect = effects.get(key)
        label = (
            describe(effect)
            if effect
            else f"unchanged {UNCHANGED_LABEL[key.split()[1]]} (false alarms)"
        )
        distance = f"{expected_distance(effect):.4f}" if effect else "0"
        cells = []
        for rows in sizes:
            cell = results[rows][key]
            cells.append(" / ".join(f"{cell.rate(p):.0%}" for p in POLICIES))
        table.add_row(label, distance, *cells)
    return table


def calibration_table(results: dict[int, dict[str, Cell]], sizes: list[int]) -> Table:
    table = Table(
        title="Distance the defaults measure (KS or total variation; share of rows): "
        "1st / 50th / 99th percentile",
        title_justify="left",
    )
    table.add_column("planted drift", justify="left")
    table.add_column("role", justify="left")
    for rows in sizes:
        table.add_column(f"{rows:,} rows", justify="right")
    role = {column_name(e): "must catch" for e in MUST_CATCH}
    role |= {column_name(e): "tolerated" for e in TOLERATED}
    for effect in EFFECTS:
        key = column_name(effect)
        cells = []
        for rows in sizes:
            d = results[rows][key].distances
            cells.append(
                f"{percentile(d, 1):.4f} / {statistics.median(d):.4f} / {percentile(d, 99):.4f}"
            )
        table.add_row(describe(effect), role.get(key, ""), *cells)
    return table


def main(sizes: list[int] | None, seed: int, scale: float, out: Path = RESULTS) -> int:
    """Run the repetitions, print the tables and the verdicts, write the raw rates."""
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 170)
    sizes = sizes or SIZES
    repeats = {n: max(2, round(REPEATS.get(n, 20) * scale)) for n in sizes}
    started = time.perf_counter()
    results: dict[int, dict[str, Cell]] = {}
    seconds: dict[int, float] = {}
    for rows in sizes:
        t0 = time.perf_counter()
        results[rows] = run_size(rows, repeats[rows], seed)
        seconds[rows] = time.perf_counter() - t0
        console.print(f"{rows:>9,} rows: {repeats[rows]} repetitions in {seconds[rows]:.0f} s")
    wall = time.perf_counter() - started

    unchanged = UNCHANGED_PER_KIND
    console.print(
        f"[bold]Drift detection on planted drifts[/] (27 columns per frame: 15 planted drifts "
        f"and {unchanged} unchanged columns of each kind; defaults: FDR "
        f"{FALSE_DISCOVERY_RATE:g} (Benjamini-Hochberg) and distance >= {EFFECT_FLOOR:g}; "
        f"repetitions per size: "
        + ", ".join(f"{n:,}: {repeats[n]}" for n in sizes)
        + f"; unchanged rates pool {unchanged} columns x repetitions; seed {seed})"
    )
    console.print(detection_table(results, sizes))
    console.print(calibration_table(results, sizes))
    calibration = calibrate(results) if 1_000_000 in sizes or 100_000 in sizes else {}
    if calibration:
        mark = "[green]MET" if calibration["met"] else "[red]NOT MET"
        console.print(
            f"Floor calibration: tolerated effects reach {calibration['above']:.4f} "
            f"(99th percentile at {calibration['tolerated_p99_at']:,} rows), must-catch effects "
            f"go down to {calibration['below']:.4f} (1st percentile at 100k rows and up); "
            f"geometric middle {calibration['geometric_middle']:.4f}; "
            f"EFFECT_FLOOR = {EFFECT_FLOOR:g} inside  {mark}"
        )
    verdicts = judge(results)
    for v in verdicts:
        mark = "[green]MET" if v["met"] else "[red]NOT MET"
        console.print(
            f"  {v['rows']:>9,} rows, {v['effect']}: detection {v['detection']:.0%} "
            f"(>= {DETECTION_TARGET:.0%}), false alarms {v['false_alarms']:.1%} "
            f"(<= {FALSE_ALARM_TARGET:.0%})  {mark}"
        )
    console.print(f"wall time {wall:.0f} s")
    payload = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "seed": seed,
        "repeats": {str(n): r for n, r in repeats.items()},
        "effect_floor": EFFECT_FLOOR,
        "false_discovery_rate": FALSE_DISCOVERY_RATE,
        "rates": {
            str(rows): {
                key: {
                    "checks": cell.checks,
                    **{p: cell.rate(p) for p in POLICIES},
                    "distance_median": statistics.median(cell.distances),
                }
                for key, cell in cells.items()
            }
            for rows, cells in results.items()
        },
        "calibration": calibration,
        "targets": verdicts,
        "seconds": {str(n): s for n, s in seconds.items()},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2))
    console.print(f"raw results: {out}")
    return 0 if all(v["met"] for v in verdicts) and calibration.get("met", True) else 1
