"""What one audited mutation costs, on SQLite and PostgreSQL.

Two numbers per back end, each the best and the median of five fresh
workspaces (the best is the steadier one on a shared, busy machine):

- ``set_alias`` / ``set_model_tag``: N calls, each its own write transaction
  with one audit row, end to end (commit and fsync included);
- ``record_event``: N appends inside one transaction, the audit row alone.

Run it before and after a change to the audit trail::

    .venv/bin/python benchmarks/audit_overhead.py            # SQLite and PostgreSQL
    .venv/bin/python benchmarks/audit_overhead.py --n 200 --backend sqlite

PostgreSQL is ``SHIPYARD_TEST_PG_URL`` (default: the local test database); each
workspace uses a private schema, dropped afterwards.
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
from shipyard.store.audit import record_event

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


def measure(backend: str, n: int, repeats: int = 5) -> dict[str, tuple[float, float]]:
    """Microseconds per call, (best, median) over fresh workspaces."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 3)), rng.integers(0, 2, 50)
    model = LogisticRegression().fit(X, y)
    samples: dict[str, list[float]] = {"set_alias": [], "set_model_tag": [], "record_event": []}
    for _ in range(repeats):
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
            with client.store.db.write() as session:
                start = time.perf_counter()
                for i in range(n):
                    record_event(
                        session,
                        actor="bench",
                        action="alias.set",
                        object_type="model",
                        object_id="bench",
                        details={"alias": "champion", "version": i},
                    )
                samples["record_event"].append((time.perf_counter() - start) / n * 1e6)
    return {name: (min(v), statistics.median(v)) for name, v in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        for name, (best, median) in measure(backend, args.n).items():
            print(
                f"{backend:<10} {name:<14} best {best:6.0f} µs/call, median {median:6.0f}"
                f"  (n={args.n}, 5 repeats)"
            )


if __name__ == "__main__":
    main()
