"""``shipyard datasets add`` of a large Parquet file versus reading and hashing it.

Writes a 1M-row, 30-column Parquet file, then times (median of N, each in a
fresh workspace): (1) ``pyarrow.parquet.read_table`` plus sha256 of the file,
the floor any versioning tool pays; (2) ``Client.add_dataset`` (hash, read,
schema, profile, store, register). Prints both and the ratio; target <= 2.
Also checks that adding the same file again stores nothing new.

    python benchmarks/datasets.py [--rows 1000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from shipyard import Client
from shipyard.config import StoreSettings
from shipyard.store.artifacts import sha256_file


def _write(path: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    columns = {f"num_{i}": rng.normal(i, 1 + i / 10, rows) for i in range(25)}
    for i in range(5):
        columns[f"cat_{i}"] = rng.choice(["a", "b", "c", "d", "e"], rows)
    pq.write_table(pa.table(columns), path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.parquet"
        _write(path, args.rows)
        size = path.stat().st_size
        floor, add = [], []
        for repeat in range(args.repeats):
            started = time.perf_counter()
            pq.read_table(path)
            sha256_file(path)
            floor.append(time.perf_counter() - started)
            client = Client(settings=StoreSettings(home=Path(folder) / f"ws{repeat}"))
            started = time.perf_counter()
            record = client.add_dataset("big", path)
            add.append(time.perf_counter() - started)
            objects = client.settings.home / "artifacts" / "objects"
            before = sum(1 for _ in objects.rglob("*"))
            started = time.perf_counter()
            again = client.add_dataset("big", path)
            again_s = time.perf_counter() - started
            assert again.version == record.version == 1
            assert sum(1 for _ in objects.rglob("*")) == before
            client.close()
    floor_s, add_s = statistics.median(floor), statistics.median(add)
    print(
        f"\n{args.rows:,} rows x 30 columns Parquet ({size / 1e6:.0f} MB), median of {args.repeats}"
    )
    print(f"read_table + sha256 of the file: {floor_s:.3f} s   runs {[round(x, 3) for x in floor]}")
    print(f"shipyard datasets add:           {add_s:.3f} s   runs {[round(x, 3) for x in add]}")
    print(
        f"ratio add / (read + hash): {add_s / floor_s:.2f} (target <= 2); adding the same "
        f"file again: {again_s:.3f} s, nothing new stored"
    )


if __name__ == "__main__":
    main()
