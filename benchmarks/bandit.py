"""Bandit regret: Thompson sampling with exploration floors against a fixed split and
epsilon-greedy, on simulated Bernoulli traffic (tests/abtest/simulate.py).

Each run routes ``--requests`` requests to three arms with known reward rates;
every policy recomputes its shares every ``--batch`` requests (the controller's
cadence) from the rewards seen so far. Prints, per rate set, the median and mean
pseudo-regret over ``--seeds`` seeds (the same seeds for every policy).

    .venv/bin/python benchmarks/bandit.py [--seeds 50] [--batch 500] [--requests 20000]
                                          [--max-step 0.2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from shipyard.abtest.spec import DEFAULT_MAX_STEP

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.abtest.simulate import Policy, epsilon_greedy, fixed_split, simulate, thompson

RATE_SETS = [
    (0.04, 0.05, 0.07),
    (0.10, 0.12, 0.15),
    (0.30, 0.32, 0.40),
    (0.10, 0.10, 0.11),  # a small gap and a tie among the losers
]
FLOORS = (0.05, 0.02, 0.01, 0.0)


def policies(max_step: float) -> list[tuple[str, Policy]]:
    return [
        ("fixed 1/3", fixed_split),
        ("eps-greedy 0.1", epsilon_greedy(0.1)),
        *((f"TS floor {floor:g}", thompson(floor, max_step)) for floor in FLOORS),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--max-step", type=float, default=DEFAULT_MAX_STEP)
    args = parser.parse_args()
    named = policies(args.max_step)
    started = time.perf_counter()
    print(
        f"pseudo-regret over {args.requests} requests, update every {args.batch}, "
        f"TS max_step {args.max_step:g}, {args.seeds} seeds: median (mean)"
    )
    print("| rates | " + " | ".join(name for name, _ in named) + " |")
    print("|---" * (len(named) + 1) + "|")
    for rates in RATE_SETS:
        cells = []
        for _, policy in named:
            regret = [
                simulate(policy, rates, requests=args.requests, batch=args.batch, seed=s).regret
                for s in range(args.seeds)
            ]
            cells.append(f"{np.median(regret):.0f} ({np.mean(regret):.0f})")
        print(f"| {'/'.join(f'{r:.2f}' for r in rates)} | " + " | ".join(cells) + " |")
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
