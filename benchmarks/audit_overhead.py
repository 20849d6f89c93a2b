"""What one audited mutation costs, on SQLite and PostgreSQL.

Times N ``set_alias`` and N ``set_model_tag`` calls (each one write transaction
with one audit row) in a fresh workspace and prints the median time per call
over a few repeats. Run it before and after a change to the audit trail::

    .venv/bin/python benchmarks/audit_overhead.py            # SQLite and PostgreSQL
    .venv/bin/python benchmarks/audit_overhead.py --n 200 --backend sqlite

PostgreSQL is ``SHIPYARD_TEST_PG_URL`` (default: the local test database); each
repeat uses a private schema, dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from shipyard import Client
from shipyard.config import StoreSettings

PG_URL = os.environ.get("SHIPYARD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextmanager
def workspace(backend: str) -> Iterator[Client]:
    with tempfile.TemporaryDirectory() as tmp:
        if backend == "sqlite":
            with Client(settings=StoreSettings(home=Path(tmp) / "ws", user="bench")) as client:
                yield client
            return
        import psycopg

        schema = f"shipyard_bench_{uuid.uuid4().hex[:12]}"
        dsn = PG_URL.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        try:
            url = f"{PG_URL}?options=-csearch_path%3D{schema}"
            settings = StoreSettings(home=Path(tmp) / "ws", db_url=url, user="bench")
            with Client(settings=settings) as client:
                yield client
        finally:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def measure(backend: str, n: int) -> dict[str, float]:
    """Microseconds per call: the median over three fresh workspaces."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 3)), rng.integers(0, 2, 50)
    model = LogisticRegression().fit(X, y)
    samples: dict[str, list[float]] = {"set_alias": [], "set_model_tag": []}
    for _ in range(3):
        with workspace(backend) as client:
            client.register_model(model, name="bench", sample_input=X[:5])
            client.register_model(model, name="bench", sample_input=X[:5])
            start = time.perf_counter()
            for i in range(n):
                client.set_alias("bench", "champion", 1 + i % 2)
            samples["set_alias"].append((time.perf_counter() - start) / n * 1e6)
            start = time.perf_counter()
            for i in range(n):
                client.set_model_tag("bench", "k", str(i))
            samples["set_model_tag"].append((time.perf_counter() - start) / n * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        for name, us in measure(backend, args.n).items():
            print(f"{backend:<10} {name:<14} {us:8.0f} µs/call  (n={args.n}, median of 3)")


if __name__ == "__main__":
    main()
