"""Artifact write and read of a 100 MB model, with and without an encryption key.

Writes a model-like file of random float32 weights, then times, for both stores
in one run (their order alternating each repeat, each run in a fresh artifact
folder after an ``os.sync()`` so one run's dirty pages do not throttle the
next): ``put_file`` (hash, then store; sealed with a key) and reading it back
both ways a model load does, ``get_bytes`` (in memory, verified) and
``copy_to`` (a verified local copy).
Prints the medians and the ratio encrypted / plaintext; target <= 1.15.

    python benchmarks/encryption.py [--mb 100] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from shipyard.store.artifacts import ArtifactStore
from shipyard.store.encryption import Keyring, create_key_file

TARGET = 1.15


def _once(root: Path, model: Path, keyring: Keyring | None) -> tuple[float, float]:
    """Seconds to write, and to read back (in memory + to a local file)."""
    folder = root / "artifacts"
    shutil.rmtree(folder, ignore_errors=True)
    store = ArtifactStore(str(folder), keyring)
    os.sync()  # start clean: dirty pages of the last run would throttle this one's writes
    start = time.perf_counter()
    ref = store.put_file(model)
    written = time.perf_counter()
    data = store.get_bytes(ref.sha256)
    store.copy_to(ref.sha256, root / "copy.bin")
    read = time.perf_counter()
    assert len(data) == ref.size == (root / "copy.bin").stat().st_size
    (root / "copy.bin").unlink()
    return written - start, read - written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-enc-") as folder:
        root = Path(folder)
        model = root / "model.bin"
        weights = np.random.default_rng(0).standard_normal(args.mb * (1 << 20) // 4)
        model.write_bytes(weights.astype(np.float32).tobytes())
        keyring = Keyring(create_key_file(root / "bench.key"))
        times: dict[str, list[tuple[float, float]]] = {"plaintext": [], "encrypted": []}
        _once(root, model, None)  # warm the page cache and imports
        for repeat in range(args.repeats):
            order = [("plaintext", None), ("encrypted", keyring)]
            for name, keys in order if repeat % 2 == 0 else order[::-1]:
                times[name].append(_once(root, model, keys))
    medians = {
        name: (
            statistics.median(w for w, _ in runs),
            statistics.median(r for _, r in runs),
            statistics.median(w + r for w, r in runs),
        )
        for name, runs in times.items()
    }
    print(f"{args.mb} MB model, median of {args.repeats} (seconds)")
    print(f"{'':>10}  {'write':>7}  {'read':>7}  {'total':>7}")
    for name, (write, read, total) in medians.items():
        print(f"{name:>10}  {write:7.3f}  {read:7.3f}  {total:7.3f}")
    ratios = [e / p for e, p in zip(medians["encrypted"], medians["plaintext"], strict=True)]
    print(f"{'ratio':>10}  {ratios[0]:6.2f}x  {ratios[1]:6.2f}x  {ratios[2]:6.2f}x")
    verdict = "ok" if ratios[2] <= TARGET else "OVER TARGET"
    print(f"write + read: encrypted {ratios[2]:.2f}x plaintext (target <= {TARGET}x): {verdict}")


if __name__ == "__main__":
    main()
